/* A nudge when a job is ready: opt-in browser notifications (the Notification API) when a job followed on
   this page finishes or fails while the tab is in the background, and the tab's icon says it too. The
   choice is kept in this browser (localStorage); nothing is sent anywhere. */

import { $, $all, t } from "./dom.js";

var KEY = "studio-notify";

function wanted() {
  try { return window.localStorage.getItem(KEY) === "1" && window.Notification && Notification.permission === "granted"; }
  catch (e) { return false; }
}

/* The "Tell me when it is ready" buttons on running jobs' cards (a card replaced by a newer one gets it too). */
export function notifyButtons(root) {
  if (!("Notification" in window)) { return; }
  $all("[data-notify]", root).forEach(function (button) {
    button.hidden = false;
    if (wanted()) { button.textContent = t("notify_on"); button.disabled = true; return; }
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function (answer) {
        if (answer === "granted") {
          try { window.localStorage.setItem(KEY, "1"); } catch (e) { /* private mode: for this page only */ }
          button.textContent = t("notify_on");
          button.disabled = true;
        } else {
          button.textContent = t("notify_blocked");
        }
      });
    });
  });
}

/* A followed job has just finished (status "completed" or "failed"): the tab's icon, and a notification
   when the person asked for them and is looking elsewhere. */
export function jobFinished(status, prompt, url, single) {
  var ok = status === "completed";
  if (single) {
    var icon = $("link[rel=icon]");
    if (icon) { icon.href = icon.getAttribute(ok ? "data-done" : "data-failed"); }
  }
  if (!wanted() || (!document.hidden && document.hasFocus())) { return; }
  var note = new Notification(ok ? t("notify_ready") : t("notify_failed"), {body: prompt || "", tag: url || ""});
  note.onclick = function () { window.focus(); if (url) { window.location.href = url; } note.close(); };
}
