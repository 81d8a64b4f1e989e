/* Live pages: job cards and history rows that follow their jobs, and the "checked 12 s ago" clocks. */

import { $, $all, t, localTimes } from "./dom.js";
import { poller } from "./poller.js";
import { shapePlayers } from "./media.js";
import { jobFinished, notifyButtons } from "./nudge.js";
import { confirmForms, hoverPlay, showPlayAll } from "./widgets.js";

/* "Last checked 12 s ago", kept current between polls. The server's clock is the reference. */
let clockOffset = 0;
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
export function followJobs() {
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
  var started = Date.now(), current = card, notified = false;

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
      var details = $("[data-card-details]", current), freshDetails = $("[data-card-details]", fresh);
      if (details && freshDetails) { freshDetails.open = details.open; }   // unfolded stays unfolded
      current.parentNode.replaceChild(fresh, current);
      current = fresh;
      confirmForms(fresh);
      shapePlayers(fresh);
      notifyButtons(fresh);
      if (data.finished && (data.status === "completed" || data.status === "failed") && !notified) {
        notified = true;
        jobFinished(data.status, current.getAttribute("data-prompt"), data.url, single);
      }
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

/* History rows of unfinished jobs update in place. */
export function followHistory() {
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
