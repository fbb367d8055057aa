// Scan a QR code with the tablet's camera: the browser's own BarcodeDetector
// where it exists, else jsQR served from this server. Each input that takes a
// scan says how many digits it wants (data-scan-digits); with data-scan-submit
// its form is sent at once, else the field named by data-scan-focus gets the
// focus (a printed card's spending still needs the points and the PIN).
(function () {
  "use strict";
  var panel = document.querySelector(".scanner");
  if (!panel || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  var targets = document.querySelectorAll("input[data-scan-digits]");
  if (!targets.length) return;
  panel.hidden = false;
  var video = panel.querySelector("video");
  var status = panel.querySelector(".scan-status");
  var script = document.currentScript || document.querySelector("script[data-jsqr]");
  var jsqrUrl = script.getAttribute("data-jsqr");
  var stream = null;

  function stop() {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    video.hidden = true;
  }

  function found(text) {
    var digits = (text || "").replace(/\D/g, "");
    for (var i = 0; i < targets.length; i++) {
      var input = targets[i];
      if (String(digits.length) !== input.getAttribute("data-scan-digits")) continue;
      input.value = digits;
      stop();
      if (input.hasAttribute("data-scan-submit")) {
        input.form.submit();
      } else {
        var next = input.form.querySelector(input.getAttribute("data-scan-focus") || "input");
        status.textContent = status.getAttribute("data-found") || "";
        (next || input).focus();
      }
      return true;
    }
    return false;
  }

  function loadJsQR() {
    return new Promise(function (resolve, reject) {
      if (window.jsQR) return resolve(window.jsQR);
      var s = document.createElement("script");
      s.src = jsqrUrl;
      s.onload = function () { resolve(window.jsQR); };
      s.onerror = reject;
      document.head.appendChild(s);
    });
  }

  panel.querySelector("[data-start-camera]").addEventListener("click", function () {
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (media) {
      stream = media;
      video.srcObject = media;
      video.hidden = false;
      video.play();
      var detect;
      if ("BarcodeDetector" in window) {
        var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        detect = function () {
          return detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
        };
      } else {
        var canvas = document.createElement("canvas");
        var ctx = canvas.getContext("2d", { willReadFrequently: true });
        detect = function () {
          return loadJsQR().then(function (jsQR) {
            if (!video.videoWidth) return null;
            canvas.width = video.videoWidth;
            canvas.height = video.videoHeight;
            ctx.drawImage(video, 0, 0);
            var image = ctx.getImageData(0, 0, canvas.width, canvas.height);
            var code = jsQR(image.data, image.width, image.height);
            return code ? code.data : null;
          });
        };
      }
      var loop = function () {
        if (!stream) return;
        detect().then(function (text) {
          if (!found(text)) requestAnimationFrame(loop);
        }).catch(function () { requestAnimationFrame(loop); });
      };
      loop();
    }).catch(function () {
      status.textContent = status.getAttribute("data-denied") || "";
    });
  });
})();
