// The inspector page: a live list of deliveries from /api/events, a
// detail view from /api/deliveries/{seq}, and the actions, which are
// POSTs carrying the page's token. Everything is built with textContent:
// bodies and headers are the sender's bytes, never markup.
'use strict';

const token = document.querySelector('meta[name="inspect-token"]').content;
const records = new Map();
let config = {};
let selected = 0;

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

async function api(path, opts) {
  const r = await fetch(path, opts);
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || r.status + ' ' + r.statusText);
  return j;
}

function post(path) {
  return api(path, { method: 'POST', headers: { 'X-Inspect-Token': token } });
}

function clock(t) {
  const d = new Date(t);
  const p = (n, w) => String(n).padStart(w || 2, '0');
  return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds()) + '.' + p(d.getMilliseconds(), 3);
}

function statusBadge(r) {
  const b = el('span', 'badge', String(r.status));
  if (r.status >= 200 && r.status < 300) {
    b.classList.add(r.duplicate ? 'dup' : 'ok');
    if (r.duplicate) b.title = 'duplicate: acknowledged, callbacks not run again';
  } else {
    b.classList.add('bad');
  }
  return b;
}

function outcomeText(r) {
  switch (r.outcome) {
    case 'stored': return 'in the inbox';
    case 'retry': return 'callback failed, retrying';
    case 'dead': return 'dead letter';
    case 'failure': return 'callback failed';
  }
  return '';
}

function row(r) {
  const tr = el('tr');
  tr.dataset.seq = r.seq;
  tr.dataset.status = r.status;
  if (r.seq === selected) tr.classList.add('selected');
  tr.append(el('td', 'muted num', String(r.seq)));
  tr.append(el('td', 'mono nowrap c-time', clock(r.time)));
  tr.append(el('td', 'c-source', r.source || '—'));
  const type = el('td', 'type');
  if (r.type) {
    type.append(el('span', r.id_verified ? '' : 'muted', r.type));
  } else {
    type.textContent = '—';
  }
  tr.append(type);
  const id = el('td', 'msgid');
  if (r.id) {
    const s = el('span', 'mono id', r.id);
    s.title = r.id;
    id.append(s);
    if (!r.id_verified) id.append(el('span', 'tag', 'unverified'));
  } else {
    id.textContent = '—';
  }
  tr.append(id);
  const st = el('td', 'status nowrap');
  st.append(statusBadge(r));
  if (r.duplicate) st.append(el('span', 'tag', 'duplicate'));
  if (r.replay_of) st.append(el('span', 'tag', 'replay of #' + r.replay_of));
  if (r.forward) {
    // "forwarded: 200 OK", or why not: the app's answer, in short.
    const ok = /^forwarded: 2/.test(r.forward);
    const f = el('span', 'tag ' + (ok ? 'fwd-ok' : 'fwd-bad'), ok ? 'forwarded ' + r.forward.split(' ')[1] : 'forward failed');
    f.title = r.forward;
    st.append(f);
  }
  tr.append(st);
  const why = el('td', 'why');
  if (r.reason) {
    why.append(el('div', 'reason', r.reason));
    if (r.hint) {
      // The list gives the hint's first clause; the detail, all of it.
      const h = el('div', 'hint-line', r.hint.split(': ')[0]);
      h.title = r.hint;
      why.append(h);
    }
  }
  const out = outcomeText(r);
  if (out) why.append(el('div', r.outcome === 'dead' || r.outcome === 'failure' ? 'reason' : 'muted', out));
  tr.append(why);
  tr.append(el('td', 'num mono c-latency', r.latency_ms.toFixed(1) + ' ms'));
  tr.tabIndex = 0;
  tr.addEventListener('click', () => select(r.seq));
  tr.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      select(r.seq);
    }
  });
  return tr;
}

function upsert(r, fresh) {
  const had = records.has(r.seq);
  records.set(r.seq, r);
  const tr = row(r);
  const old = document.querySelector('#rows tr[data-seq="' + r.seq + '"]');
  if (old) {
    old.replaceWith(tr);
  } else {
    if (fresh) tr.classList.add('fresh');
    $('rows').prepend(tr);
  }
  while (records.size > (config.keep || 500)) {
    const oldest = Math.min(...records.keys());
    records.delete(oldest);
    const gone = document.querySelector('#rows tr[data-seq="' + oldest + '"]');
    if (gone) gone.remove();
  }
  counts();
  if (had && r.seq === selected) loadDetail(r.seq);
}

function counts() {
  let ok = 0, bad = 0;
  for (const r of records.values()) (r.status >= 200 && r.status < 300 ? ok++ : bad++);
  $('empty').hidden = records.size > 0;
  $('counts').textContent = records.size ? ok + ' accepted · ' + bad + ' rejected' : '';
}

