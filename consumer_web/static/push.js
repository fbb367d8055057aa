// "Turn notifications on": the service worker's push subscription, with the server's
// VAPID public key, posted to the server with the page's CSRF token. Only with the
// shopper's click and the browser's permission; the page works without it.
(function () {
  "use strict";
  var box = document.querySelector("[data-push-key]");
  if (!box || !("serviceWorker" in navigator) || !("PushManager" in window)) return;
  box.hidden = false;
  var error = box.querySelector("[data-push-error]");

  // The key as the bytes PushManager.subscribe wants (it is base64url in the page).
  function keyBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    b64 += "===".slice((b64.length + 3) % 4);
    var raw = atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  box.querySelector("[data-push-on]").addEventListener("click", function () {
    error.hidden = true;
    var topics = Array.prototype.map.call(
      box.querySelectorAll("input[name=topic]:checked"), function (input) { return input.value; });
    if (!topics.length) { error.hidden = false; return; }
    navigator.serviceWorker.register("/sw.js", { scope: "/" })
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function (registration) {
        return registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: keyBytes(box.getAttribute("data-push-key")),
        });
      })
      .then(function (subscription) {
        return fetch(box.getAttribute("data-push-url"), {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": box.getAttribute("data-csrf") },
          body: JSON.stringify({ subscription: subscription.toJSON(), topics: topics }),
        });
      })
      .then(function (response) {
        if (!response.ok) throw new Error("refused");
        window.location.reload();
      })
      .catch(function () { error.hidden = false; });
  });
})();
