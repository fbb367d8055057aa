// The till's service worker: keeps the till page and its files for loading while
// the shop's internet is down. Network first, so an online till always shows the
// server's page; the copy is only for when the network fails.
"use strict";
var CACHE = "lokaal-sparen-till-v1";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

function keeps(url) {
  if (url.origin !== self.location.origin) return false;
  return url.pathname === "/portal/till" || url.pathname.indexOf("/static/") !== -1;
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (!keeps(url)) return;
  var kept = function () {
    return caches.match(request, { ignoreSearch: true, ignoreVary: true }).then(function (found) {
      return found || Response.error();
    });
  };
  // No network at all: the copy, without first waiting for a fetch to fail.
  if (!self.navigator.onLine) { event.respondWith(kept()); return; }
  event.respondWith(
    fetch(request).then(function (response) {
      // A redirect (signed out) or an error page is not the till page to keep.
      if (response.ok && !response.redirected && response.type === "basic") {
        var copy = response.clone();
        event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.put(request, copy); }));
      }
      return response;
    }).catch(kept)
  );
});
