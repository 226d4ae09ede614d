// The residents' page as an app: registers the service worker (/sw.js), remembers the last address
// viewed, and keeps a report written without a connection on this device (localStorage) until the
// connection returns; then sends it once to POST /api/reports with its own id (client_id, a UUID):
// the server stores a second send of the same id as nothing new. Texts come from the page (data-*).
(function () {
  'use strict';
  const QUEUE = 'zr_queue', LAST = 'zr_last';
  const note = document.getElementById('queue-note');
  const lang = (note && note.dataset.lang) || document.documentElement.lang || 'ru';

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => { /* the page works without */ });
  }

  function read(key, fallback) {
    try { const v = JSON.parse(localStorage.getItem(key) || 'null'); return v === null ? fallback : v; }
    catch (e) { return fallback; }
  }
  function write(key, value) { try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* full */ } }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }
  function say(text, href) {
    if (!note) return;
    const p = document.createElement('p');
    if (href) { const a = document.createElement('a'); a.href = href; a.textContent = text; p.appendChild(a); }
    else p.textContent = text;                       // text, never HTML
    note.appendChild(p);
    note.hidden = false;
    if (note.scrollIntoView) note.scrollIntoView({ block: 'nearest' });   // the form is far below it
  }
  function showPending() {
    if (!note) return;
    const n = read(QUEUE, []).length;
    let p = note.querySelector('p.pending');
    if (!n) { if (p) p.remove(); if (!note.children.length) note.hidden = true; return; }
    if (!p) { p = document.createElement('p'); p.className = 'pending'; note.prepend(p); }
    p.textContent = (note.dataset.pending || '{n}').replace('{n}', String(n));
    note.hidden = false;
  }

  // the last address viewed: the offline page links to it
  const title = document.getElementById('address-title');
  const form = document.getElementById('report');
  if (title && form) write(LAST, { url: location.pathname + '?lang=' + lang, address: title.textContent.trim() });
  const last = document.getElementById('last-address');
  const lastSeen = read(LAST, null);
  if (last && lastSeen && typeof lastSeen.url === 'string' && /^\/address\/\d+\?lang=(ru|en)$/.test(lastSeen.url)) {
    const a = last.querySelector('a'); a.href = lastSeen.url; a.textContent = String(lastSeen.address || '');
    last.hidden = false;
  }

  // a report written offline: queued here, sent when the connection returns
  if (form) {
    form.addEventListener('submit', (e) => {
      if (navigator.onLine) return;                  // online: the ordinary form post
      e.preventDefault();
      const item = {
        client_id: uuid(), building_id: Number(form.dataset.building),
        service_code: form.elements.service_code.value, description: form.elements.description.value,
        lang: lang, written_at: new Date().toISOString(),
      };
      const q = read(QUEUE, []); q.push(item); write(QUEUE, q);
      form.elements.description.value = '';
      say(note ? note.dataset.queued : '');
      showPending();
    });
  }

  let busy = false, retry = null, wait = 2000;
  function later() {                                 // not sent yet: try again, less and less often
    if (retry || !read(QUEUE, []).length) return;
    retry = setTimeout(() => { retry = null; flush(); }, wait);
    wait = Math.min(wait * 2, 60000);
  }
  async function token() {
    const r = await fetch('/api/csrf', { credentials: 'same-origin', cache: 'no-store' });
    if (!r.ok) throw new Error('csrf ' + r.status);
    return (await r.json()).csrf;
  }
  function drop(id) { write(QUEUE, read(QUEUE, []).filter((x) => x && x.client_id !== id)); }
  async function flush() {
    if (busy || !read(QUEUE, []).length) return;
    if (!navigator.onLine) { later(); return; }
    busy = true;
    let done = false;
    try {
      let csrf = await token();
      for (;;) {
        const item = read(QUEUE, [])[0];
        if (!item) break;
        let r = null;
        for (let attempt = 0; attempt < 2; attempt++) {
          r = await fetch('/api/reports', {
            method: 'POST', credentials: 'same-origin', cache: 'no-store',
            headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify(item),
          });
          if (r.status !== 403 || attempt) break;
          csrf = await token();                      // the cookie changed meanwhile: once more
        }
        if (r.status === 200 || r.status === 201) {
          const got = await r.json();
          drop(item.client_id);
          say((note.dataset.sent || '{id}').replace('{id}', String(got.id)), got.url);
        } else if (r.status >= 400 && r.status < 500 && ![403, 408, 429].includes(r.status)) {
          let why = '';
          try { const body = await r.json(); why = (body.problems || []).join('; ') || body.error || ''; } catch (e) { /* */ }
          drop(item.client_id);                      // refused: said, not retried forever
          say((note.dataset.refused || '{why}').replace('{why}', why));
        } else {
          break;                                     // slowed down or server trouble: later
        }
      }
      done = !read(QUEUE, []).length;
    } catch (e) {
      /* still offline: the queue stays */
    } finally {
      busy = false;
      showPending();
      if (done) wait = 2000; else later();
    }
  }
  window.addEventListener('online', flush);
  showPending();
  flush();
})();
