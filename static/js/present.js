/* Presentation mode (templates/present/present.html): the arrow keys move between the videos, the space
   bar plays and pauses, F or the button goes full screen. Without the script the links do the moving. */

import { $, $all, t } from "./dom.js";

export function presentation() {
  var root = $("[data-present]");
  if (!root) { return; }
  var slides = $all("[data-slide]", root), count = $("[data-present-count]", root);
  var one = root.classList.contains("present--one");
  var at = parseInt(root.getAttribute("data-at"), 10) || 0;

  function show(index) {
    if (!one || !slides.length) { return; }
    at = (index + slides.length) % slides.length;
    slides.forEach(function (slide, i) {
      slide.hidden = i !== at;
      var video = $("video", slide);
      if (video && i !== at) { video.pause(); }
    });
    var video = $("video", slides[at]);
    if (video) { video.play().catch(function () {}); }
    if (count) { count.textContent = t("slide_of", {num: at + 1, total: slides.length}); }
    var url = new URL(window.location.href);
    url.searchParams.set("at", String(at));
    window.history.replaceState(null, "", url.toString());
  }

  var prev = $("[data-present-prev]", root), next = $("[data-present-next]", root);
  if (prev) { prev.addEventListener("click", function (e) { e.preventDefault(); show(at - 1); }); }
  if (next) { next.addEventListener("click", function (e) { e.preventDefault(); show(at + 1); }); }

  var full = $("[data-fullscreen]", root);
  function fullscreen() {
    if (document.fullscreenElement) { document.exitFullscreen().catch(function () {}); }
    else if (document.documentElement.requestFullscreen) { document.documentElement.requestFullscreen().catch(function () {}); }
  }
  if (full && document.documentElement.requestFullscreen) {
    full.hidden = false;
    full.addEventListener("click", fullscreen);
  }

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    var target = event.target;
    if (target && target.tagName === "VIDEO") { target.blur(); }   // the page's keys, not the player's
    if (event.key === "ArrowRight" || event.key === "PageDown") { event.preventDefault(); show(at + 1); }
    else if (event.key === "ArrowLeft" || event.key === "PageUp") { event.preventDefault(); show(at - 1); }
    else if (event.key === "f" || event.key === "F") { fullscreen(); }
    else if (event.key === " ") {
      event.preventDefault();
      var videos = one ? [$("video", slides[at])] : $all("video", root);
      var paused = videos.some(function (v) { return v && v.paused; });
      videos.forEach(function (v) { if (v) { if (paused) { v.play().catch(function () {}); } else { v.pause(); } } });
    }
  });
  if (one) { show(at); }
}
