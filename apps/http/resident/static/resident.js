// Address suggestions: as the resident types, ask /api/addresses (after a short pause), show the list,
// and go to the address page on a pick (click, or arrows + Enter). Without JS the form still searches.
(function () {
  const box = document.getElementById('address');
  const list = document.getElementById('suggestions');
  if (!box || !list) return;
  const lang = box.dataset.lang || 'ru';
  let timer = null, seq = 0, items = [], active = -1;

  function close() { list.hidden = true; list.textContent = ''; items = []; active = -1; box.setAttribute('aria-expanded', 'false'); }
  function go(item) { window.location.href = '/address/' + encodeURIComponent(item.id) + '?lang=' + encodeURIComponent(lang); }
  function mark() {
    [...list.children].forEach((li, i) => li.setAttribute('aria-selected', i === active ? 'true' : 'false'));
  }
  function show(found) {
    list.textContent = '';
    items = found; active = -1;
    found.forEach((item) => {
      const li = document.createElement('li');
      li.setAttribute('role', 'option');
      li.textContent = item.address;            // text, never HTML
      li.addEventListener('mousedown', (e) => { e.preventDefault(); go(item); });
      list.appendChild(li);
    });
    list.hidden = found.length === 0;
    box.setAttribute('aria-expanded', found.length ? 'true' : 'false');
  }
  async function ask(q) {
    const mine = ++seq;
    try {
      const r = await fetch('/api/addresses?q=' + encodeURIComponent(q), { headers: { Accept: 'application/json' } });
      if (!r.ok || mine !== seq) return;
      const found = await r.json();
      if (mine === seq) show(Array.isArray(found) ? found : []);
    } catch (e) { /* offline or slowed down: the form still works */ }
  }
  box.addEventListener('input', () => {
    clearTimeout(timer);
    const q = box.value.trim();
    if (q.length < 2) { seq++; close(); return; }
    timer = setTimeout(() => ask(q), 200);
  });
  box.addEventListener('keydown', (e) => {
    if (list.hidden || !items.length) return;
    if (e.key === 'ArrowDown') { active = (active + 1) % items.length; mark(); e.preventDefault(); }
    else if (e.key === 'ArrowUp') { active = (active - 1 + items.length) % items.length; mark(); e.preventDefault(); }
    else if (e.key === 'Enter' && active >= 0) { e.preventDefault(); go(items[active]); }
    else if (e.key === 'Escape') { close(); }
  });
  box.addEventListener('blur', () => setTimeout(close, 150));
})();
