// pfgate browser page: factor numbers over /primefactor.Factors/PrimeFactors.
// Plain JavaScript modules, no build step, no dependencies:
//   store.js      the numbers and their answers, compact (and the downloads)
//   transport.js  the WebSocket (and NDJSON batches for long runs)
//   list.js       the virtual list of results
// This file reads the input, and draws the rest once per animation frame.
'use strict';

import { Results, ndjsonLine, csvLine, CSV_HEADER, buildBlob } from './store.js';
import { createTransport } from './transport.js';
import { VirtualList } from './list.js';

const $ = (id) => document.getElementById(id);
const ui = {
  status: $('status'), statusText: $('status-text'), countdown: $('countdown'), retry: $('retry'),
  form: $('form'), numbers: $('numbers'), factor: $('factor'), clear: $('clear'),
  summary: $('summary'), empty: $('empty'), view: $('results-view'), list: $('results'),
  run: $('run'), progress: $('progress'), progressText: $('progress-text'), stop: $('stop'),
  announce: $('announce'), take: $('take'), ndjson: $('download-ndjson'), csv: $('download-csv'),
  copy: $('copy'), takeNote: $('take-note'), runDone: $('run-done'),
  held: $('held'), heldText: $('held-text'), heldDrop: $('held-drop'),
};

const res = new Results();
const list = new VirtualList(ui.view, ui.list, res);
const net = createTransport(res, {
  status: setStatus,
  retryHidden: (h) => { ui.retry.hidden = h; },
  changed: scheduleRender,
});
list.onscroll = () => { urgent = true; scheduleRender(); };

// The run: what the progress bar counts. Numbers submitted while one is in
// flight join it.
const run = { active: false, base: 0, answeredBase: 0, t0: 0, last: '' };

// ------------------------------------------------------------------ input ---

// Splits text into tokens (offsets and lengths) a slice at a time, so that a
// paste of a million numbers never holds the page for long.
async function tokenize(text) {
  const re = /[^\s,]+/g;
  let start = new Uint32Array(1024), len = new Uint32Array(1024), n = 0;
  let t = performance.now();
  for (;;) {
    let m = null;
    for (let k = 0; k < 4096 && (m = re.exec(text)); k++) {
      if (n === start.length) {
        const s = new Uint32Array(n * 2); s.set(start); start = s;
        const l = new Uint32Array(n * 2); l.set(len); len = l;
      }
      start[n] = m.index;
      len[n++] = m[0].length;
    }
    if (!m) break;
    if (performance.now() - t > 8) {
      await new Promise((r) => setTimeout(r, 0));
      t = performance.now();
    }
  }
  return { start: start.slice(0, n), len: len.slice(0, n), n };
}

// Pastes this long (characters) are held aside, not put in the box.
const HOLD_PASTE = 65536;
const held = [];

ui.numbers.addEventListener('paste', (ev) => {
  const text = ev.clipboardData?.getData('text/plain') ?? '';
  if (text.length < HOLD_PASTE) return; // the box takes it as usual
  ev.preventDefault();
  held.push(text);
  showHeld();
});
ui.heldDrop.addEventListener('click', () => { held.length = 0; showHeld(); ui.numbers.focus(); });

function showHeld() {
  ui.held.hidden = !held.length;
  if (!held.length) return;
  const chars = held.reduce((n, t) => n + t.length, 0);
  ui.heldText.textContent = 'Pasted ' + (chars / 1048576).toFixed(1) + ' MB of numbers, kept out of the box ' +
    '(it would slow the page down); Factor sends them after what the box holds.';
}

let reading = Promise.resolve();
let readingCount = 0; // submits so far
let stoppedAt = 0;    // submits up to this one were stopped (or cleared) before they were read

function submit() {
  const text = held.length ? [ui.numbers.value, ...held].join('\n') : ui.numbers.value;
  if (!/[^\s,]/.test(text)) { ui.numbers.focus(); return; }
  ui.numbers.value = '';
  held.length = 0;
  showHeld();
  ui.numbers.focus();
  const gen = res.gen, ticket = ++readingCount;
  reading = reading.then(async () => {
    const { start, len, n } = await tokenize(text);
    if (gen !== res.gen || ticket <= stoppedAt) return; // cleared or stopped while reading
    if (!run.active) {
      Object.assign(run, { active: true, base: res.count, answeredBase: res.answered, t0: performance.now() });
      ui.announce.textContent = 'Factoring ' + fmt(n) + ' ' + plural(n, 'number') + '…';
    }
    const lo = res.count;
    res.append(text, start, len, n);
    list.follow = true; // show the new results even if the list was scrolled up
    net.send(lo, res.count);
    scheduleRender();
  });
}

