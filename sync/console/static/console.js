// CinePass console: the only script. No framework, no CDN (offices run on an intranet).
// 1. [data-live]: fetch the server-rendered fragment every data-interval ms and swap it in.
// 2. form[data-confirm]: ask before a change (freeze).
// 3. form[data-busy]: a progress bar while a long POST runs.
// 4. [data-back]: go back in history instead of to the home page.
"use strict";
(function () {
  function live(el) {
    var url = el.getAttribute("data-live");
    var every = parseInt(el.getAttribute("data-interval") || "2000", 10);
    var busy = false;
    function tick() {
      if (busy || document.hidden) { return; }
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) {
          if (r.redirected || r.status === 401 || r.status === 403) { window.location.reload(); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (html !== null && html !== undefined) {
            var tpl = document.createElement("template");
            tpl.innerHTML = html;
            var next = tpl.content.querySelector("#live-body");
            var cur = el.querySelector("#live-body");
            if (next && cur) { cur.replaceWith(next); el.setAttribute("data-updated", String(Date.now())); }
          }
        })
        .catch(function () { /* network blip: try again next tick */ })
        .then(function () { busy = false; });
    }
    window.setInterval(tick, every);
  }
  // form[data-busy]: while a long POST runs (signing a batch), show the progress bar
  // and keep the button from being pressed twice.
  function busy(f) {
    if (!f.hasAttribute("data-busy")) { return; }
    var bar = f.querySelector("progress.busy");
    if (bar) { bar.hidden = false; bar.title = f.getAttribute("data-busy"); }
    f.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(live);
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (ev) {
        if (!window.confirm(f.getAttribute("data-confirm"))) { ev.preventDefault(); return; }
        busy(f);
      });
    });
    document.querySelectorAll("[data-back]").forEach(function (a) {
      a.addEventListener("click", function (ev) {
        if (window.history.length > 1) { ev.preventDefault(); window.history.back(); }
      });
    });
  });
})();
