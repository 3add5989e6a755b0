// tailguard borrower app service worker: caches the app shell (stylesheet, script, icon) so
// an installed app opens without a network; pages with money on them always come from the
// server (network first), and a cached copy is shown only when the network is down.
"use strict";
const SHELL = "tailguard-shell-v1";
const ASSETS = ["/static/style.css", "/static/app.js", "/static/icon.svg", "/app/manifest.json"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (cache) { return cache.addAll(ASSETS); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== SHELL; })
      .map(function (k) { return caches.delete(k); }));
  }));
});

self.addEventListener("fetch", function (event) {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) {
    return;
  }
  if (ASSETS.indexOf(new URL(request.url).pathname) >= 0) {
    event.respondWith(caches.match(request).then(function (hit) { return hit || fetch(request); }));
    return;
  }
  event.respondWith(fetch(request).catch(function () { return caches.match(request); }));
});
