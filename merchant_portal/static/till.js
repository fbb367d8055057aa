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

  // The till during an outage. While online the page keeps a batch of claim
  // codes in the browser's storage; offline, a sale takes the next one, shows
  // its QR code and queues (token, amount, time); when the connection is back
  // the queue is sent (each sale is recorded once, however often it is sent)
  // and the batch refilled. A service worker keeps the page for loading offline.
  // Its own scope: the number pad above has a show() and the sale screen a state.
  (function () {
    var box = document.querySelector(".offline-till");
    var saleForm = document.querySelector(".sale-form");
    if (box && saleForm && window.localStorage && window.fetch) {
      var BATCH = 10;
      var KEY = "lokaalSparen.offlineTill." + box.getAttribute("data-shop");
      var statusLine = document.querySelector(".offline-status");
      var screenBox = box.querySelector(".offline-sale");
      var grid = document.querySelector(".till-grid");
      var amountInput = document.getElementById("amount");
      var stored = null;
      try { stored = JSON.parse(localStorage.getItem(KEY) || "null"); } catch (e) { stored = null; }
      var state = stored && Array.isArray(stored.codes) && Array.isArray(stored.queue)
        ? stored : { till: null, codes: [], queue: [] };
      var reachable = navigator.onLine;
      var busy = false;
      var confirming = null;
      var save = function () { localStorage.setItem(KEY, JSON.stringify(state)); };
      var text = function (name, count) {
        return box.getAttribute("data-" + name + "-text").replace("{count}", String(count));
      };
      var dropExpired = function () {
        var soon = Date.now() + 60 * 1000;
        state.codes = state.codes.filter(function (c) { return Date.parse(c.expires_at) > soon; });
      };
      var show = function () {
        dropExpired();
        var parts = [];
        if (!reachable) parts.push(text("offline", 0));
        if (state.queue.length) parts.push(text("waiting", state.queue.length));
        parts.push(text("ready", state.codes.length));
        statusLine.textContent = parts.join(" · ");
        box.setAttribute("data-codes", String(state.codes.length));
        box.setAttribute("data-queued", String(state.queue.length));
      };
      var post = function (url, body) {
        return fetch(box.getAttribute("data-token-url"), { credentials: "same-origin", cache: "no-store" })
          .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
          .then(function (token) {
            return fetch(url, {
              method: "POST", credentials: "same-origin", cache: "no-store",
              headers: { "Content-Type": "application/json", "X-CSRFToken": token.csrf },
              body: JSON.stringify(body)
            });
          })
          .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); });
      };
      var refill = function () {
        dropExpired();
        if (state.codes.length >= BATCH) return Promise.resolve();
        return post(box.getAttribute("data-batch-url"), { till: state.till, have: state.codes.length })
          .then(function (data) {
            state.till = data.till;
            state.codes = state.codes.concat(data.codes);
            save();
          });
      };
      var sync = function () {
        if (busy) return;
        busy = true;
        var sending = state.queue.slice();
        var sent = sending.length
          ? post(box.getAttribute("data-sales-url"), { till: state.till, sales: sending })
              .then(function (data) {
                // Recorded or refused for good (expired, unknown): either way done.
                var done = {};
                data.results.forEach(function (r) { done[r.token] = true; });
                state.queue = state.queue.filter(function (s) { return !done[s.token]; });
                save();
              })
          : Promise.resolve();
        sent.then(refill)
          .then(function () { reachable = true; })
          .catch(function (error) {
            // fetch rejects (a TypeError) only when the server cannot be reached;
            // an HTTP error (signed out) leaves the till online. The queue waits.
            if (error instanceof TypeError) reachable = false;
          })
          .then(function () { busy = false; show(); });
      };
      var parseCents = function (typed) {
        var t = typed.replace(/[\s€]/g, "");
        if (t.indexOf(",") !== -1) t = t.replace(/\./g, "").replace(",", ".");
        else if (/^\d{1,3}(\.\d{3})+$/.test(t)) t = t.replace(/\./g, "");
        if (!/^\d+(\.\d{1,2})?$/.test(t)) return null;
        return Math.round(parseFloat(t) * 100);
      };
      var formatEuro = function (cents) {
        var lang = (document.documentElement.lang || "nl").slice(0, 2);
        return new Intl.NumberFormat(lang + "-BE", { style: "currency", currency: "EUR" })
          .format(cents / 100);
      };
      var sayError = function (message) {
        var old = saleForm.querySelector(".offline-error");
        if (old) old.remove();
        var p = document.createElement("p");
        p.className = "error offline-error";
        p.setAttribute("role", "alert");
        p.textContent = message;
        amountInput.insertAdjacentElement("afterend", p);
      };
      var offlineSale = function () {
        var cents = parseCents(amountInput.value);
        if (cents === null || cents <= 0 || cents > 500000) { sayError(box.getAttribute("data-amount-text")); return; }
        if (cents < 100) { sayError(box.getAttribute("data-too-small-text")); return; }
        var stampsInput = document.getElementById("stamps");
        if (stampsInput && Number(stampsInput.value) > 0) { sayError(box.getAttribute("data-no-stamps-text")); return; }
        // As online: a large amount is confirmed by giving points a second time
        // for the same amount ("450000" for 4.500,00 is the classic slip of a till).
        if (cents > Number(box.getAttribute("data-confirm-above")) && confirming !== cents) {
          confirming = cents;
          sayError(box.getAttribute("data-confirm-text").replace("{amount}", formatEuro(cents)));
          return;
        }
        confirming = null;
        dropExpired();
        var code = state.codes.shift();
        if (!code) { sayError(box.getAttribute("data-none-left-text")); return; }
        state.queue.push({ token: code.token, amount_cents: cents, sold_at: new Date().toISOString() });
        save();
        var old = saleForm.querySelector(".offline-error");
        if (old) old.remove();
        var line = screenBox.querySelector(".amount-line");
        line.textContent = line.getAttribute("data-text").replace("{amount}", formatEuro(cents));
        // The server made the SVG; parsed as SVG, never as HTML.
        var svg = new DOMParser().parseFromString(code.qr_svg, "image/svg+xml").documentElement;
        screenBox.querySelector(".qr").replaceChildren(document.importNode(svg, true));
        grid.hidden = true;
        screenBox.hidden = false;
        show();
        screenBox.querySelector(".next-sale").focus();
      };
      screenBox.querySelector(".next-sale").addEventListener("click", function () {
        screenBox.hidden = true;
        screenBox.querySelector(".qr").replaceChildren();
        grid.hidden = false;
        amountInput.value = "";
        amountInput.dispatchEvent(new Event("input"));
        amountInput.focus();
      });
      saleForm.addEventListener("submit", function (event) {
        if (navigator.onLine && reachable) return;  // the server makes the claim, as always
        event.preventDefault();
        offlineSale();
      });
      window.addEventListener("offline", function () { reachable = false; show(); });
      window.addEventListener("online", sync);
      // navigator.onLine says only that there is a network, not that the server is
      // reachable through it (the shop's router up, its line down): ask now and then.
      setInterval(function () {
        if (!navigator.onLine) return;  // the "online" event comes first
        fetch(box.getAttribute("data-token-url"), { credentials: "same-origin", cache: "no-store" })
          .then(function (r) {
            if (!r.ok) throw new Error(String(r.status));
            var was = reachable;
            reachable = true;
            if (!was || state.queue.length || state.codes.length < BATCH) sync(); else show();
          })
          .catch(function () { reachable = false; show(); });
      }, 15000);
      if ("serviceWorker" in navigator && window.caches && navigator.onLine) {
        navigator.serviceWorker.register(box.getAttribute("data-worker-url"), { scope: box.getAttribute("data-scope") })
          .then(function () {
            // The worker keeps what passes through it from now on; this page and
            // its files came before it, so they are kept here, under its cache name.
            var urls = [location.pathname];
            document.querySelectorAll("link[rel=stylesheet], link[rel=icon], script[src]")
              .forEach(function (el) { urls.push(el.getAttribute("href") || el.getAttribute("src")); });
            return caches.open(box.getAttribute("data-cache")).then(function (cache) {
              return Promise.all(urls.map(function (url) {
                return fetch(url, { credentials: "same-origin" }).then(function (r) {
                  if (r.ok && !r.redirected) return cache.put(url, r);
                });
              }));
            });
          })
          .catch(function () { /* no offline loading of the page; the batch still works */ });
      }
      box.hidden = false;
      show();
      if (navigator.onLine) sync();
    }
  })();
})();
