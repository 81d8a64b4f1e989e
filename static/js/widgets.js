/* Small helpers on the history, comparison and code pages: hover to play, play all, copy, confirm. */

import { $, $all, t } from "./dom.js";

/* On a comparison: play every finished video from the start, together. */
export function showPlayAll() {
  var present = $("[data-present-link]");
  if (present && $all("video[data-video]").length) { present.hidden = false; }
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

/* History cards play their video (muted) while pointed at or focused: every row, or the one given. */
export function hoverPlay(only) {
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
export function copyButtons() {
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
export function confirmForms(root) {
  $all("form[data-confirm]", root).forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
}

/* On a phone the history's filters start folded unless one is in use, so the first video is in view. */
export function foldFilters() {
  var fold = $("[data-filters-fold]");
  if (fold && !fold.hasAttribute("data-active") && window.matchMedia("(max-width: 760px)").matches) {
    fold.open = false;
  }
}
