// The borrower app's only script: register the service worker so the app can be installed
// and opens its shell offline. Everything works without it.
"use strict";
if ("serviceWorker" in navigator) {
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(function () {});
  });
}
