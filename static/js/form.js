/* The job form: the prompt's counter, size presets, the model's profile, a random seed, the picture's
preview and one click on submit. The server checks everything again; this only saves round trips. */

import { $, $all, t } from "./dom.js";

/* Focus the error summary so keyboard and screen-reader users land on it (GOV.UK pattern). */
export function focusErrorSummary() {
  var summary = $("[data-error-summary]");
  if (summary) { summary.focus(); }
}

/* Live character count for the prompt. */
export function promptCounter() {
  $all("[data-counter]").forEach(function (area) {
    var counter = document.getElementById(area.getAttribute("data-counter"));
    if (!counter) { return; }
    var count = $("[data-count]", counter);
    var limit = parseInt(area.getAttribute("maxlength"), 10) || Infinity;   // rendered from the form's validator
    var update = function () {
      var n = area.value.length;
      count.textContent = n.toLocaleString(t("lang"));
      counter.classList.toggle("is-over", n >= limit);
    };
    area.addEventListener("input", update);
    update();
  });
}

/* Size presets fill width and height, and show which one is chosen. */
export function sizePresets() {
  var width = document.getElementById("width"), height = document.getElementById("height");
  var chips = $all("[data-preset-width]");
  if (!width || !height || !chips.length) { return; }
  var sync = function () {
    chips.forEach(function (chip) {
      var on = chip.getAttribute("data-preset-width") === width.value &&
               chip.getAttribute("data-preset-height") === height.value;
      chip.setAttribute("aria-pressed", on ? "true" : "false");
    });
  };
  chips.forEach(function (chip) {
    chip.addEventListener("click", function () {
      width.value = chip.getAttribute("data-preset-width");
      height.value = chip.getAttribute("data-preset-height");
      sync();
    });
  });
  width.addEventListener("input", sync);
  height.addEventListener("input", sync);
  sync();
}

/* The first profile whose model patterns (fnmatch's *, case-insensitive) match the model id, or null:
   the server's Profiles.match (app/catalog/profiles.py). */
