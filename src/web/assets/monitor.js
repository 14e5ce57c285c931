// The live monitor: events from the switch, applied once a frame.
(function () {
  const texts = JSON.parse(document.getElementById('texts').textContent);
  const skew = Date.now() - texts.now;
  let pending = [];
  let scheduled = false;
  const tr = (s) => texts[s] || s;

  function lineEvent(e) {
    const tile = document.getElementById('line-' + e.line);
    if (!tile) return;
    if (e.event === 'calls') {
      tile.dataset.state = e.state;
      const st = tile.querySelector('.state');
      st.textContent = tr(e.state);
      st.className = 'state state-' + e.state.replace(' ', '-');
    } else if (e.event === 'settings') {
      tile.querySelector('.dnd').hidden = !e.dnd;
      tile.querySelector('.fwd').hidden = !e.forwarding;
    }
  }

  function callEvent(e) {
    const body = document.querySelector('#calls tbody');
    let row = document.getElementById('call-' + e.call);
    if (e.event === 'started') {
      if (row) return;
      row = document.createElement('tr');
      row.id = 'call-' + e.call;
      row.dataset.since = e.at;
      for (const text of [e.from, e.to, tr('ringing'), '']) {
        const td = document.createElement('td');
        td.textContent = text;
        row.appendChild(td);
      }
      row.children[2].className = 'callstate';
      row.children[3].className = 'duration';
      body.appendChild(row);
    } else if (!row) {
      return;
    } else if (e.event === 'answered' || e.event === 'taken') {
      row.dataset.since = e.at;
      row.querySelector('.callstate').textContent = tr('in call');
    } else if (e.event === 'ended') {
      row.remove();
    }
    queueEvent(e);
  }

  // Callers waiting per queue: joined at `queued`, gone when taken or ended.
  const waitingIn = new Map();
  function queueEvent(e) {
    if (e.event === 'queued') {
      waitingIn.set(e.call, { queue: e.queue, at: e.at });
    } else if ((e.event === 'taken' || e.event === 'answered' || e.event === 'ended') && waitingIn.has(e.call)) {
      waitingIn.delete(e.call);
    } else {
      return;
    }
    drawQueues();
  }
  function drawQueues() {
    for (const row of document.querySelectorAll('#wallboard tr[data-queue]')) {
      const q = row.dataset.queue;
      const times = [...waitingIn.values()].filter((w) => w.queue === q).map((w) => w.at);
      row.querySelector('.waiting').textContent = times.length;
      row.querySelector('.longest').dataset.oldest = times.length ? Math.min(...times) : 0;
    }
  }

  function trunkEvent(e) {
    const t = document.querySelector('[data-trunk="' + CSS.escape(e.trunk) + '"] .status');
    if (t) t.textContent = e.status;
  }

  // How long events waited for the frame that drew them (the latest batches).
  const waits = [];
  function apply() {
    scheduled = false;
    const batch = pending;
    pending = [];
    const now = performance.now();
    for (const e of batch) {
      waits.push(now - e.queuedAt);
      if (waits.length > 100000) waits.shift();
      if (e.type === 'line') lineEvent(e);
      else if (e.type === 'call') callEvent(e);
      else if (e.type === 'trunk') trunkEvent(e);
    }
  }

  function fmt(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
  }
  function tick() {
    const now = Date.now() - skew;
    for (const td of document.querySelectorAll('#calls .duration')) {
      td.textContent = fmt(now - Number(td.parentElement.dataset.since));
    }
    for (const td of document.querySelectorAll('#wallboard .longest')) {
      const oldest = Number(td.dataset.oldest);
      td.textContent = oldest ? fmt(now - oldest) : '–';
    }
  }

  // Callers already waiting when the page was drawn, by their calls (the events
  // that follow name the same calls).
  for (const row of document.querySelectorAll('#wallboard tr[data-queue]')) {
    const calls = row.querySelector('.waiting').dataset.calls;
    if (!calls) continue;
    for (const pair of calls.split(',')) {
      const [call, at] = pair.split(':');
      waitingIn.set(Number(call), { queue: row.dataset.queue, at: Number(at) });
    }
  }

  function enqueue(e) {
    e.queuedAt = performance.now();
    pending.push(e);
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(apply);
    }
  }
  // For measuring (benches): feed events as the socket would, read the waits.
  window.pbxMonitor = { push: enqueue, waits: () => waits.slice(), backlog: () => pending.length };

  function connect() {
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/web/monitor/events');
    ws.onopen = () => { document.body.dataset.live = 'yes'; };
    ws.onmessage = (m) => enqueue(JSON.parse(m.data));
    ws.onclose = () => { document.body.dataset.live = 'no'; setTimeout(connect, 2000); };
  }
  connect();
  tick();
  setInterval(tick, 1000);
})();
