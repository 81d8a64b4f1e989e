/* Progressive enhancement for the video studio. Everything works without it; this makes it nicer. */
(function () {
  "use strict";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  /* Words the script writes, in the page's language (base.html writes them into #ui-text). */
  var uiText = null;
  function t(key, values) {
    if (uiText === null) {
      var node = document.getElementById("ui-text");
      uiText = node ? JSON.parse(node.textContent || "{}") : {};
    }
    return String(uiText[key] || key).replace(/%\((\w+)\)s/g, function (all, name) {
      return values && name in values ? String(values[name]) : all;
    });
  }

  /* Focus the error summary so keyboard and screen-reader users land on it (GOV.UK pattern). */
  function focusErrorSummary() {
    var summary = $("[data-error-summary]");
    if (summary) { summary.focus(); }
  }

  /* Live character count for the prompt. */
  function promptCounter() {
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
  function sizePresets() {
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

  /* The chosen model's profile (config/model-profiles.toml, written into the page): its limits under the
     model, the allowed durations offered, size presets it does not take dimmed. The server checks the
     same profile, so this only saves a round trip. */
  function modelProfiles() {
    var model = $("[data-profiled-model]"), data = document.getElementById("model-profiles");
    var hint = $("[data-profile-hint]"), duration = document.getElementById("duration");
    if (!model || !data || !hint) { return; }
    var profiles = JSON.parse(data.textContent || "[]");
    var list = document.createElement("datalist");
    list.id = "duration-options";
    document.body.appendChild(list);
    function glob(pattern) {
      return new RegExp("^" + pattern.toLowerCase().replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*") + "$");
    }
    function update() {
      var id = model.value.trim().toLowerCase(), found = null;
      profiles.some(function (p) {
        if (id && p.models.some(function (m) { return glob(m).test(id); })) { found = p; return true; }
        return false;
      });
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
      $all("[data-preset-width]").forEach(function (chip) {
        var size = chip.getAttribute("data-preset-width") + "x" + chip.getAttribute("data-preset-height");
        chip.classList.toggle("is-unsupported", !!(found && found.sizes.length && found.sizes.indexOf(size) < 0));
      });
    }
    model.addEventListener("input", update);
    model.addEventListener("change", update);
    update();
  }

  /* A random seed at the press of a button. */
  function randomSeed() {
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
  function imagePreview() {
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
  function submitOnce() {
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

  /* Show times in the reader's own time zone (the UTC text stays for no-JS readers). */
  function localTimes() {
    $all("time[data-local-time]").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (!isNaN(date)) {
        el.textContent = date.toLocaleString(t("lang"), { dateStyle: "medium", timeStyle: "medium" });
        el.title = date.toISOString();
      }
    });
  }

  /* "Last checked 12 s ago", kept current between polls. The server's clock is the reference. */
  var clockOffset = 0;
  function agoText(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 90) { return t("seconds_ago", {num: seconds}); }
    if (seconds < 5400) { return t("minutes_ago", {num: Math.round(seconds / 60)}); }
    return t("hours_ago", {num: Math.round(seconds / 3600)});
  }
  function durationText(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 90) { return t("seconds", {num: seconds}); }
    if (seconds < 5400) { return t("minutes", {num: Math.round(seconds / 60)}); }
    return t("hours", {num: Math.round(seconds / 3600)});
  }
  function tickCheckedClocks() {
    var now = (Date.now() + clockOffset) / 1000;
    $all("[data-timing]").forEach(function (el) {
      var elapsed = $("[data-elapsed]", el), started = parseFloat(el.getAttribute("data-started"));
      if (elapsed && started > 0) { elapsed.textContent = durationText(now - started); }
    });
    $all("[data-checked-at]").forEach(function (el) {
      var at = parseFloat(el.getAttribute("data-checked-at"));
      if (at > 0) { el.textContent = agoText(now - at); }
    });
  }

  function showLiveProblem(text) {
    var box = $("[data-live-problem]");
    if (!box) { return; }
    if (text) { box.textContent = text; box.hidden = false; } else { box.hidden = true; box.textContent = ""; }
  }

  /* Follow every job card on the page (one on a job's page, several on a comparison). Our server only
     reads what its follower stored (it never waits on the video API), so asking every second or two is
     cheap. A card is replaced when its state changes; on a job's page the tab title follows the status,
     and the page says so when it loses contact or the job is gone. */
  function followJobs() {
    var cards = $all("[data-job-card]");
    var single = cards.length === 1;
    cards.forEach(function (card) {
      if (card.getAttribute("data-settled") !== "true") { followCard(card, single); }
    });
    if (cards.length) { window.setInterval(tickCheckedClocks, 1000); }
    showPlayAll();
  }

  function followCard(card, single) {
    var url = card.getAttribute("data-status-url");
    var started = Date.now(), current = card;

    function signature(data) {
      return [data.status, data.archive, data.stalled ? "true" : "false", data.check_error || ""].join("|");
    }

    function apply(data) {
      clockOffset = data.now * 1000 - Date.now();
      if (single && data.title) { document.title = data.title; }
      if (single && data.url && window.location.pathname !== data.url && window.history.replaceState) {
        window.history.replaceState(null, "", data.url);    // the job now has the video API's id
      }
      if (signature(data) !== current.getAttribute("data-sig") || data.finished) {
        var holder = document.createElement("div");
        holder.innerHTML = data.card_html;
        var fresh = holder.firstElementChild;
        current.parentNode.replaceChild(fresh, current);
        current = fresh;
        confirmForms(fresh);
        localTimes();
        showPlayAll();
      } else {
        var bar = $("[data-progress]", current);
        if (bar) { bar.value = data.progress; }
        $all("[data-progress-text], [data-progress-fact]", current).forEach(function (el) {
          el.textContent = String(data.progress);
        });
        var checked = $("[data-checked-at]", current);
        if (checked && data.checked_at) { checked.setAttribute("data-checked-at", String(data.checked_at)); }
      }
      tickCheckedClocks();
    }

    function nextDelay() {
      var age = Date.now() - started;
      return age < 120000 ? 1000 : (age < 600000 ? 3000 : 10000);
    }

    poller({
      delay: 1000,
      url: function () { return url; },
      special: function (resp) {
        if (resp.status === 404) {
          showLiveProblem(t("deleted"));
          if (single) { document.title = t("deleted_title"); }
          return true;
        }
        if (resp.status === 401 || resp.status === 403) {
          showLiveProblem(t("session_ended"));
          return true;
        }
        return false;
      },
      apply: function (data) {
        showLiveProblem("");
        apply(data);
        return data.finished ? null : nextDelay();
      },
      failed: function (failures) {
        if (failures >= 2) { showLiveProblem(t("lost_contact")); }
        return Math.min(1000 * Math.pow(2, failures), 30000);
      }
    });
  }

  /* The one loop that asks the server for news: fetch options.url() (none: stop) as JSON, hand the answer
     to options.apply (it returns the next delay, or null to stop), back off on failure (options.failed
     returns the delay), and let options.special take answers that end the loop (it returns true). */
  function poller(options) {
    var failures = 0;
    function poll() {
      var url = options.url();
      if (!url) { return; }
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (resp) {
          if (options.special && options.special(resp)) { return; }
          if (!resp.ok) { throw new Error("HTTP " + resp.status); }
          return resp.json().then(function (data) {
            failures = 0;
            var next = options.apply(data);
            if (next !== null) { window.setTimeout(poll, next); }
          });
        })
        .catch(function () {
          failures += 1;
          window.setTimeout(poll, options.failed(failures));
        });
    }
    window.setTimeout(poll, options.delay);
  }

  /* On a comparison: play every finished video from the start, together. */
  function showPlayAll() {
    var button = $("[data-play-all]");
    if (!button) { return; }
    button.hidden = $all("video[data-video]").length < 2;
    if (button.getAttribute("data-bound")) { return; }
    button.setAttribute("data-bound", "1");
    button.addEventListener("click", function () {
      $all("video[data-video]").forEach(function (video) {
        video.muted = true;
        video.currentTime = 0;
        video.play().catch(function () {});
      });
    });
  }

  /* History rows of unfinished jobs update in place. */
  function followHistory() {
    var list = $("[data-history-live-url]");
    if (!list) { return; }
    var url = list.getAttribute("data-history-live-url"), started = Date.now(), live = [];
    poller({
      delay: 2000,
      url: function () {
        live = $all("[data-history-row][data-live='true']", list);
        if (!live.length) { return null; }
        return url + "?" + live.map(function (row) {
          return "id=" + encodeURIComponent(row.getAttribute("data-job-id"));
        }).join("&");
      },
      apply: function (data) {
        live.forEach(function (row) {
          var state = data.rows[row.getAttribute("data-job-id")];
          if (!state) { row.setAttribute("data-live", "false"); return; }
          var holder = document.createElement("ul");
          holder.innerHTML = state.row_html;
          var fresh = holder.firstElementChild;
          if (fresh && fresh.getAttribute("data-sig") !== row.getAttribute("data-sig")) {
            row.parentNode.replaceChild(fresh, row);
            hoverPlay(fresh);    // the new row plays on hover like the one it replaced
          }
        });
        localTimes();
        // Rows of long or stuck jobs need no second-by-second updates: ask less often as time goes by.
        return Date.now() - started < 120000 ? 2000 : 10000;
      },
      failed: function (failures) { return Math.min(2000 * Math.pow(2, failures), 30000); }
    });
  }

  /* History cards play their video (muted) while pointed at or focused: every row, or the one given. */
  function hoverPlay(only) {
    (only ? [only] : $all("[data-history-row]")).forEach(function (row) {
      var video = $("video[data-hover-play]", row);
      if (!video) { return; }
      var play = function () { video.play().catch(function () {}); };
      var stop = function () { video.pause(); };
      row.addEventListener("mouseenter", play);
      row.addEventListener("mouseleave", stop);
      row.addEventListener("focusin", play);
      row.addEventListener("focusout", stop);
    });
  }

  /* Copy a code snippet to the clipboard, and say so. */
  function copyButtons() {
    $all("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        if (!source || !navigator.clipboard) { return; }
        navigator.clipboard.writeText(source.textContent).then(function () {
          button.textContent = t("copied");
          window.setTimeout(function () { button.textContent = t("copy"); }, 2000);
        });
      });
    });
  }

  /* Ask before deleting. */
  function confirmForms(root) {
    $all("form[data-confirm]", root).forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    followJobs();
    followHistory();
    copyButtons();
    hoverPlay();
    confirmForms();
    focusErrorSummary();
    promptCounter();
    sizePresets();
    randomSeed();
    modelProfiles();
    imagePreview();
    submitOnce();
    localTimes();
  });
}());
