// Installable wallet: keep the look (CSS, script, icons) offline; pages and
// balances always come from the server, never from a stale cache.
const CACHE = "lokaal-sparen-v2";
const ASSETS = [
  "/static/consumer/app.css",
  "/static/consumer/app.js",
  "/static/consumer/icon.svg",
  "/static/consumer/icon-192.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((keys) =>
      Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k)))
    )
  );
  self.clients.claim();
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.startsWith("/static/consumer/")) {
    event.respondWith(
      caches.match(event.request).then((hit) => hit || fetch(event.request))
    );
  }
});

// Web Push: the server's message (JSON: title, body, url on this site) as a notification.
self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = {};
  }
  event.waitUntil(
    self.registration.showNotification(data.title || "Lokaal Sparen", {
      body: data.body || "",
      icon: "/static/consumer/icon-192.png",
      data: { url: data.url || "/wallet" },
    })
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/wallet", location.origin);
  if (url.origin !== location.origin) return; // only ever open this site
  event.waitUntil(self.clients.openWindow(url.href));
});
