// Live refresh of the vmrepd status page: every 2 seconds it fetches the
// page again and swaps in its <main>. This is the page's only script;
// without it the page still works, and refreshes itself every 10 seconds.
(function () {
  "use strict";
  var root = document.documentElement;
  var live = document.getElementById("live");
  var busy = false;
  var count = 0;
  function say(text, cls) {
    if (live) {
      live.textContent = text;
      live.className = "live " + cls;
    }
  }
  function refresh() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    fetch(location.pathname, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) {
          throw new Error("HTTP " + r.status);
        }
        return r.text();
      })
      .then(function (text) {
        var next = new DOMParser().parseFromString(text, "text/html").querySelector("main");
        var cur = document.querySelector("main");
        if (!next || !cur) {
          throw new Error("no <main> in the answer");
        }
        cur.replaceWith(document.adoptNode(next));
        count++;
        root.setAttribute("data-refreshes", String(count));
        say("live", "ok");
      })
      .catch(function (e) {
        say("not updated: " + e.message, "stale");
      })
      .then(function () {
        busy = false;
      });
  }
  root.setAttribute("data-live", "on");
  // The style sheet sets --css-loaded: a sign for tests that the page's
  // Content-Security-Policy admitted both inline parts.
  if (getComputedStyle(root).getPropertyValue("--css-loaded").trim() === "1") {
    root.setAttribute("data-css", "ok");
  }
  say("live", "ok");
  setInterval(refresh, 2000);
})();
