// tend.js: the UI's only script of its own. Pages work without it; it adds
// two things.
//
// 1. Live regions. An element with data-live-stream (a Server-Sent Events
//    URL), data-live-src (a fragment URL) and data-live-target (an element
//    id) re-fetches the fragment into the target whenever the stream
//    reports a change, until the target says data-ended.
// 2. Focus. After htmx swaps in an evaluation's breakdown, focus moves to
//    its heading, so keyboard and screen-reader users land on what changed.
(function () {
  "use strict";

  function live(el) {
    var target = el.getAttribute("data-live-target");
    var src = el.getAttribute("data-live-src");
    var current = document.getElementById(target);
    if (!current || current.hasAttribute("data-ended") || !window.EventSource) {
      return;
    }
    var es = new EventSource(el.getAttribute("data-live-stream"));
    var busy = false, again = false;
    function refresh() {
      if (busy) { again = true; return; }
      busy = true;
      fetch(src, { credentials: "same-origin", headers: { "HX-Request": "true" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var old = document.getElementById(target);
          var doc = new DOMParser().parseFromString(html, "text/html");
          var next = doc.getElementById(target);
          if (old && next) {
            old.replaceWith(document.importNode(next, true));
            if (next.hasAttribute("data-ended")) { es.close(); }
          }
        })
        .catch(function () { /* the next change retries */ })
        .finally(function () {
          busy = false;
          if (again) { again = false; refresh(); }
        });
    }
    es.addEventListener("change", refresh);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live-stream]").forEach(live);
  });

  document.addEventListener("htmx:afterSettle", function (e) {
    var h = document.getElementById("breakdown-h");
    if (h && e.target && e.target.id === "evaluation-view") {
      h.setAttribute("tabindex", "-1");
      h.focus();
    }
  });
})();
