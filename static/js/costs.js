/* What a job would cost, shown beside Create while the form is filled in, and the total of a comparison,
   from the model profiles' prices (the server keeps the same estimate with the job, app/catalog/prices.py).
   A model without a price says so: never zero. */

import { $, t } from "./dom.js";
import { profileFor } from "./form.js";

/* {amount, currency} or null, as app/catalog/prices.py estimate() works it out. */
export function estimateOf(profile, values) {
  var price = profile && profile.price;
  if (!price) { return null; }
  var size = values.width && values.height ? values.width + "x" + values.height : "";
  var perSecond = price.per_second, perVideo = price.per_video;
  if (size && price.by_size[size]) {
    if (price.by_size[size][0] !== null) { perSecond = price.by_size[size][0]; }
    if (price.by_size[size][1] !== null) { perVideo = price.by_size[size][1]; }
  }
  if (perSecond === null && perVideo === null) { return null; }
  var seconds = parseFloat(values.duration) || (profile.durations.length === 1 ? profile.durations[0] : 0);
  if (perSecond !== null && !seconds) { return null; }
  var count = Math.max(1, parseInt(values.n, 10) || 1);
  return {amount: ((perVideo || 0) + (perSecond || 0) * seconds) * count, currency: price.currency, seconds: seconds, size: size};
}

function money(amount, currency) {
  try {
    return new Intl.NumberFormat(t("lang"), {style: "currency", currency: currency}).format(amount);
  } catch (e) {
    return amount.toFixed(2) + " " + currency;
  }
}

export function estimates() {
  var line = $("[data-estimate]"), data = document.getElementById("model-profiles");
  if (!line || !data) { return; }
  var profiles = JSON.parse(data.textContent || "[]");
  var total = $("[data-compare-estimate]");
  var field = function (id) { var el = document.getElementById(id); return el ? el.value : ""; };

  function values(model) {
    return {model: model, duration: field("duration"), width: field("width"), height: field("height"), n: field("n")};
  }
  function update() {
    var model = field("model");
    var profile = profileFor(profiles, model), one = estimateOf(profile, values(model));
    line.hidden = false;
    line.textContent = !one ? (profile && profile.price ? t("needs_length") : t("price_unknown")) : (one.seconds && one.size
      ? t("estimate_full", {amount: money(one.amount, one.currency), seconds: one.seconds, size: one.size})
      : t("estimate_plain", {amount: money(one.amount, one.currency)}));
    if (!total) { return; }
    var mode = field("compare_mode"), text = field("compare_values");
    var items = mode === "prompts" ? text.split(/\n/) : text.split(/[\s,;]+/);
    items = items.map(function (s) { return s.trim(); }).filter(function (s, i, all) { return s && all.indexOf(s) === i; });
    if (!mode || items.length < 2) { total.textContent = ""; return; }
    var each = items.map(function (item) {
      var m = mode === "models" ? item : model;
      return estimateOf(profileFor(profiles, m), values(m));
    });
    var known = each.every(function (e) { return e; }) && each.every(function (e) { return e.currency === each[0].currency; });
    total.textContent = known
      ? t("estimate_total", {num: items.length, amount: money(each.reduce(function (sum, e) { return sum + e.amount; }, 0), each[0].currency)})
      : t("total_unknown", {num: items.length});
  }
  ["model", "duration", "width", "height", "n", "compare_mode", "compare_values"].forEach(function (id) {
    var el = document.getElementById(id);
    if (el) { el.addEventListener("input", update); el.addEventListener("change", update); }
  });
  document.addEventListener("click", function (event) {   // a size preset or an example fills the fields
    if (event.target.closest && event.target.closest("[data-preset-width]")) { window.setTimeout(update, 0); }
  });
  update();
}
