// CinePass console: the progress of a batch being issued (plain JS, no framework, no CDN).
// #job[data-state] names the job's state.json: ask it once a second (the next question
// only after the answer), move the bar, and when the batch is done go to it on the issue
// page, where its downloads are.
"use strict";
(function () {
  function follow(box) {
    var url = box.getAttribute("data-state");
    var el = function (id) { return document.getElementById(id); };
    var phase = el("job-phase");
    function show(s) {
      el("job-bar").max = s.total;
      el("job-bar").value = s.done;
      el("job-count").textContent = s.done + " / " + s.total;
      phase.textContent = phase.getAttribute("data-" + s.phase) || s.phase;
      if (s.message) { el("job-message").textContent = s.message; }
      box.setAttribute("data-status", s.status);
      if (s.status === "failed") { phase.className = el("job-message").className = "alert"; }
      if (s.status === "done" && s.next) { window.location.assign(s.next); }
      return s.status === "running";
    }
    function ask() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) {
          if (r.redirected) { window.location.reload(); }  // logged out meanwhile
          return r.status === 200 && !r.redirected ? r.json() : { status: "running", lost: r.status };
        })
        .then(function (s) {
          if (s.lost === 401 || s.lost === 403) { window.location.reload(); return; }
          if (s.lost || show(s)) { window.setTimeout(ask, 1000); }
        }, function () { window.setTimeout(ask, 2000); });  // a network blip: ask again
    }
    window.setTimeout(ask, 500);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("job");
    if (box && box.getAttribute("data-status") === "running") { follow(box); }
  });
})();
