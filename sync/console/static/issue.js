// CinePass console: the progress of a batch being issued (plain JS, no framework, no CDN).
// #job[data-state] names the job's state.json; poll it every second, move the bar, and
// when the batch is done go to it on the issue page (its downloads are there).
"use strict";
(function () {
  function follow(box) {
    var url = box.getAttribute("data-state");
    var bar = document.getElementById("job-bar");
    var count = document.getElementById("job-count");
    var phase = document.getElementById("job-phase");
    var message = document.getElementById("job-message");
    var busy = false;
    function show(s) {
      bar.max = s.total; bar.value = s.done;
      count.textContent = s.done + " / " + s.total;
      phase.textContent = phase.getAttribute("data-" + s.phase) || s.phase;
      if (s.message) { message.textContent = s.message; }
      box.setAttribute("data-status", s.status);
      if (s.status === "failed") { phase.className = "alert"; message.className = "alert"; }
    }
    var timer = window.setInterval(function () {
      if (busy) { return; }
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) {
          if (r.redirected || r.status === 401 || r.status === 403) { window.location.reload(); return null; }
          return r.ok ? r.json() : null;
        })
        .then(function (s) {
          if (!s) { return; }
          show(s);
          if (s.status !== "running") { window.clearInterval(timer); }
          if (s.status === "done" && s.next) { window.location.assign(s.next); }
        })
        .catch(function () { /* a network blip: ask again on the next tick */ })
        .then(function () { busy = false; });
    }, 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("job");
    if (box && box.getAttribute("data-status") === "running") { follow(box); }
  });
})();
