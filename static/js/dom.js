/* The page's shared helpers: finding elements, the words the script writes, times in the reader's zone. */

export function $(selector, root) { return (root || document).querySelector(selector); }
export function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

/* Words the script writes, in the page's language (base.html writes them into #ui-text). */
let uiText = null;
export function t(key, values) {
  if (uiText === null) {
    var node = document.getElementById("ui-text");
    uiText = node ? JSON.parse(node.textContent || "{}") : {};
  }
  return String(uiText[key] || key).replace(/%\((\w+)\)s/g, function (all, name) {
    return values && name in values ? String(values[name]) : all;
  });
}

/* Show times in the reader's own time zone (the UTC text stays for no-JS readers). */
export function localTimes() {
  $all("time[data-local-time]").forEach(function (el) {
    var date = new Date(el.getAttribute("datetime"));
    if (!isNaN(date)) {
      el.textContent = date.toLocaleString(t("lang"), { dateStyle: "medium", timeStyle: "medium" });
      el.title = date.toISOString();
    }
  });
}
