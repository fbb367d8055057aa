// Scan the shopper's spend code with the tablet's camera: the browser's own
// BarcodeDetector where it exists, else jsQR served from this server.
(function () {
  "use strict";
  var panel = document.querySelector(".scanner");
  var form = document.querySelector(".code-form");
  if (!panel || !form || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  panel.hidden = false;
  var video = panel.querySelector("video");
  var status = panel.querySelector(".scan-status");
  var input = form.querySelector("input[name=code]");
  var script = document.currentScript || document.querySelector("script[data-jsqr]");
  var jsqrUrl = script.getAttribute("data-jsqr");

  function found(text) {
    var digits = (text || "").replace(/\D/g, "");
    if (digits.length !== 8) return false;
    input.value = digits;
    form.submit();
    return true;
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
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.srcObject = stream;
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
