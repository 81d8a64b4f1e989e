/* The one loop that asks the server for news, shared by the job cards and the history. */

/* The one loop that asks the server for news: fetch options.url() (none: stop) as JSON, hand the answer
   to options.apply (it returns the next delay, or null to stop), back off on failure (options.failed
   returns the delay), and let options.special take answers that end the loop (it returns true). */
export function poller(options) {
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