// streamed holds, until the list loaded at the event stream's opening is
// in, the seqs the stream has told of since (a delivery or its "gone").
// The list is a snapshot the server took after the stream opened, and it
// can reach the page after events newer than it: for those seqs the
// stream's word stands, else a dropped row came back, or a forward's
// result was undone.
let streamed = null;

async function loadList(seen) {
  const list = await api('/api/deliveries');
  if (seen !== streamed) return; // the stream reopened: its own list follows
  const listed = new Set(list.map((r) => r.seq));
  // Rows the server let go while the stream was down, unheard.
  for (const seq of [...records.keys()]) {
    if (!listed.has(seq) && !seen.has(seq)) remove(seq);
  }
  for (const r of list) {
    if (!seen.has(r.seq)) upsert(r, false);
  }
  counts();
}

function remove(seq) {
  records.delete(seq);
  const tr = document.querySelector('#rows tr[data-seq="' + seq + '"]');
  if (tr) tr.remove();
}

function connect() {
  const es = new EventSource('/api/events');
  es.addEventListener('open', () => {
    $('conn').textContent = 'live';
    $('conn').className = 'conn on';
    const seen = streamed = new Set();
    loadList(seen).catch(() => {}).finally(() => {
      if (streamed === seen) streamed = null;
    });
  });
  es.addEventListener('error', () => {
    $('conn').textContent = 'reconnecting';
    $('conn').className = 'conn off';
  });
  es.addEventListener('delivery', (e) => {
    const r = JSON.parse(e.data);
    if (streamed) streamed.add(r.seq);
    upsert(r, true);
  });
  // A delivery the server dropped from its ring, past --inspect-keep-bytes.
  es.addEventListener('gone', (e) => {
    const seq = Number(e.data);
    if (streamed) streamed.add(seq);
    remove(seq);
    counts();
  });
}

function select(seq) {
  selected = seq;
  for (const tr of document.querySelectorAll('#rows tr')) {
    tr.classList.toggle('selected', Number(tr.dataset.seq) === seq);
  }
  $('action-result').hidden = true;
  loadDetail(seq);
}

let loading = 0;
async function loadDetail(seq) {
  const mine = ++loading;
  let d;
  try {
    d = await api('/api/deliveries/' + seq);
  } catch (err) {
    return;
  }
  if (mine !== loading || seq !== selected) return;
  renderDetail(d);
}

function renderDetail(d) {
  $('detail').hidden = false;
  $('main').classList.add('with-detail');
  $('detail').dataset.seq = d.seq;
  $('d-title').textContent = '#' + d.seq + ' · ' + (d.source || 'unknown sender') + (d.type ? ' · ' + d.type : '') + ' · ' + d.status;
  const ro = $('d-replay-of');
  ro.hidden = !d.replay_of;
  ro.textContent = d.replay_of ? d.replay_note : '';

  const plan = d.replay;
  $('replay').disabled = !plan.possible;
  $('keep-label').hidden = !plan.can_keep;
  $('d-replay-note').textContent = 'Replay: ' + plan.note + '.';
  const accepted = d.status >= 200 && d.status < 300 && d.event && !d.body_not_kept;
  $('forward').hidden = !config.forwardTo;
  $('forward').disabled = !accepted;
  $('forward').title = config.forwardTo ? 'POST to ' + config.forwardTo : '';
  $('save-fixture').hidden = !config.fixtures;
  $('save-fixture').title = config.fixtures ? 'write into ' + config.fixtures : '';

  const v = $('verdict');
  v.replaceChildren();
  for (const s of d.verdict) {
    const li = el('li', s.result);
    li.append(el('span', 'mark', s.result === 'pass' ? '✓' : s.result === 'fail' ? '✗' : '–'));
    li.append(el('span', 'step', s.step));
    li.append(el('span', 'detail', s.detail));
    v.append(li);
  }
  // The hint shows when it adds to what the failed step says.
  const hint = $('d-hint');
  const said = d.verdict.some((s) => s.result === 'fail' && s.detail === d.hint);
  hint.hidden = !d.hint || said;
  hint.textContent = d.hint ? 'Hint: ' + d.hint : '';

  const ev = $('evidence');
  ev.replaceChildren();
  for (const [k, val] of d.evidence || []) {
    const tr = el('tr');
    tr.append(el('td', '', k), el('td', '', val));
    ev.append(tr);
  }
  $('d-evidence').hidden = !(d.evidence && d.evidence.length);

  const ib = $('d-inbox');
  ib.hidden = !d.inbox;
  if (d.inbox) $('d-inbox-text').textContent = inboxText(d.inbox);

  const h = $('headers');
  h.replaceChildren();
  for (const [k, val] of d.headers) {
    const tr = el('tr');
    tr.append(el('td', '', k), el('td', '', val));
    h.append(tr);
  }
  $('raw-label').textContent = 'Exact bytes (' + d.body_len + (d.body_base64 ? ', not UTF-8: base64' : '') + (d.truncated ? ', cut at --max-body' : '') + (d.body_not_kept ? ', not kept: too many bodies in flight' : '') + ')';
  showText($('raw'), d.body);
  showText($('pretty'), d.pretty || 'not JSON');
  let decoded = 'not decoded';
  if (d.event) {
    try { decoded = JSON.stringify(d.event, null, 2); } catch (e) { decoded = String(d.event); }
  }
  showText($('event'), decoded);
}