ui.form.addEventListener('submit', (ev) => { ev.preventDefault(); submit(); });
ui.numbers.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); submit(); }
});
ui.stop.addEventListener('click', () => {
  stoppedAt = readingCount;
  net.stop();
  ui.announce.textContent = 'Stopped; the numbers already sent are still being answered.';
});
ui.clear.addEventListener('click', () => {
  stoppedAt = readingCount;
  net.clear();
  res.reset();
  list.reset();
  run.active = false;
  run.last = '';
  ui.runDone.textContent = '';
  ui.takeNote.textContent = '';
  scheduleRender();
  ui.numbers.focus();
});
ui.retry.addEventListener('click', net.connect);
window.addEventListener('online', net.connect); // network is back: don't wait out the backoff
if (/Mac|iPhone|iPad/.test(navigator.platform || '')) {
  const k = document.querySelector('.kbd-hint kbd');
  if (k) k.textContent = '⌘';
}

// -------------------------------------------------------- take the results ---

async function download(kind) {
  const button = kind === 'csv' ? ui.csv : ui.ndjson;
  button.disabled = true;
  ui.takeNote.textContent = 'Preparing ' + fmt(res.count) + ' ' + plural(res.count, 'line') + '…';
  try {
    const blob = kind === 'csv'
      ? await buildBlob(res, CSV_HEADER, csvLine, 'text/csv')
      : await buildBlob(res, '', ndjsonLine, 'application/x-ndjson');
    if (!blob) { ui.takeNote.textContent = ''; return; }
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'factors.' + (kind === 'csv' ? 'csv' : 'ndjson');
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    ui.takeNote.textContent = 'Saved ' + a.download + '.';
  } finally {
    button.disabled = false;
  }
}

async function copyVisible() {
  const text = list.visibleText();
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch { // no permission, or not a secure context (plain http off localhost)
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.className = 'sr-only';
    document.body.append(ta);
    ta.select();
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    ta.remove();
  }
  const lines = text ? text.split('\n').length : 0;
  ui.takeNote.textContent = ok ? 'Copied ' + fmt(lines) + ' ' + plural(lines, 'row') + '.' : 'Copy failed: select the rows and copy them by hand.';
}

ui.ndjson.addEventListener('click', () => download('ndjson'));
ui.csv.addEventListener('click', () => download('csv'));
ui.copy.addEventListener('click', copyVisible);

// ----------------------------------------------------------------- render ---
//
// Answers only update the store; the DOM is touched at most once per frame.

// While a run streams, the page is drawn at most every RUN_FRAME_MS (unless
// the person scrolls or types): the CPU goes to the answers, and 15 updates a
// second read as smoothly as 60 for a counter and a list rushing by.
const RUN_FRAME_MS = 66;
let renderQueued = false;
let drawnAt = 0;
let urgent = false;

function scheduleRender() {
  if (!renderQueued) { renderQueued = true; requestAnimationFrame(render); }
}

function setStatus(state, text, countdown) {
  ui.status.dataset.state = state;
  if (ui.statusText.firstChild?.nodeValue !== text) ui.statusText.textContent = text;
  ui.countdown.textContent = countdown || '';
  scheduleRender(); // the summary says "in progress" or "waiting for the connection"
}

function render(now) {
  renderQueued = false;
  const busy = net.busy();
  if (run.active && busy && !urgent && now - drawnAt < RUN_FRAME_MS) { scheduleRender(); return; }
  drawnAt = now || 0;
  urgent = false;
  if (run.active && !busy) endRun();
  list.render();
  ui.empty.hidden = res.count > 0;
  ui.view.hidden = res.count === 0;
  ui.take.hidden = res.count === 0;
  ui.ndjson.disabled = ui.csv.disabled = busy;
  ui.summary.textContent = summaryText();
  ui.run.hidden = !run.active;
  if (run.active) {
    const total = res.count - run.base, done = res.answered - run.answeredBase;
    const secs = (performance.now() - run.t0) / 1000;
    ui.progress.max = Math.max(1, total);
    ui.progress.value = done;
    ui.progressText.textContent = fmt(done) + ' / ' + fmt(total) +
      (secs > 0.25 ? ' · ' + fmt(Math.round(done / secs)) + ' numbers/s' : '');
    scheduleRender(); // the rate moves even between answers
  }
}

function endRun() {
  run.active = false;
  const n = res.count - run.base, secs = (performance.now() - run.t0) / 1000;
  run.last = fmt(n) + ' ' + plural(n, 'number') + ' in ' + secs.toFixed(secs < 10 ? 2 : 1) + ' s';
  ui.announce.textContent = 'Done: ' + run.last + '.';
  ui.runDone.textContent = 'Last run: ' + run.last + (secs > 0 ? ' (' + fmt(Math.round(n / secs)) + ' numbers/s)' : '') + '.';
}

function summaryText() {
  if (!res.count) return 'Nothing factored yet.';
  const pending = res.count - res.answered;
  let s = fmt(res.count) + ' ' + plural(res.count, 'number') + ' · ' + fmt(res.answered) + ' answered';
  if (res.errors) s += ' · ' + fmt(res.errors) + ' ' + plural(res.errors, 'error');
  if (pending) s += ' · ' + fmt(pending) + (net.isOpen() ? ' in progress' : ' waiting for the connection');
  return s;
}

const numberFormat = new Intl.NumberFormat('en-US'); // toLocaleString() makes one per call
const fmt = (n) => numberFormat.format(n);
const plural = (n, word) => (n === 1 ? word : word + 's');

render();
net.connect();
