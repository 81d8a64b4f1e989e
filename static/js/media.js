/* Players and stages take the video's own shape: the box is as wide as the page allows and no taller
   than most of the screen, at the video's aspect ratio, so a square or portrait video has no black bands.
   The server writes the size it knows (data-ratio="W/H"); a video's own size replaces it once known. */

import { $all } from "./dom.js";

var TALLEST = "min(78vh, 960px)";

function ratioOf(text) {
  var parts = String(text || "").split("/");
  var w = parseFloat(parts[0]), h = parseFloat(parts[1]);
  return w > 0 && h > 0 ? w / h : 0;
}

function fit(el, ratio) {
  if (!(ratio > 0)) { return; }
  var tallest = el.getAttribute("data-tallest") || TALLEST;   // how tall the box may be, as CSS
  el.style.aspectRatio = String(ratio);
  el.style.maxWidth = "min(100%, calc(" + tallest + " * " + ratio.toFixed(5) + "))";
  el.style.height = "auto";
}

export function shapePlayers(root) {
  $all("[data-ratio]", root).forEach(function (el) {
    fit(el, ratioOf(el.getAttribute("data-ratio")));
    if (el.tagName === "VIDEO" && !el.getAttribute("data-shaped")) {
      el.setAttribute("data-shaped", "1");
      var own = function () { if (el.videoWidth && el.videoHeight) { fit(el, el.videoWidth / el.videoHeight); } };
      el.addEventListener("loadedmetadata", own);
      if (el.readyState >= 1) { own(); }
    }
  });
}