// previewChars is how much of a body a <pre> shows until asked for all:
// a megabyte pretty-printed to half a million lines held the page for
// seconds, on every update of the selected row.
const previewChars = 64 * 1024;

function showText(pre, text) {
  if (text.length <= previewChars) {
    pre.textContent = text;
    return;
  }
  let cut = previewChars;
  const c = text.charCodeAt(cut);
  if (c >= 0xdc00 && c <= 0xdfff) cut--; // not between a surrogate pair
  pre.textContent = text.slice(0, cut);
  const all = el('button', 'show-all', 'show all ' + text.length + ' characters');
  all.addEventListener('click', () => { pre.textContent = text; });
  pre.append('\n… ', all);
}

function inboxText(e) {
  let s = e.state + ' · ' + e.attempts + ' attempt' + (e.attempts === 1 ? '' : 's');
  if (e.next_attempt) s += ' · next attempt ' + new Date(e.next_attempt).toLocaleTimeString();
  if (e.last_error) s += ' · last error: ' + e.last_error;
  return s;
}

function result(ok, text) {
  const r = $('action-result');
  r.hidden = false;
  r.className = 'result ' + (ok ? 'ok' : 'bad');
  r.textContent = text;
}

async function act(fn) {
  for (const b of document.querySelectorAll('.actions button')) b.disabled = true;
  try {
    await fn();
  } catch (err) {
    result(false, err.message);
  } finally {
    for (const b of document.querySelectorAll('.actions button')) b.disabled = false;
    if (selected) loadDetail(selected);
  }
}

$('replay').addEventListener('click', () => act(async () => {
  const keep = $('keep-id').checked ? '?keep_id=1' : '';
  const j = await post('/api/deliveries/' + selected + '/replay' + keep);
  result(j.status >= 200 && j.status < 300, 'Replayed as #' + j.seq + ' (' + j.note + '): the receiver answered ' + j.status + '.');
}));

$('forward').addEventListener('click', () => act(async () => {
  const j = await post('/api/deliveries/' + selected + '/forward');
  result(/^forwarded: 2/.test(j.result), j.result);
}));

$('save-fixture').addEventListener('click', () => act(async () => {
  const j = await post('/api/deliveries/' + selected + '/fixture');
  result(true, 'Saved ' + j.name + ' in ' + j.dir + ' (headers beside it). Load it with webhooktest.ReadCapture.');
}));

$('close').addEventListener('click', () => {
  selected = 0;
  $('detail').hidden = true;
  $('main').classList.remove('with-detail');
  for (const tr of document.querySelectorAll('#rows tr.selected')) tr.classList.remove('selected');
});

async function loadInbox() {
  let list;
  try {
    list = await api('/api/inbox');
  } catch (err) {
    return;
  }
  const body = $('inbox-rows');
  body.replaceChildren();
  for (const e of list) {
    const tr = el('tr');
    tr.dataset.key = e.key;
    tr.append(el('td', 'mono', e.key_shown));
    const st = el('td');
    st.append(el('span', 'badge ' + ({ done: 'ok', dead: 'bad', retrying: 'warn' }[e.state] || 'dup'), e.state));
    tr.append(st);
    tr.append(el('td', 'num', String(e.attempts)));
    tr.append(el('td', 'mono small', e.next_attempt ? new Date(e.next_attempt).toLocaleTimeString() : ''));
    tr.append(el('td', 'small', e.last_error || ''));
    const act = el('td');
    if (e.state === 'dead') {
      const b = el('button', '', 'Replay');
      b.addEventListener('click', async () => {
        b.disabled = true;
        try { await post('/api/inbox/replay?key=' + encodeURIComponent(e.key)); } catch (err) { b.title = err.message; }
        loadInbox();
      });
      act.append(b);
    }
    tr.append(act);
    // The delivery's row, while the list still holds it.
    const rec = [...records.values()].reverse().find((r) => r.key === e.key);
    if (rec) {
      tr.classList.add('linked');
      tr.title = 'show delivery #' + rec.seq;
      tr.addEventListener('click', (ev) => { if (ev.target.tagName !== 'BUTTON') select(rec.seq); });
    }
    body.append(tr);
  }
  $('inbox-empty').hidden = list.length > 0;
}

async function start() {
  try {
    config = await api('/api/config');
  } catch (err) {
    config = {};
  }
  $('receiver').textContent = config.receiver ? 'receiver http://' + config.receiver + ' · ' + (config.sources || []).join(', ') : '';
  if (config.inbox) {
    $('inbox').hidden = false;
    loadInbox();
    setInterval(loadInbox, 2000);
  }
  connect();
}

start();
