// The crews' phone page: every action is sent as JSON with its own id (made here, once); without a
// connection it waits in this phone's queue (localStorage) and is sent when the connection returns —
// the server stores each id once, so a retry never doubles an action. A refusal (the outage was
// cancelled meanwhile, a position outside the service area…) is shown in words, from the server.
'use strict';
(function () {
  const QUEUE = 'zf-queue';
  const net = document.getElementById('net');
  const csrf = (document.querySelector('meta[name=csrf]') || {}).content || '';
  const result = document.querySelector('.result');

  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {});

  function newId() {
    if (window.crypto && crypto.randomUUID) return 'ph-' + crypto.randomUUID();
    return 'ph-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 12);
  }
  function load() { try { return JSON.parse(localStorage.getItem(QUEUE) || '[]'); } catch (e) { return []; } }
  function save(q) { localStorage.setItem(QUEUE, JSON.stringify(q)); }
  function say(text, bad) {
    if (!result) return;
    const line = document.createElement('span');
    line.className = bad ? 'error' : 'ok';
    line.textContent = text;
    result.appendChild(line);
  }
  function status() {
    const n = load().length;
    if (!navigator.onLine) { net.hidden = false; net.textContent = net.dataset.offline + (n ? ' ' + net.dataset.pending.replace('{n}', n) : ''); }
    else if (n) { net.hidden = false; net.textContent = net.dataset.pending.replace('{n}', n); }
    else net.hidden = true;
  }

  function where() {
    return new Promise((resolve) => {
      if (!navigator.geolocation) { resolve(null); return; }
      navigator.geolocation.getCurrentPosition((p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude }),
        () => resolve(null), { enableHighAccuracy: true, timeout: 4000, maximumAge: 60000 });
    });
  }

  async function send(item) {
    // true: answered (stored, or refused in words: either way it leaves the queue); false: no connection
    let r;
    try {
      r = await fetch(item.url, { method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify(item.body) });
    } catch (e) { return false; }
    let answer = {};
    try { answer = await r.json(); } catch (e) { answer = {}; }
    if (r.ok) say(answer.message || net.dataset.sent, false);
    else if (r.status === 401) { say(answer.error || net.dataset.failed, true); return false; }
    else say(answer.error || net.dataset.failed, true);
    if (item.button && r.ok) item.button.disabled = true;
    return r.ok ? 'ok' : 'refused';
  }

  let flushing = false;
  async function flush() {
    if (flushing || !navigator.onLine) { status(); return; }
    flushing = true;
    try {
      for (const item of load()) {
        const done = await send(item);
        if (done === false) break;
        save(load().filter((x) => x.body.event_id !== item.body.event_id));
      }
    } finally { flushing = false; status(); }
  }

  async function act(url, body, button) {
    body.event_id = newId();
    body.at = new Date().toISOString();
    const pos = await where();
    if (pos) { body.lat = pos.lat; body.lon = pos.lon; }
    const item = { url: url, body: body };
    const q = load(); q.push(item); save(q);             // kept first: a crash or a lost answer never loses it
    if (!navigator.onLine) { say(net.dataset.queued, false); if (button) button.disabled = true; status(); return; }
    if (button) button.disabled = true;
    const done = await send({ url: url, body: body, button: button });
    if (done === false) { say(net.dataset.queued, false); status(); return; }
    save(load().filter((x) => x.body.event_id !== body.event_id));
    if (done === 'refused' && button) button.disabled = false;
    status();
  }

  document.querySelectorAll('button.step, button.valve-act').forEach((b) => {
    b.addEventListener('click', () => act(b.dataset.url, { kind: b.dataset.kind }, b));
  });

  // photos: resized here to at most 1600 px (canvas → JPEG: the camera's EXIF stays on the phone), with
  // the time and position of the shot as fields
  const photos = [];
  function resize(file) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      const url = URL.createObjectURL(file);
      img.onload = () => {
        const k = Math.min(1, 1600 / Math.max(img.naturalWidth, img.naturalHeight));
        const c = document.createElement('canvas');
        c.width = Math.max(1, Math.round(img.naturalWidth * k)); c.height = Math.max(1, Math.round(img.naturalHeight * k));
        c.getContext('2d').drawImage(img, 0, 0, c.width, c.height);
        URL.revokeObjectURL(url);
        resolve(c.toDataURL('image/jpeg', 0.82));
      };
      img.onerror = () => { URL.revokeObjectURL(url); reject(new Error('not an image')); };
      img.src = url;
    });
  }
  const form = document.querySelector('form.resolve');
  if (form) {
    const input = form.querySelector('input[type=file]');
    const previews = form.querySelector('.previews');
    input.addEventListener('change', async () => {
      const pos = await where();
      for (const file of input.files) {
        let data;
        try { data = await resize(file); } catch (e) { data = null; }
        if (data === null) {            // not an image the phone can draw: sent as it is, the server says why
          data = await new Promise((res) => { const fr = new FileReader(); fr.onload = () => res(fr.result); fr.readAsDataURL(file); });
        }
        photos.push({ data: data, taken_at: new Date(file.lastModified || Date.now()).toISOString(),
          lat: pos ? pos.lat : null, lon: pos ? pos.lon : null });
        const im = document.createElement('img'); im.src = data.startsWith('data:image/') ? data : ''; im.alt = file.name;
        previews.appendChild(im);
      }
      input.value = '';
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const button = form.querySelector('button[type=submit]');
      const body = { kind: 'resolved', text: form.querySelector('textarea').value, photos: photos.splice(0) };
      await act(form.dataset.url, body, button);
    });
  }

  // signing out: the pages kept for offline (the crew's work orders) leave the phone; unsent actions stay
  const logout = document.querySelector('form.logout');
  if (logout) {
    logout.addEventListener('submit', (ev) => {
      if (!window.caches) return;
      ev.preventDefault();
      caches.keys().then((ks) => Promise.all(ks.filter((k) => k.startsWith('zf-pages-')).map((k) => caches.delete(k))))
        .finally(() => logout.submit());
    });
  }

  window.addEventListener('online', flush);
  window.addEventListener('offline', status);
  flush();
})();
