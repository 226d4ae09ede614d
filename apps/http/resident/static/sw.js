// The residents' page's service worker (scope /): the shell (start page, offline page, style, scripts,
// icons) is cached at install; pages are fetched from the network first and the last address viewed
// (its status page with the report form, and its tariffs) is kept for offline. Offline, a page comes
// from the cache, else the offline page. Nothing from another origin; API answers are never cached.
'use strict';
const VERSION = 'zr-1';
const SHELL = 'zr-shell-' + VERSION;
const PAGES = 'zr-pages-' + VERSION;
const SHELL_URLS = ['/', '/offline', '/static/resident.css', '/static/resident.js', '/static/app.js',
  '/static/icons/icon-192.png', '/manifest.webmanifest'];
const ADDRESS = /^\/address\/(\d+)(\/tariffs)?$/;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL).then((c) => c.addAll(SHELL_URLS)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== SHELL && k !== PAGES).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

async function remember(url, response) {
  const cache = await caches.open(PAGES);
  const m = ADDRESS.exec(url.pathname);
  if (m) {                                   // keep one address only: the last one viewed
    for (const req of await cache.keys()) {
      const other = ADDRESS.exec(new URL(req.url).pathname);
      if (other && other[1] !== m[1]) await cache.delete(req);
    }
  }
  await cache.put(url.pathname, response);
  if (m) {                                   // the offline page in the language just used
    const shell = await caches.open(SHELL);
    try { const r = await fetch('/offline', { credentials: 'same-origin' }); if (r.ok) await shell.put('/offline', r); }
    catch (e) { /* offline again */ }
  }
}

async function page(request) {
  const url = new URL(request.url);
  try {
    const response = await fetch(request);
    if (response.ok && (ADDRESS.test(url.pathname) || url.pathname === '/')) {
      await remember(url, response.clone());
    }
    return response;
  } catch (e) {
    const cached = (await caches.match(url.pathname, { cacheName: PAGES }))
      || (await caches.match(url.pathname, { cacheName: SHELL }));
    return cached || (await caches.match('/offline', { cacheName: SHELL })) || Response.error();
  }
}

async function asset(request) {
  // from the cache at once, refreshed from the network for the next time
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
  if (url.pathname.startsWith('/static/') || url.pathname === '/manifest.webmanifest') {
    event.respondWith(asset(request));
  }
});
