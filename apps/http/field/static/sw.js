// The crews' phone page's service worker (scope /): the shell (style, script, icons, offline page) is
// cached at install; the pages (today, a work order, an outage's sheet) come from the network first and
// are kept for offline. Offline, a page comes from the cache, else the offline page. API calls are never
// cached (the page queues them itself).
'use strict';
const VERSION = 'zf-1';
const SHELL = 'zf-shell-' + VERSION;
const PAGES = 'zf-pages-' + VERSION;
const SHELL_URLS = ['/offline', '/static/field.css', '/static/field.js', '/static/icons/icon-192.png',
  '/manifest.webmanifest'];
const KEPT = /^\/($|orders\/\d+$|outages\/\d+$)/;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL).then((c) => c.addAll(SHELL_URLS)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== SHELL && k !== PAGES).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

async function page(request) {
  const url = new URL(request.url);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected && KEPT.test(url.pathname)) {
      const cache = await caches.open(PAGES);
      await cache.put(url.pathname, response.clone());
    }
    return response;
  } catch (e) {
    return (await caches.match(url.pathname, { cacheName: PAGES }))
      || (await caches.match('/offline', { cacheName: SHELL })) || Response.error();
  }
}

async function asset(request) {
  const path = new URL(request.url).pathname;
  const cache = await caches.open(SHELL);
  const cached = await cache.match(path);
  const fresh = fetch(request).then((r) => { if (r.ok) cache.put(path, r.clone()); return r; });
  if (cached) { fresh.catch(() => {}); return cached; }
  return fresh;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return;
  if (request.mode === 'navigate') { event.respondWith(page(request)); return; }
  if (url.pathname.startsWith('/static/') || url.pathname === '/manifest.webmanifest') event.respondWith(asset(request));
});
