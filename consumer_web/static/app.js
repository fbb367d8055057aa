// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // The spend code: a live countdown and "used at <shop>" without reloading.
  var screen = document.querySelector("[data-status-url]");
  if (screen) {
    var countdown = screen.querySelector("[data-expires]");
    var outcome = screen.querySelector(".outcome");
    var expires = countdown ? Date.parse(countdown.getAttribute("data-expires")) : 0;
    var finished = screen.getAttribute("data-state") !== "held";
    var tick = function () {
      if (finished || !countdown) return;
      var left = Math.max(0, Math.round((expires - Date.now()) / 1000));
      var clock = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      countdown.textContent = countdown.getAttribute("data-left-text").replace("__TIME__", clock);
      if (left === 0) poll();
    };
    var show = function (state) {
      if (state.status === "held") return;
      finished = true;
      screen.setAttribute("data-state", state.status);
      var text;
      if (state.status === "confirmed") {
        text = outcome.getAttribute("data-used-text").replace("__SHOP__", state.merchant || "");
      } else if (state.status === "cancelled") {
        text = outcome.getAttribute("data-cancelled-text");
      } else {
        text = countdown.getAttribute("data-expired-text");
      }
      var p = document.createElement("p");
      if (state.status === "confirmed") p.className = "done";
      p.textContent = text;
      outcome.replaceChildren(p);
      var cancel = screen.querySelector(".cancel");
      if (cancel) cancel.remove();
    };
    var poll = function () {
      if (finished) return;
      fetch(screen.getAttribute("data-status-url"), { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (state) { if (state) show(state); })
        .catch(function () { /* offline for a moment: try again at the next tick */ });
    };
    if (!finished) {
      tick();
      setInterval(tick, 1000);
      setInterval(poll, 2000);
    }
    // Keep the phone's screen on while the cashier scans, where supported.
    if (navigator.wakeLock && !finished) navigator.wakeLock.request("screen").catch(function () {});
  }

  // "Copy the code" buttons appear only where the clipboard works.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      navigator.clipboard.writeText(source.textContent.trim());
    });
  });

  // A printable voucher's "Print" button: shown only with script, as it needs it.
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
  }
})();
