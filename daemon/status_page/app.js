// cml-reconciler status page (design section 13). Reads the same JSON as `cml-reconciler
// status`: GET api/v1/status, then live updates from api/v1/events (Server-Sent Events,
// `event: model`, `data: ENTRY`), falling back to polling when the daemon has no event stream.
// Everything the daemon sends is inserted as text, never as markup. Updates are coalesced into
// one render per animation frame, and a render touches only the rows whose content changed, so
// that a burst of a thousand events costs one pass over the table.
'use strict';
(() => {
  const POLL_MS = 3000;             // polling period without an event stream
  const SNAPSHOT_REFRESH_MS = 30000; // full refresh with an event stream (header, removals)
  const EVENTS_RETRY_MS = 60000;    // how often a polling page tries the event stream again
  const CLOCK_TICK_MS = 5000;       // relative times ("12 s ago") refresh
  const TOKEN_KEY = 'cmlr-admin-token';
  const HISTORY_SHOWN = 20;
  const FRAME_BUDGET_MS = 10;       // work per animation frame before yielding to the browser

  const SYNC = {
    Synced: ['b-ok', '\u2713'], OutOfSync: ['b-warn', '\u2260'], Unknown: ['b-unknown', '?'],
  };
  const HEALTH = {
    Healthy: ['b-ok', '\u2665'], Progressing: ['b-info', '\u21BB'], Degraded: ['b-bad', '\u2715'],
    Suspended: ['b-muted', '\u2016'], Missing: ['b-warn', '\u2205'], Unknown: ['b-unknown', '?'],
  };
  const VERIFY = { Passed: ['b-ok', '\u2713'], Failed: ['b-bad', '\u2715'], Pending: ['b-info', '\u2026'] };
  // Lower is worse: the order of "Problems first" and of the health column.
  const HEALTH_RANK = { Degraded: 0, Missing: 1, Unknown: 2, Progressing: 3, Suspended: 5, Healthy: 6 };
  const SYNC_RANK = { OutOfSync: 0, Unknown: 1, Synced: 2 };
  const CHIPS = [
    ['attention', 'Needs attention', 'b-bad', '!'],
    ['sync:Synced', 'Synced', ...SYNC.Synced], ['sync:OutOfSync', 'OutOfSync', ...SYNC.OutOfSync],
    ['sync:Unknown', 'Sync unknown', ...SYNC.Unknown],
    ['health:Healthy', 'Healthy', ...HEALTH.Healthy],
    ['health:Progressing', 'Progressing', ...HEALTH.Progressing],
    ['health:Degraded', 'Degraded', ...HEALTH.Degraded],
    ['health:Suspended', 'Suspended', ...HEALTH.Suspended],
    ['health:Missing', 'Missing', ...HEALTH.Missing],
    ['health:Unknown', 'Health unknown', ...HEALTH.Unknown],
    ['stalled', 'Stalled', 'b-bad', '\u25A0'],
  ];
  const COLUMNS = ['Name', 'Sync', 'Health', 'Version', 'Replicas', 'Last action', 'Message',
    'Next check'];

  const $ = (id) => document.getElementById(id);
  const ui = {
    conn: $('conn'), revision: $('revision'), desired: $('desired'), updated: $('updated'),
    counts: $('counts'), filter: $('filter'), sort: $('sort'), sortDir: $('sort-dir'),
    summary: $('summary'), error: $('error'), rows: $('rows'), empty: $('empty'),
    table: $('models'), detail: $('detail'), detailTitle: $('detail-title'),
    detailBadges: $('detail-badges'), detailBody: $('detail-body'), retry: $('btn-retry'),
    reconcile: $('btn-reconcile'), close: $('btn-close'), tokenDialog: $('token-dialog'),
    tokenForm: $('token-form'), tokenInput: $('token-input'), tokenNote: $('token-note'),
    tokenCancel: $('token-cancel'), forgetToken: $('forget-token'),
    reconcileAll: $('reconcile-all'), toast: $('toast'),
  };

  // name -> {entry, view, row, seq}; row is created lazily on the first render.
  const models = new Map();
  const dirty = new Set();     // names whose row must be refreshed
  const removed = new Set();   // names whose row must go
  let orderDirty = true;       // filter, sort or membership changed
  let shownOrder = [];         // names in the DOM's order
  let frameRequested = false;
  let seq = 0;                 // bumps on every applied change; snapshots older than an event lose
  let revision = null;
  let desiredState;            // undefined: the daemon does not report it
  let lastUpdate = 0;
  let mode = 'connecting';     // events | polling | connecting | down
  let source = null;
  let pollTimer = 0;
  let refreshTimer = 0;
  let lastFetchMs = 0;
  let openName = null;
  let openJson = '';
  let pendingOpen = null;      // a model named in the address that has not arrived yet
  let returnFocus = null;
  let pendingEvents = 0;        // events applied since the last render
  let pendingSince = 0;         // when the first of the events not yet on screen arrived
  const inbox = [];             // event data not parsed yet
  let chipFilter = '';
  let textFilter = [];
  let sortKey = 'name';
  let sortAsc = true;
  let toastTimer = 0;

  const stats = {
    renders: 0, lastRenderMs: 0, maxRenderMs: 0, eventsReceived: 0, eventsRendered: 0,
    snapshots: 0, renderLog: [],
  };

  // ---- small DOM helpers -------------------------------------------------------------------
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else node.setAttribute(k, v === true ? '' : v);
      }
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }
  function badge(kind, word, table) {
    const [cls, icon] = (table && table[word]) || ['b-unknown', '?'];
    return el('span', { class: `badge ${cls}`, 'data-state': word },
      el('span', { class: 'icon', 'aria-hidden': 'true', text: icon }), `${word}`);
  }
  function parseTime(t) {
    if (!t) return NaN;
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? NaN : ms;
  }
  function relative(ms, now) {
    if (Number.isNaN(ms)) return '';
    const d = Math.round((ms - now) / 1000);
    const a = Math.abs(d);
    let s;
    if (a < 60) s = `${a} s`;
    else if (a < 3600) s = `${Math.round(a / 60)} min`;
    else if (a < 86400) s = `${Math.round(a / 3600)} h`;
    else s = `${Math.round(a / 86400)} d`;
    return d >= 0 ? `in ${s}` : `${s} ago`;
  }
  function nextText(ms, now) {
    if (Number.isNaN(ms)) return 'not scheduled';
    return ms <= now ? 'due now' : relative(ms, now);
  }
  function absolute(t) {
    const ms = parseTime(t);
    return Number.isNaN(ms) ? '' : new Date(ms).toISOString().replace('.000Z', 'Z');
  }
  function short(s, n) { return s && s.length > n ? `${s.slice(0, n)}\u2026` : (s || ''); }
  function durationText(h) {
    if (typeof h.durationMs === 'number') return `${Math.round(h.durationMs)} ms`;
    if (typeof h.durationSeconds === 'number') {
      return h.durationSeconds < 1 ? `${Math.round(h.durationSeconds * 1000)} ms`
        : `${h.durationSeconds.toFixed(1)} s`;
    }
    return '';
  }

  // ---- the view of one ENTRY: what the row shows, computed once per change -------------------
  function derive(e) {
    const cond = {};
    for (const c of e.conditions || []) cond[c.type] = c;
    const stalled = !!(cond.Stalled && cond.Stalled.status === 'True');
    const history = Array.isArray(e.history) ? e.history : [];
    const last = history.length ? history[history.length - 1] : null;
    const live = e.live || {};
    const desired = e.desiredReplicas ?? live.desiredReplicas;
    let message = '';
    for (const c of [stalled && cond.Stalled, cond.Ready && cond.Ready.status !== 'True' && cond.Ready,
      cond.Reconciling && cond.Reconciling.status === 'True' && cond.Reconciling]) {
      if (c && c.message) { message = c.message; break; }
    }
    if (!message && last && last.error) message = last.message || '';
    if (!message && cond.Ready) message = cond.Ready.message || '';
    const verification = e.verification && e.verification.result ? e.verification.result : '';
    const attention = !e.removed && e.health !== 'Suspended'
      && (e.sync !== 'Synced' || e.health !== 'Healthy' || stalled || verification === 'Failed');
    const labels = Object.entries(e.labels || {}).map(([k, v]) => `${k}=${v}`);
    const view = {
      name: e.name, sync: e.sync || 'Unknown', health: e.health || 'Unknown', stalled,
      verification, version: live.version || 0, replicas: live.replicas ?? 0,
      desired: typeof desired === 'number' ? desired : null, labels: labels.join(' '),
      lastOp: last ? last.operation || '' : '', lastHttp: last ? last.httpStatus || 0 : 0,
      lastError: !!(last && last.error), lastTime: last ? last.time : '',
      lastMs: last ? parseTime(last.time) : NaN, message, next: e.nextReconcileAt || '',
      nextMs: parseTime(e.nextReconcileAt), attention, removed: !!e.removed,
    };
    view.search = [view.name, view.labels, view.sync, view.health, stalled ? 'stalled' : '',
      verification ? `verification ${verification}` : '', message, view.lastOp,
      e.plannedAction || '', view.version ? `v${view.version}` : ''].join(' ').toLowerCase();
    view.sig = [view.sync, view.health, stalled, verification, view.version, view.replicas,
      view.desired, view.labels, view.lastOp, view.lastHttp, view.lastError, view.lastTime,
      message, view.next, attention, view.removed].join('\u0001');
    return view;
  }

  // ---- state changes -------------------------------------------------------------------------
  function upsert(entry) {
    if (!entry || typeof entry.name !== 'string') return false;
    let rec = models.get(entry.name);
    if (!rec) {
      rec = { entry, view: null, row: null, seq: 0 };
      models.set(entry.name, rec);
      orderDirty = true;
    }
    rec.entry = entry;
    rec.seq = ++seq;
    const view = derive(entry);
    if (!rec.view || rec.view.sig !== view.sig) {
      if (rec.view && sortKey !== 'name') orderDirty = true;
      if (rec.view && chipFilter) orderDirty = true;
      if (rec.view && textFilter.length && rec.view.search !== view.search) orderDirty = true;
      rec.view = view;
      dirty.add(entry.name);
    }
    return true;
  }
  function receive(data) {
    stats.eventsReceived++;
    if (!inbox.length && !pendingEvents) pendingSince = performance.now();
    inbox.push(data);
    schedule();
  }
  // Parses queued events until the frame's budget is spent; true when some are left.
  function drainInbox(deadline) {
    let i = 0;
    for (; i < inbox.length && (i === 0 || performance.now() < deadline); i++) {
      let data;
      try { data = JSON.parse(inbox[i]); } catch (e) { data = null; }
      pendingEvents++;
      if (data && Array.isArray(data.models)) applySnapshot(data, seq);
      else if (upsert(data)) lastUpdate = Date.now();
    }
    inbox.splice(0, i);
    return inbox.length > 0;
  }
  function applySnapshot(snapshot, requestSeq) {
    stats.snapshots++;
    if ('revision' in snapshot) revision = snapshot.revision;
    desiredState = snapshot.desiredState;
    const seen = new Set();
    for (const entry of snapshot.models || []) {
      if (!entry || typeof entry.name !== 'string') continue;
      seen.add(entry.name);
      const rec = models.get(entry.name);
      if (rec && rec.seq > requestSeq) continue; // an event newer than this snapshot won
      upsert(entry);
    }
    for (const [name, rec] of models) {
      if (!seen.has(name) && rec.seq <= requestSeq) {
        models.delete(name);
        dirty.delete(name);
        if (rec.row) removed.add(rec.row);
        orderDirty = true;
      }
    }
    lastUpdate = Date.now();
    schedule();
  }
  // An `event: removed` of the stream: the model left the daemon's status.
  function forget(data) {
    let d;
    try { d = JSON.parse(data); } catch (e) { return; }
    const rec = d && typeof d.name === 'string' ? models.get(d.name) : undefined;
    if (!rec) return;
    models.delete(d.name);
    dirty.delete(d.name);
    if (rec.row) removed.add(rec.row);
    orderDirty = true;
    schedule();
  }
  function schedule() {
    if (frameRequested) return;
    frameRequested = true;
    requestAnimationFrame(render);
  }

  // ---- the table -----------------------------------------------------------------------------
  function makeRow(name) {
    const tr = document.createElement('div');
    tr.setAttribute('role', 'row');
    const cells = COLUMNS.map((label) => {
      const td = document.createElement('div');
      td.setAttribute('role', 'cell');
      td.setAttribute('data-label', label);
      tr.append(td);
      return td;
    });
    cells[6].className = 'msg';
    const link = el('a', { class: 'name-link', href: `#model=${encodeURIComponent(name)}`, text: name });
    const labels = el('span', { class: 'labels' });
    cells[0].append(link, labels);
    tr.setAttribute('data-name', name);
    return { tr, cells, labels, lastWhen: null, nextCell: cells[7] };
  }
  function fillRow(row, v, now) {
    const c = row.cells;
    row.tr.className = `row${v.attention ? ' attention' : ''}${v.removed ? ' removed' : ''}`;
    row.labels.textContent = v.labels;
    row.labels.title = v.labels;
    c[1].replaceChildren(badge('sync', v.sync, SYNC));
    const hb = el('span', { class: 'cell-badges' }, badge('health', v.health, HEALTH));
    if (v.stalled) hb.append(el('span', { class: 'badge b-bad', 'data-state': 'Stalled' }, el('span', { class: 'icon', 'aria-hidden': 'true', text: '\u25A0' }), 'Stalled'));
    if (v.verification === 'Failed') hb.append(badge('verify', 'Failed', VERIFY));
    if (v.removed) hb.append(el('span', { class: 'badge b-muted' }, 'Removed'));
    c[2].replaceChildren(hb);
    c[3].textContent = v.version ? `v${v.version}` : '\u2014';
    const rep = el('span', { class: v.desired !== null && v.desired !== v.replicas && v.health !== 'Suspended' ? 'mismatch' : '' },
      v.desired !== null ? `${v.replicas}/${v.desired}` : `${v.replicas}`);
    rep.title = 'live / desired';
    c[4].replaceChildren(rep);
    if (v.lastOp) {
      const op = el('span', { class: `op${v.lastError ? ' op-error' : ''}`, title: v.lastOp }, v.lastOp);
      if (v.lastHttp) op.append(el('span', { class: `http${v.lastHttp >= 400 ? ' http-bad' : ''}`, text: String(v.lastHttp) }));
      row.lastWhen = el('span', { class: 'when', title: absolute(v.lastTime), text: relative(v.lastMs, now) });
      c[5].replaceChildren(op, row.lastWhen);
    } else {
      row.lastWhen = null;
      c[5].textContent = '\u2014';
    }
    c[6].textContent = v.message || '';
    c[6].title = v.message || '';
    c[7].textContent = nextText(v.nextMs, now);
    c[7].title = absolute(v.next);
  }
  function matches(v) {
    if (chipFilter) {
      if (chipFilter === 'attention' && !v.attention) return false;
      if (chipFilter === 'stalled' && !v.stalled) return false;
      if (chipFilter.startsWith('sync:') && v.sync !== chipFilter.slice(5)) return false;
      if (chipFilter.startsWith('health:') && v.health !== chipFilter.slice(7)) return false;
    }
    for (const word of textFilter) if (!v.search.includes(word)) return false;
    return true;
  }
  function compare(a, b) {
    const va = a.view, vb = b.view;
    let d = 0;
    switch (sortKey) {
      case 'attention':
        d = (vb.attention - va.attention) || (vb.stalled - va.stalled)
          || (HEALTH_RANK[va.health] ?? 4) - (HEALTH_RANK[vb.health] ?? 4)
          || (SYNC_RANK[va.sync] ?? 1) - (SYNC_RANK[vb.sync] ?? 1);
        break;
      case 'sync': d = (SYNC_RANK[va.sync] ?? 1) - (SYNC_RANK[vb.sync] ?? 1); break;
      case 'health':
        d = (vb.stalled - va.stalled) || (HEALTH_RANK[va.health] ?? 4) - (HEALTH_RANK[vb.health] ?? 4);
        break;
      case 'version': d = va.version - vb.version; break;
      case 'replicas': d = va.replicas - vb.replicas; break;
      case 'last': d = (vb.lastMs || 0) - (va.lastMs || 0); break; // newest first
      case 'next': d = (va.nextMs || Infinity) - (vb.nextMs || Infinity); break;
      default: break;
    }
    if (Number.isNaN(d)) d = 0;
    if (!sortAsc) d = -d;
    if (d) return d;
    return va.name < vb.name ? (sortAsc || sortKey !== 'name' ? -1 : 1)
      : (va.name > vb.name ? (sortAsc || sortKey !== 'name' ? 1 : -1) : 0);
  }
  // Puts the rows of `list` in the DOM in its order, moving only the rows out of place: a row
  // that moves is styled and laid out again, so re-inserting all of them would cost a full
  // layout of the table on every new row or changed sort key.
  function reorder(list) {
    const parent = ui.rows;
    const wanted = new Set();
    for (const rec of list) wanted.add(rec.row.tr);
    for (let node = parent.firstChild; node;) {
      const next = node.nextSibling;
      if (!wanted.has(node)) node.remove();
      node = next;
    }
    let cursor = parent.firstChild;
    for (const rec of list) {
      const tr = rec.row.tr;
      if (tr === cursor) cursor = cursor.nextSibling;
      else parent.insertBefore(tr, cursor);
    }
  }
  function render() {
    frameRequested = false;
    const start = performance.now();
    const deadline = start + FRAME_BUDGET_MS;
    const now = Date.now();
    let more = drainInbox(deadline);
    const events = pendingEvents;
    const since = pendingSince;
    pendingEvents = 0;
    for (const row of removed) row.tr.remove();
    removed.clear();
    // Rows are made and refreshed within the budget (at least 50 a frame), so that a first
    // load or a burst of 1000 models spreads over a few frames instead of freezing the page.
    let touched = 0;
    for (const name of dirty) {
      if (touched >= 50 && performance.now() > deadline) { more = true; break; }
      const rec = models.get(name);
      if (rec) {
        if (!rec.row) {
          rec.row = makeRow(name);
          orderDirty = true;
        }
        fillRow(rec.row, rec.view, now);
        touched++;
      }
      dirty.delete(name);
    }
    if (orderDirty) {
      orderDirty = false;
      const list = [];
      for (const rec of models.values()) if (rec.row && matches(rec.view)) list.push(rec);
      list.sort(compare);
      const names = list.map((r) => r.view.name);
      let same = names.length === shownOrder.length;
      for (let i = 0; same && i < names.length; i++) same = names[i] === shownOrder[i];
      if (!same) {
        reorder(list);
        shownOrder = names;
      }
    }
    renderCounts();
    renderHeader(now);
    // A model named in the address opens once it has arrived.
    if (pendingOpen && models.has(pendingOpen)) openDetail(pendingOpen);
    else if (openName) renderDetailIfChanged();
    const end = performance.now();
    stats.renders++;
    stats.lastRenderMs = end - start;
    stats.maxRenderMs = Math.max(stats.maxRenderMs, stats.lastRenderMs);
    stats.eventsRendered += events;
    stats.renderLog.push({ start, end, ms: end - start, rows: touched, events,
      firstEventAt: events ? since : null, shown: shownOrder.length });
    if (stats.renderLog.length > 200) stats.renderLog.splice(0, stats.renderLog.length - 200);
    if (more) schedule();
  }
  function renderCounts() {
    const counts = { attention: 0, stalled: 0 };
    for (const rec of models.values()) {
      const v = rec.view;
      counts[`sync:${v.sync}`] = (counts[`sync:${v.sync}`] || 0) + 1;
      counts[`health:${v.health}`] = (counts[`health:${v.health}`] || 0) + 1;
      if (v.attention) counts.attention++;
      if (v.stalled) counts.stalled++;
    }
    const key = JSON.stringify(counts) + chipFilter;
    if (ui.counts.dataset.key !== key) {
      ui.counts.dataset.key = key;
      const chips = [el('button', { type: 'button', class: 'chip', 'data-chip': '', 'aria-pressed': String(!chipFilter) },
        'All', el('span', { class: 'n', text: String(models.size) }))];
      for (const [id, label, cls, icon] of CHIPS) {
        const n = counts[id] || 0;
        if (!n && chipFilter !== id && id !== 'attention') continue;
        chips.push(el('button', { type: 'button', class: 'chip', 'data-chip': id, 'aria-pressed': String(chipFilter === id) },
          el('span', { class: `badge ${cls}` }, el('span', { class: 'icon', 'aria-hidden': 'true', text: icon }), label),
          el('span', { class: 'n', text: String(n) })));
      }
      ui.counts.replaceChildren(...chips);
    }
    const shown = shownOrder.length;
    const text = `${shown === models.size ? `${models.size}` : `${shown} of ${models.size}`} model${models.size === 1 ? '' : 's'} shown; ${counts.attention} need${counts.attention === 1 ? 's' : ''} attention`;
    if (ui.summary.textContent !== text) ui.summary.textContent = text;
    ui.empty.hidden = shown !== 0 || models.size === 0;
  }
  function renderHeader(now) {
    const rev = revision ? String(revision) : 'unknown';
    ui.revision.textContent = revision ? rev.slice(0, 12) : 'unknown';
    ui.revision.title = rev;
    if (desiredState && typeof desiredState === 'object') {
      const ok = desiredState.result === 'success';
      const at = desiredState.at ? ` ${relative(parseTime(desiredState.at), now)}` : '';
      let text = ok ? `\u2713 loaded${at}` : `\u2715 rejected${at}`;
      if (!ok && desiredState.errors) text += ` (${desiredState.errors} error${desiredState.errors === 1 ? '' : 's'}; the last good state is in force)`;
      if (!ok && desiredState.message) text += `: ${desiredState.message}`;
      ui.desired.textContent = text;
      ui.desired.className = ok ? 'state-ok' : 'state-bad';
      ui.desired.title = absolute(desiredState.at);
    } else {
      ui.desired.textContent = 'not reported';
      ui.desired.className = '';
    }
    ui.updated.textContent = lastUpdate ? relative(lastUpdate, now).replace('in 0 s', 'just now').replace(/^0 s ago$/, 'just now') : 'never';
    ui.updated.title = lastUpdate ? new Date(lastUpdate).toISOString() : '';
  }
  function tick() {
    const now = Date.now();
    for (const name of shownOrder) {
      const rec = models.get(name);
      if (!rec || !rec.row) continue;
      const v = rec.view;
      if (rec.row.lastWhen) {
        const t = relative(v.lastMs, now);
        if (rec.row.lastWhen.textContent !== t) rec.row.lastWhen.textContent = t;
      }
      const n = nextText(v.nextMs, now);
      if (rec.row.nextCell.textContent !== n) rec.row.nextCell.textContent = n;
    }
    renderHeader(now);
  }

  // ---- connection: events first, polling as the fallback -------------------------------------
  function setMode(m, note) {
    mode = m;
    const text = {
      events: 'Live', polling: `Polling every ${POLL_MS / 1000} s`, connecting: 'Connecting',
      down: 'Daemon unreachable, retrying',
    }[m];
    ui.conn.textContent = note ? `${text} (${note})` : text;
    ui.conn.className = `conn ${{ events: 'conn-live', polling: 'conn-poll', connecting: 'conn-wait', down: 'conn-down' }[m]}`;
    ui.conn.dataset.mode = m;
  }
  let snapshotInFlight = false;
  async function fetchSnapshot() {
    const requestSeq = seq;
    snapshotInFlight = true;
    const t0 = performance.now();
    try {
      const r = await fetch('api/v1/status', { cache: 'no-store', headers: { Accept: 'application/json' } });
      if (!r.ok) throw new Error(`GET api/v1/status answered ${r.status}`);
      const body = await r.json();
      lastFetchMs = performance.now() - t0;
      applySnapshot(body, requestSeq);
      ui.error.hidden = true;
      if (mode === 'down') setMode(source ? 'connecting' : 'polling');
      return true;
    } catch (err) {
      lastFetchMs = performance.now() - t0;
      ui.error.textContent = `Cannot read the status: ${err.message}. Showing the last known state.`;
      ui.error.hidden = false;
      if (!source || source.readyState !== EventSource.OPEN) setMode('down');
      return false;
    } finally {
      snapshotInFlight = false;
    }
  }
  function startPolling() {
    if (pollTimer) return;
    if (!stats.snapshots && !snapshotInFlight) fetchSnapshot();
    const loop = async () => {
      if (!document.hidden) await fetchSnapshot();
      if (!pollTimer) return;
      pollTimer = setTimeout(loop, Math.max(POLL_MS, 4 * lastFetchMs));
    };
    pollTimer = setTimeout(loop, POLL_MS);
    if (mode !== 'down') setMode('polling');
  }
  function stopPolling() {
    clearTimeout(pollTimer);
    pollTimer = 0;
  }
  function startEvents() {
    if (typeof EventSource === 'undefined') { startPolling(); return; }
    if (source) return;
    const es = new EventSource('api/v1/events');
    source = es;
    es.addEventListener('open', () => {
      stopPolling();
      setMode('events');
      fetchSnapshot(); // whatever changed before the stream opened
      clearInterval(refreshTimer);
      refreshTimer = setInterval(() => { if (!document.hidden) fetchSnapshot(); }, SNAPSHOT_REFRESH_MS);
    });
    const onEntry = (ev) => receive(ev.data);
    es.addEventListener('model', onEntry);
    es.addEventListener('message', onEntry);
    es.addEventListener('status', onEntry);
    es.addEventListener('removed', (ev) => forget(ev.data));
    es.addEventListener('error', () => {
      clearInterval(refreshTimer);
      if (es.readyState === EventSource.CLOSED) {
        // No event stream here (404, or not text/event-stream): poll, and look again later.
        es.close();
        source = null;
        startPolling();
        setTimeout(startEvents, EVENTS_RETRY_MS);
      } else {
        // The browser reconnects by itself; poll meanwhile so the page stays current.
        setMode('connecting', 'event stream reconnecting');
        startPolling();
      }
    });
  }

  // ---- actions -------------------------------------------------------------------------------
  let tokenRetry = null;
  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }
  function showToast(text, kind) {
    // A modal dialog covers everything outside it: show the message inside the open one.
    const host = ui.tokenDialog.open ? ui.tokenDialog : (ui.detail.open ? ui.detail : document.body);
    if (ui.toast.parentNode !== host) host.append(ui.toast);
    ui.toast.textContent = text;
    ui.toast.className = `toast t-${kind}`;
    ui.toast.dataset.kind = kind;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { ui.toast.textContent = ''; }, 10000);
  }
  async function post(url, label, button) {
    const headers = { Accept: 'application/json' };
    const t = token();
    if (t) headers.Authorization = `Bearer ${t}`;
    if (button) button.disabled = true;
    let r;
    try {
      r = await fetch(url, { method: 'POST', headers, cache: 'no-store' });
    } catch (err) {
      showToast(`${label}: the daemon did not answer`, 'bad');
      return;
    } finally {
      if (button) button.disabled = false;
    }
    if (r.status === 401) {
      try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* storage disabled */ }
      updateTokenButton();
      askToken(t ? 'The daemon refused that token. Enter the admin token again.' : '',
        () => post(url, label, button));
      return;
    }
    let body = {};
    try { body = await r.json(); } catch (e) { /* not JSON */ }
    if (r.ok) {
      showToast(`${label}: accepted (${r.status})`, 'ok');
      if (mode !== 'events') setTimeout(fetchSnapshot, 500);
    } else if (r.status === 403) {
      showToast(`${label}: refused (403). Without an admin token the daemon accepts changes only from its own host. ${body.error || ''}`, 'bad');
    } else {
      showToast(`${label}: failed (${r.status}) ${body.error || ''}`, 'bad');
    }
  }
  function askToken(note, then) {
    tokenRetry = then;
    if (note) ui.tokenNote.textContent = note;
    ui.tokenInput.value = '';
    if (!ui.tokenDialog.open) ui.tokenDialog.showModal();
    ui.tokenInput.focus();
  }
  function updateTokenButton() { ui.forgetToken.hidden = !token(); }
  ui.tokenForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = ui.tokenInput.value.trim();
    if (!value) return;
    try { sessionStorage.setItem(TOKEN_KEY, value); } catch (e) { /* storage disabled */ }
    ui.tokenInput.value = '';
    ui.tokenDialog.close();
    updateTokenButton();
    const then = tokenRetry;
    tokenRetry = null;
    if (then) then();
  });
  ui.tokenCancel.addEventListener('click', () => { tokenRetry = null; ui.tokenDialog.close(); });
  ui.forgetToken.addEventListener('click', () => {
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* storage disabled */ }
    updateTokenButton();
    showToast('Admin token forgotten', 'ok');
  });
  ui.reconcileAll.addEventListener('click', () => post('api/v1/reconcile', 'Reconcile all', ui.reconcileAll));
  ui.retry.addEventListener('click', () => {
    if (openName) post(`api/v1/models/${encodeURIComponent(openName)}/retry`, `Retry ${openName}`, ui.retry);
  });
  ui.reconcile.addEventListener('click', () => {
    if (openName) post(`api/v1/reconcile?name=${encodeURIComponent(openName)}`, `Reconcile ${openName}`, ui.reconcile);
  });

  // ---- the detail view -----------------------------------------------------------------------
  function kv(pairs) {
    const dl = el('dl', { class: 'kv' });
    for (const [k, v] of pairs) {
      if (v === undefined || v === null || v === '') continue;
      dl.append(el('dt', { text: k }), el('dd', null, v));
    }
    return dl;
  }
  function grid(headers, rows, rowClass) {
    const table = el('table', { class: 'grid' },
      el('thead', null, el('tr', null, ...headers.map((h) => el('th', { scope: 'col', text: h })))));
    const body = el('tbody');
    rows.forEach((cells, i) => body.append(el('tr', { class: rowClass ? rowClass(i) : null },
      ...cells.map((c) => el('td', null, c)))));
    table.append(body);
    return el('div', { class: 'scroll' }, table);
  }
  function section(title, id, ...content) {
    return el('section', { 'aria-labelledby': id, 'data-section': id },
      el('h3', { id, text: title }), ...content);
  }
  function renderDetail(rec) {
    const e = rec.entry;
    const v = rec.view;
    const now = Date.now();
    const live = e.live || {};
    ui.detailTitle.textContent = e.name;
    const badges = [badge('sync', v.sync, SYNC), badge('health', v.health, HEALTH)];
    if (v.stalled) badges.push(el('span', { class: 'badge b-bad', 'data-state': 'Stalled' }, el('span', { class: 'icon', 'aria-hidden': 'true', text: '\u25A0' }), 'Stalled'));
    if (v.removed) badges.push(el('span', { class: 'badge b-muted', text: 'Removed from the desired state' }));
    ui.detailBadges.replaceChildren(...badges);
    const parts = [];
    parts.push(section('Summary', 'd-summary', kv([
      ['Message', v.message],
      ['Version', live.version ? `v${live.version}` : 'none serving'],
      ['Replicas', v.desired !== null ? `${v.replicas} live / ${v.desired} desired` : `${v.replicas} live`],
      ['Runtime', e.resolvedRuntime || live.runtime],
      ['Last synced', e.lastSyncedAt ? `${absolute(e.lastSyncedAt)} (${relative(parseTime(e.lastSyncedAt), now)})` : 'never'],
      ['Next check', e.nextReconcileAt ? `${absolute(e.nextReconcileAt)} (${nextText(v.nextMs, now)})` : 'not scheduled'],
      ['Labels', v.labels],
      ['Desired digest', e.desiredDigest ? el('code', { text: e.desiredDigest }) : ''],
    ])));
    const planned = e.plannedAction ? el('p', null, el('code', { text: e.plannedAction }))
      : el('p', { class: 'note', text: 'None: nothing to write.' });
    const planParts = [planned];
    if (Array.isArray(e.diffs)) {
      planParts.push(e.diffs.length
        ? grid(['Field', 'Live', 'Desired'], e.diffs.map((d) => [String(d.field ?? ''), fmt(d.live), fmt(d.desired)]))
        : el('p', { class: 'note', text: 'No differences between live and desired.' }));
    }
    parts.push(section('Planned action', 'd-plan', ...planParts));
    if (e.verification && typeof e.verification === 'object') {
      const r = e.verification;
      parts.push(section('Verification', 'd-verify', kv([
        ['Result', r.result ? badge('verify', r.result, VERIFY) : 'unknown'],
        ['At', r.at ? `${absolute(r.at)} (${relative(parseTime(r.at), now)})` : ''],
        ['Message', r.message],
      ])));
    }
    if (e.lastGood && typeof e.lastGood === 'object') {
      const g = e.lastGood;
      parts.push(section('Last good', 'd-lastgood', kv([
        ['Version', g.version ? `v${g.version}` : ''], ['Build', g.buildId ? el('code', { text: g.buildId }) : ''],
        ['Deployment', g.deploymentId ? el('code', { text: g.deploymentId }) : ''],
      ])));
    }
    const conditions = e.conditions || [];
    parts.push(section('Conditions', 'd-conditions', conditions.length
      ? grid(['Type', 'Status', 'Reason', 'Message', 'Since'], conditions.map((c) => [c.type, c.status,
        c.reason || '', c.message || '', el('span', { title: absolute(c.lastTransitionTime), text: relative(parseTime(c.lastTransitionTime), now) })]),
      (i) => (conditions[i].type === 'Stalled' && conditions[i].status === 'True') || (conditions[i].type === 'Ready' && conditions[i].status === 'False') ? 'err' : null)
      : el('p', { class: 'note', text: 'None reported yet.' })));
    const idv = (id, status) => (id ? el('span', null, el('code', { text: id }), status ? ` (${status})` : '') : (status || ''));
    parts.push(section('Live in CML', 'd-live', kv([
      ['Project', idv(live.projectId)], ['Model', idv(live.modelId)],
      ['Build', idv(live.buildId, live.buildStatus)],
      ['Deployment', idv(live.deploymentId, live.deploymentStatus)],
      ['Registered model', idv(live.registeredModelId)],
      ['Registered version', idv(live.registeredModelVersionId)],
      ['Authentication', live.authEnabled === undefined ? '' : (live.authEnabled ? 'enabled' : 'disabled')],
    ])));
    parts.push(section('Resources', 'd-resources', live.deploymentId ? kv([
      ['CPU', live.cpu !== undefined ? String(live.cpu) : ''],
      ['Memory', live.memoryGiB !== undefined ? `${live.memoryGiB} GiB` : ''],
      ['GPUs', live.gpus !== undefined ? String(live.gpus) : ''],
      ['Replicas', v.desired !== null ? `${v.replicas} live / ${v.desired} desired` : String(v.replicas)],
    ]) : el('p', { class: 'note', text: `No deployment serves this model${v.desired !== null ? ` (${v.desired} replica${v.desired === 1 ? '' : 's'} desired)` : ''}.` })));
    const history = (e.history || []).slice(-HISTORY_SHOWN).reverse();
    parts.push(section(`History (last ${history.length}, newest first)`, 'd-history', history.length
      ? grid(['Time', 'Operation', 'HTTP', 'Duration', 'Result', 'Message'], history.map((h) => [
        el('span', { title: absolute(h.time), text: `${absolute(h.time)} (${relative(parseTime(h.time), now)})` }),
        h.operation || '', h.httpStatus ? String(h.httpStatus) : '\u2014', durationText(h),
        h.error ? '\u2715 error' : '\u2713 ok', h.message || '']),
      (i) => (history[i].error ? 'err' : null))
      : el('p', { class: 'note', text: 'No action yet.' })));
    const scroll = ui.detailBody.scrollTop;
    ui.detailBody.replaceChildren(...parts);
    ui.detailBody.scrollTop = scroll;
    ui.detail.dataset.model = e.name;
  }
  function fmt(x) {
    if (x === undefined || x === null) return '\u2014';
    return typeof x === 'object' ? JSON.stringify(x) : String(x);
  }
  function renderDetailIfChanged() {
    const rec = models.get(openName);
    if (!rec) return;
    const json = JSON.stringify(rec.entry);
    if (json === openJson) return;
    openJson = json;
    renderDetail(rec);
  }
  function openDetail(name) {
    if (!models.has(name)) { pendingOpen = name; return; }
    pendingOpen = null;
    openName = name;
    openJson = '';
    renderDetailIfChanged();
    if (!ui.detail.open) ui.detail.showModal();
    ui.close.focus();
  }
  function routeFromHash() {
    const m = /^#model=(.+)$/.exec(location.hash);
    if (m) {
      returnFocus = document.activeElement;
      openDetail(decodeURIComponent(m[1]));
    } else if (ui.detail.open) {
      ui.detail.close();
    }
  }
  ui.detail.addEventListener('close', () => {
    openName = null;
    ui.detail.dataset.model = '';
    if (/^#model=/.test(location.hash)) history.replaceState(null, '', location.pathname + location.search);
    if (returnFocus && document.contains(returnFocus)) returnFocus.focus();
  });
  ui.close.addEventListener('click', () => ui.detail.close());
  ui.detail.addEventListener('click', (ev) => { if (ev.target === ui.detail) ui.detail.close(); });
  window.addEventListener('hashchange', routeFromHash);

  // ---- filter, sort, keyboard ----------------------------------------------------------------
  ui.filter.addEventListener('input', () => {
    textFilter = ui.filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    orderDirty = true;
    schedule();
  });
  ui.filter.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && ui.filter.value) {
      ui.filter.value = '';
      ui.filter.dispatchEvent(new Event('input'));
    }
  });
  function setSort(key, asc) {
    sortKey = key;
    sortAsc = asc;
    ui.sort.value = key;
    ui.sortDir.textContent = asc ? '\u2191 asc' : '\u2193 desc';
    ui.sortDir.setAttribute('aria-label', `Sort direction: ${asc ? 'ascending' : 'descending'}`);
    for (const th of ui.table.querySelectorAll('[role=columnheader][data-sort]')) {
      if (th.dataset.sort === key) th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
    orderDirty = true;
    schedule();
  }
  ui.sort.addEventListener('change', () => setSort(ui.sort.value, true));
  ui.sortDir.addEventListener('click', () => setSort(sortKey, !sortAsc));
  for (const th of ui.table.querySelectorAll('[role=columnheader][data-sort]')) {
    th.querySelector('button').addEventListener('click', () => {
      const key = th.dataset.sort;
      setSort(key, key === sortKey ? !sortAsc : true);
    });
  }
  ui.counts.addEventListener('click', (ev) => {
    const chip = ev.target.closest('button[data-chip]');
    if (!chip) return;
    const id = chip.dataset.chip;
    chipFilter = chipFilter === id ? '' : id;
    orderDirty = true;
    ui.counts.dataset.key = '';
    schedule();
    // The chips are rebuilt on render: keep the keyboard focus on the same chip.
    requestAnimationFrame(() => {
      const again = ui.counts.querySelector(`button[data-chip="${CSS.escape(id)}"]`);
      if (again) again.focus();
    });
  });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === '/' && !ev.ctrlKey && !ev.metaKey && !ev.altKey && !ui.detail.open
        && !ui.tokenDialog.open && !/^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName)) {
      ev.preventDefault();
      ui.filter.focus();
      ui.filter.select();
    }
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && mode !== 'events') fetchSnapshot();
  });

  // ---- start ---------------------------------------------------------------------------------
  window.cmlrStatusPage = {
    stats,
    mode: () => mode,
    models: () => models.size,
    shown: () => shownOrder.slice(),
  };
  setSort('name', true);
  updateTokenButton();
  setInterval(tick, CLOCK_TICK_MS);
  routeFromHash();
  // The first snapshot is read when the event stream opens (so that no change between the two
  // is missed) or when the page falls back to polling; a stream that neither opens nor fails at
  // once must not leave the page empty.
  startEvents();
  setTimeout(() => { if (!stats.snapshots && !snapshotInFlight) fetchSnapshot(); }, 1000);
})();