export function profileFor(profiles, model) {
  var id = (model || "").trim().toLowerCase();
  function glob(pattern) {
    return new RegExp("^" + pattern.toLowerCase().replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*") + "$");
  }
  return profiles.find(function (p) {
    return id && p.models.some(function (m) { return glob(m).test(id); });
  }) || null;
}

/* The chosen model's profile (config/model-profiles.toml, written into the page): its limits under the
   model, the allowed durations offered, size presets it does not take dimmed. The server checks the
   same profile, so this only saves a round trip. */
export function modelProfiles() {
  var model = $("[data-profiled-model]"), data = document.getElementById("model-profiles");
  var hint = $("[data-profile-hint]"), duration = document.getElementById("duration");
  if (!model || !data || !hint) { return; }
  var profiles = JSON.parse(data.textContent || "[]");
  var list = document.createElement("datalist");
  list.id = "duration-options";
  document.body.appendChild(list);
  function update() {
    var found = profileFor(profiles, model.value);
    hint.textContent = "";
    if (!found) {
      hint.textContent = hint.getAttribute("data-no-profile");
    } else {
      var strong = document.createElement("strong");
      strong.textContent = found.label + ":";
      hint.appendChild(strong);
      hint.appendChild(document.createTextNode(" " + found.summary));
    }
    $all("[data-extras-for]").forEach(function (group) {
      group.hidden = !(found && group.getAttribute("data-extras-for") === found.id);
    });
    list.textContent = "";
    (found ? found.durations : []).forEach(function (d) {
      var option = document.createElement("option");
      option.value = String(d);
      list.appendChild(option);
    });
    if (duration) {
      if (found && found.durations.length) { duration.setAttribute("list", list.id); } else { duration.removeAttribute("list"); }
    }
    // A model with a longest length or a largest side: the browser checks them too, before sending.
    [["duration", found && found.max_seconds], ["width", found && found.max_side], ["height", found && found.max_side]].forEach(function (pair) {
      var input = document.getElementById(pair[0]);
      if (!input) { return; }
      if (!input.hasAttribute("data-max")) { input.setAttribute("data-max", input.getAttribute("max") || ""); }
      var max = pair[1] || input.getAttribute("data-max");
      if (max) { input.setAttribute("max", String(max)); } else { input.removeAttribute("max"); }
    });
    $all("[data-preset-width]").forEach(function (chip) {
      var w = parseInt(chip.getAttribute("data-preset-width"), 10), h = parseInt(chip.getAttribute("data-preset-height"), 10);
      var size = w + "x" + h;
      var unsupported = !!(found && found.sizes.length && found.sizes.indexOf(size) < 0) ||
        !!(found && found.max_side && (w > found.max_side || h > found.max_side));
      chip.classList.toggle("is-unsupported", unsupported);
    });
  }
  model.addEventListener("input", update);
  model.addEventListener("change", update);
  update();
}

/* A random seed at the press of a button. */
export function randomSeed() {
  var button = $("[data-random-seed]"), seed = document.getElementById("seed");
  if (!button || !seed) { return; }
  button.addEventListener("click", function () {
    var values = new Uint32Array(1);
    window.crypto.getRandomValues(values);
    seed.value = String(values[0] % 2147483647);
    seed.dispatchEvent(new Event("input"));
  });
}

/* Preview the chosen file before it is sent, and warn early about a file that is too large. */
export function imagePreview() {
  var form = $("[data-job-form]"), input = document.getElementById("image_file");
  var figure = $("[data-preview]"), img = $("[data-preview-img]"), caption = $("[data-preview-caption]");
  if (!form || !input || !figure) { return; }
  var limit = parseInt(form.getAttribute("data-max-upload") || "0", 10);
  var objectUrl = null;
  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    if (objectUrl) { URL.revokeObjectURL(objectUrl); objectUrl = null; }
    if (!file) { return; }
    objectUrl = URL.createObjectURL(file);
    img.src = objectUrl;
    figure.hidden = false;
    var mb = (file.size / 1048576).toFixed(1);
    caption.textContent = file.name + " · " + mb + " MB";
    if (limit && file.size > limit) {
      caption.textContent += " — " + t("too_large", {limit: limit / 1048576});
    }
    var kept = $("[data-kept-image]");
    if (kept) { kept.hidden = true; }
    var warnings = $("[data-preview-warnings]");
    if (warnings) {
      warnings.textContent = "";
      img.onload = function () {
        var w = img.naturalWidth, h = img.naturalHeight, notes = [];
        // The rules come from the server (app/images.py), written into the form's data-* attributes.
        var minSide = parseFloat(form.getAttribute("data-kling-min-side")) || 0;
        var maxRatio = parseFloat(form.getAttribute("data-kling-max-ratio")) || Infinity;
        if (Math.min(w, h) < minSide) {
          notes.push(t("small_image", {width: w, height: h, side: minSide}));
        }
        var ratio = Math.max(w, h) / Math.max(1, Math.min(w, h));
        if (ratio > maxRatio) {
          notes.push(t("wide_image", {ratio: ratio.toFixed(1), limit: maxRatio}));
        }
        notes.forEach(function (text) {
          var li = document.createElement("li");
          li.textContent = text;
          warnings.appendChild(li);
        });
      };
    }
  });
}

/* One click on submit: show that it is working and do not send twice. */
export function submitOnce() {
  var form = $("[data-job-form]");
  if (!form) { return; }
  form.addEventListener("submit", function (event) {
    var by = event.submitter;
    if (by && (by.hasAttribute("data-as-code") || by.name === "lang")) { return; }   // nothing is sent
    if (form.getAttribute("data-sending") === "1") { event.preventDefault(); return; }
    form.setAttribute("data-sending", "1");
    var button = $("[data-submit]", form);
    if (button) {
      button.setAttribute("data-idle-text", button.textContent);
      button.setAttribute("aria-busy", "true");
      button.textContent = button.getAttribute("data-sending-text");
    }
  });
  window.addEventListener("pageshow", function () {   // back button: the form is usable again
    form.removeAttribute("data-sending");
    var button = $("[data-submit]", form);
    if (button && button.hasAttribute("data-idle-text")) {
      button.removeAttribute("aria-busy");
      button.textContent = button.getAttribute("data-idle-text");
    }
  });
}
