// Till screen enhancements; without this file the forms still work.
(function () {
  "use strict";
  // The number pad works like a card terminal: digits come in from the right
  // with two decimals, so 2 3 5 0 reads "23,50". Typing in the field works too.
  var pad = document.querySelector(".pad");
  if (pad) {
    var input = document.getElementById(pad.getAttribute("data-target"));
    var cents = "";
    var show = function () {
      var n = cents.replace(/^0+/, "");
      if (!n) { input.value = ""; return; }
      n = n.padStart(3, "0");
      input.value = n.slice(0, -2) + "," + n.slice(-2);
    };
    pad.hidden = false;
    input.addEventListener("input", function () { cents = input.value.replace(/\D/g, ""); });
    pad.addEventListener("click", function (event) {
      var key = event.target.closest("[data-key]");
      if (!key) return;
      var k = key.getAttribute("data-key");
      if (k === "⌫") cents = cents.slice(0, -1);
      else if (cents.length < 7) cents += k;
      show();
    });
  }

  // The sale screen turns green when the shopper's phone claims: no reload.
  var screen = document.querySelector(".sale-screen[data-status-url]");
  if (screen && screen.getAttribute("data-state") === "open") {
    var state = screen.querySelector(".state");
    var timer = setInterval(function () {
      fetch(screen.getAttribute("data-status-url"), { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data || data.status === "open") return;
          clearInterval(timer);
          screen.setAttribute("data-state", data.status);
          var p = document.createElement("p");
          if (data.status === "claimed") p.className = "big-ok";
          p.textContent = state.getAttribute("data-" + data.status + "-text");
          state.replaceChildren(p);
          // As the page reads when loaded now: no more cancelling, card or camera.
          var video = screen.querySelector(".scanner video");
          if (video && video.srcObject) video.srcObject.getTracks().forEach(function (t) { t.stop(); });
          screen.querySelectorAll(".cancel, .card-form, .scanner").forEach(function (form) { form.remove(); });
          var next = screen.querySelector(".next-sale");
          if (next) next.focus();
        })
        .catch(function () { /* a network hiccup: the next poll tries again */ });
    }, 1000);
  }
})();
