/* Progressive enhancement for the video studio. Everything works without it; this makes it nicer. */
(function () {
  "use strict";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

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
      var limit = parseInt(area.getAttribute("maxlength") || "2500", 10);
      var update = function () {
        var n = area.value.length;
        count.textContent = n.toLocaleString("en");
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
        caption.textContent += " — larger than the " + (limit / 1048576) + " MB limit; choose a smaller image";
      }
      var kept = $("[data-kept-image]");
      if (kept) { kept.hidden = true; }
      var warnings = $("[data-preview-warnings]");
      if (warnings) {
        warnings.textContent = "";
        img.onload = function () {
          var w = img.naturalWidth, h = img.naturalHeight, notes = [];
          if (Math.min(w, h) < 300) {
            notes.push("The image is " + w + "x" + h + " px; Kling models want at least 300 px on each side and may refuse it.");
          }
          var ratio = Math.max(w, h) / Math.max(1, Math.min(w, h));
          if (ratio > 2.5) {
            notes.push("The image's aspect ratio is " + ratio.toFixed(1) + ":1; Kling models accept at most 2.5:1 and may refuse it.");
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
      if (form.getAttribute("data-sending") === "1") { event.preventDefault(); return; }
      form.setAttribute("data-sending", "1");
      var button = $("[data-submit]", form);
      if (button) { button.setAttribute("aria-busy", "true"); button.textContent = "Sending…"; }
    });
    window.addEventListener("pageshow", function () {   // back button: the form is usable again
      form.removeAttribute("data-sending");
      var button = $("[data-submit]", form);
      if (button) { button.removeAttribute("aria-busy"); button.textContent = "Create video"; }
    });
  }

  /* Show times in the reader's own time zone (the UTC text stays for no-JS readers). */
  function localTimes() {
    $all("time[data-local-time]").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (!isNaN(date)) {
        el.textContent = date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
        el.title = date.toISOString();
      }
    });
  }

  /* Follow a running job: ask our server (which asks the upstream at most about once a second),
     update the card in place, honour the upstream's polling hint, back off while nothing changes,
     and stop once the job has failed or its video is saved. */
  function followJob() {
    var card = $("[data-job-card]");
    if (!card || card.getAttribute("data-settled") === "true") { return; }
    var url = card.getAttribute("data-status-url");
    var base = 1000, delay = base, lastProgress = null;

    function apply(data) {
      var current = $("[data-job-card]");
      if (data.status !== current.getAttribute("data-status") ||
          data.archive !== current.getAttribute("data-archive") || data.finished) {
        var holder = document.createElement("div");
        holder.innerHTML = data.card_html;
        var fresh = holder.firstElementChild;
        current.parentNode.replaceChild(fresh, current);
        localTimes();
        return;
      }
      var bar = $("[data-progress]", current);
      if (bar) { bar.value = data.progress; }
      $all("[data-progress-text], [data-progress-fact]", current).forEach(function (el) {
        el.textContent = String(data.progress);
      });
    }

    function schedule() { window.setTimeout(poll, delay); }

    function poll() {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (resp) {
          if (!resp.ok) { throw new Error("HTTP " + resp.status); }
          return resp.json();
        })
        .then(function (data) {
          apply(data);
          if (data.finished) { return; }
          // The upstream's hint sets the pace; while nothing moves, wait longer each time (up to 10 s).
          var step = Math.max(500, data.poll_after_ms > 0 ? data.poll_after_ms : base);
          delay = data.progress !== lastProgress ? step : Math.min(Math.max(delay, step) * 1.5, 10000);
          lastProgress = data.progress;
          schedule();
        })
        .catch(function () {
          delay = Math.min(delay * 2, 30000);
          schedule();
        });
    }
    schedule();
  }

  /* Ask before deleting. */
  function confirmForms() {
    $all("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    followJob();
    confirmForms();
    focusErrorSummary();
    promptCounter();
    sizePresets();
    randomSeed();
    imagePreview();
    submitOnce();
    localTimes();
  });
}());
