// pfgate browser page: factor numbers over the WebSocket stream
// /primefactor.Factors/PrimeFactors (see SPEC.md, "JSON messages" and
// "The WebSocket session"). Plain JavaScript, no build step, no dependencies.
//
// Numbers stay strings from the textarea to the screen: int64 does not fit in
// a JavaScript number (precision ends at 2^53), so nothing here calls
// Number() or parseInt() on them. Requests go out as JSON strings ("360") and
// the server answers int64 fields as strings.
'use strict';

(() => {
  const WS_PATH = '/primefactor.Factors/PrimeFactors';
  const WINDOW = 256;        // numbers in flight on the socket at once; the rest wait here,
                             // so a 10,000-number paste never hits the server's in-flight limit
  const MAX_ROWS = 1000;     // result rows kept in the DOM; older ones are dropped
  const MAX_TOKEN = 256;     // longer tokens cannot be an int64; don't send them (see below)
  const MAX_ATTEMPTS = 3;    // a number whose answer was cut off by a dropped socket this often is given up
  const BACKOFF_MIN = 500;   // ms, doubled after each failed attempt ...
  const BACKOFF_MAX = 10000; // ... up to this
  const STABLE_MS = 5000;    // a socket open this long resets the backoff

  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $('status'), statusText: $('status-text'), countdown: $('countdown'), retry: $('retry'),
    form: $('form'), numbers: $('numbers'), clear: $('clear'),
    list: $('results'), summary: $('summary'), trimmed: $('trimmed'), empty: $('empty'),
  };

  // ------------------------------------------------------------------ model ---
  //
  // One Entry per token the user submitted:
  //   input    the token as typed (trimmed), sent as the JSON string frame
  //   num      the canonical number from the server's answers (null until one arrives)
  //   factors  prime factors received so far, as decimal strings
  //   error    server (or local) error message, or null
  //   state    'queued' (not on any socket) | 'sent' (in flight) | 'done'
  //   attempts sockets that dropped while this number was being answered
  //   row      its <li> while shown; placed: a row was (or will be) made for it;
  //            gone: its row was trimmed (MAX_ROWS); cleared: the user cleared it

  // A FIFO with O(1) shift (Array.prototype.shift is O(n) on large arrays).
  class Queue {
    constructor() { this.items = []; this.head = 0; }
    get length() { return this.items.length - this.head; }
    push(x) { this.items.push(x); }
    peek() { return this.items[this.head]; }
    shift() {
      const x = this.items[this.head++];
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      return x;
    }
    drain() { const xs = this.items.slice(this.head); this.items = []; this.head = 0; return xs; }
    prepend(xs) { this.items = xs.concat(this.items.slice(this.head)); this.head = 0; }
  }

  const outbox = new Queue();   // waiting to be sent, in input order
  const inflight = new Queue(); // sent on the current socket; answers come in this order,
                                // and the head is answered until a message with last:true
  const counts = { total: 0, answered: 0, errors: 0 };

  // ----------------------------------------------------------------- socket ---

  const wsUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + WS_PATH;
  let ws = null;
  let openedAt = 0;
  let backoff = BACKOFF_MIN;
  let retryTimer = 0;
  let tickTimer = 0;

  function connect() {
    clearTimeout(retryTimer);
    clearInterval(tickTimer);
    ui.retry.hidden = true;
    if (ws) return;
    setStatus('connecting', 'Connecting…');
    let sock;
    try {
      sock = new WebSocket(wsUrl);
    } catch (err) { // only for a malformed URL; nothing a retry would fix, but keep trying
      setStatus('error', 'Cannot open ' + wsUrl);
      scheduleReconnect('error', 'Cannot connect');
      return;
    }
    ws = sock;
    let opened = false;
    // Each handler checks it still belongs to the current socket: a late event
    // from an old socket must not touch the new one's state.
    sock.onopen = () => {
      if (ws !== sock) return;
      opened = true;
      openedAt = Date.now();
      setStatus('connected', 'Connected');
      pump();
    };
    sock.onmessage = (ev) => { if (ws === sock) onAnswer(ev.data); };
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      onDropped(ev, opened);
    };
    // 'error' carries no detail in browsers and is always followed by 'close'.
  }

  function onDropped(ev, opened) {
    if (opened && Date.now() - openedAt >= STABLE_MS) backoff = BACKOFF_MIN;

    // Numbers sent but not fully answered go back to the front of the queue, to be
    // sent again on the next socket (answers restart from the first factor).
    const unanswered = inflight.drain();
    const requeue = [];
    unanswered.forEach((e, i) => {
      if (e.cleared) return; // the user cleared it: no need to ask again
      // The head was being answered when the socket died; if that keeps happening
      // (say, a frame the server closes the socket for), give that number up
      // instead of looping forever. 1001 (server draining) is not its fault.
      if (i === 0 && ev.code !== 1001 && ++e.attempts >= MAX_ATTEMPTS) {
        finish(e, 'the connection was lost ' + MAX_ATTEMPTS + ' times while this number was being answered');
        return;
      }
      e.state = 'queued';
      e.num = null;
      e.factors = [];
      markDirty(e);
      requeue.push(e);
    });
    outbox.prepend(requeue);

    const why = closeReason(ev);
    if (opened) scheduleReconnect('reconnecting', why);
    else scheduleReconnect('error', ev.code === 1006 ? 'Cannot reach the server' : why);
  }

  function closeReason(ev) {
    const reason = ev.reason ? ': ' + ev.reason : '';
    switch (ev.code) {
      case 1000: return 'Closed by the server' + reason;
      case 1001: return 'The server is restarting';
      case 1006: return 'Connection lost';
      case 1008: return 'Refused by the server' + reason;
      case 1009: return 'A message was too large' + reason;
      case 1011: return 'Server error' + reason;
      default: return 'Closed (' + ev.code + ')' + reason;
    }
  }

  function scheduleReconnect(state, why) {
    const delay = Math.round(backoff * (0.8 + 0.4 * Math.random())); // jitter: don't reconnect in lockstep
    backoff = Math.min(backoff * 2, BACKOFF_MAX);
    const at = Date.now() + delay;
    const label = why + ' — reconnecting';
    const show = () => {
      const s = Math.max(1, Math.ceil((at - Date.now()) / 1000));
      // Only the countdown changes each second; keep it out of the live region's text
      // so screen readers announce the state once, not every tick.
      setStatus(state, label, ' in ' + s + ' s');
    };
    show();
    ui.retry.hidden = false;
    tickTimer = setInterval(show, 1000);
    retryTimer = setTimeout(connect, delay);
  }

  function setStatus(state, text, countdown) {
    ui.status.dataset.state = state;
    if (ui.statusText.firstChild?.nodeValue !== text) ui.statusText.textContent = text;
    ui.countdown.textContent = countdown || '';
    scheduleRender(); // the summary says "in progress" or "waiting for the connection"
  }

  // Send queued numbers while the window has room.
  function pump() {
    while (outbox.length && inflight.length < WINDOW) {
      const e = outbox.peek();
      if (e.state === 'done') { outbox.shift(); place(e); continue; } // failed locally
      if (!ws || ws.readyState !== WebSocket.OPEN) break;
      outbox.shift();
      ws.send(JSON.stringify(e.input)); // a JSON string keeps int64 exact
      e.state = 'sent';
      inflight.push(e);
      place(e);
    }
    // Show the next numbers in line too (as waiting), not only those sent; no more
    // than a window's worth, so a 10,000-number paste doesn't build 10,000 rows.
    for (let i = 0; i < WINDOW && i < outbox.length; i++) place(outbox.items[outbox.head + i]);
    scheduleRender();
  }

  function onAnswer(text) {
    let m;
    try { m = JSON.parse(text); } catch { m = null; }
    const e = inflight.peek();
    if (!e || !m || typeof m !== 'object') {
      console.warn('pfgate: unexpected message', String(text).slice(0, 100));
      return;
    }
    if (typeof m.num === 'string') e.num = m.num;
    checkNum(e, m);
    if (m.result !== undefined && m.result !== '0') e.factors.push(String(m.result));
    if (m.error) e.error = String(m.error);
    if (m.last === true) {
      inflight.shift();
      finish(e, e.error);
      pump();
    } else {
      markDirty(e);
    }
  }

  // Answers are matched to requests by order. When the request was a plain
  // decimal, the answer's num must echo it (num "0" is omitted on the wire);
  // a mismatch means the stream is out of step, which is worth a warning.
  function checkNum(e, m) {
    if (!/^(0|-?[1-9][0-9]{0,18})$/.test(e.input)) return;
    const expected = e.input === '0' ? undefined : e.input;
    if (m.num === undefined && m.error) return; // e.g. a 19-digit number out of int64 range
    if (m.num !== expected) console.warn('pfgate: answer for ' + e.input + ' carries num ' + m.num);
  }

  function finish(e, error) {
    e.state = 'done';
    e.error = error || null;
    if (!e.cleared) {
      counts.answered++;
      if (e.error) counts.errors++;
    }
    markDirty(e);
  }

  // ------------------------------------------------------------------ input ---

  function submit() {
    // Light local validation only: the server is the authority and answers errors.
    const tokens = ui.numbers.value.split(/[\s,]+/).filter((t) => t !== '');
    if (!tokens.length) { ui.numbers.focus(); return; }
    for (const t of tokens) {
      const e = { input: t, num: null, factors: [], error: null, state: 'queued', attempts: 0,
                  row: null, placed: false, gone: false, cleared: false };
      counts.total++;
      // A token this long cannot be an int64; sending it could exceed the server's frame
      // limit, which closes the whole socket (1009) instead of answering an error.
      if (t.length > MAX_TOKEN) finish(e, 'too long for a 64-bit integer (' + t.length + ' characters)');
      outbox.push(e);
    }
    ui.numbers.value = '';
    ui.numbers.focus();
    stickToBottom = true; // show the new results even if the list was scrolled up
    pump();
  }

  ui.form.addEventListener('submit', (ev) => { ev.preventDefault(); submit(); });
  ui.numbers.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); submit(); }
  });
  ui.clear.addEventListener('click', () => {
    // Drops every row and the numbers not sent yet; numbers in flight are still
    // answered (the stream needs their answers to stay in step) but not shown.
    for (const e of outbox.drain()) e.cleared = true;
    for (const e of inflight.items.slice(inflight.head)) { e.cleared = true; e.row = null; }
    shown.length = 0;
    newRows.length = 0;
    dirty.clear();
    trimmedCount = 0;
    ui.list.replaceChildren();
    counts.total = counts.answered = counts.errors = 0;
    scheduleRender();
    ui.numbers.focus();
  });
  ui.retry.addEventListener('click', connect);
  window.addEventListener('online', connect); // network is back: don't wait out the backoff
  if (/Mac|iPhone|iPad/.test(navigator.platform || '')) {
    const k = document.querySelector('.kbd-hint kbd');
    if (k) k.textContent = '⌘';
  }

  // ----------------------------------------------------------------- render ---
  //
  // Messages only update the model and mark entries dirty; the DOM is updated at
  // most once per animation frame, so 10,000 pasted numbers (30,000+ messages)
  // cost a few hundred frames of work, not one layout per message.

  const shown = [];       // entries with a row in the list, oldest first (at most MAX_ROWS)
  let newRows = [];       // entries that need a row, in input order
  const dirty = new Set();
  let trimmedCount = 0;
  let renderQueued = false;
  let stickToBottom = true;

  function place(e) {
    if (e.placed || e.cleared) return;
    e.placed = true;
    newRows.push(e);
  }

  function markDirty(e) {
    if (e.row || (e.placed && !e.gone && !e.cleared)) { dirty.add(e); scheduleRender(); }
  }

  function scheduleRender() {
    if (!renderQueued) { renderQueued = true; requestAnimationFrame(render); }
  }

  ui.list.addEventListener('scroll', () => {
    const l = ui.list;
    stickToBottom = l.scrollHeight - l.scrollTop - l.clientHeight < 32;
  }, { passive: true });

  function render() {
    renderQueued = false;
    if (newRows.length) {
      // Rows that would be trimmed in this same frame are never created.
      const skip = Math.max(0, newRows.length - MAX_ROWS);
      for (let i = 0; i < skip; i++) newRows[i].gone = true;
      trimmedCount += skip;
      const frag = document.createDocumentFragment();
      for (let i = skip; i < newRows.length; i++) {
        const e = newRows[i];
        e.row = document.createElement('li');
        paint(e);
        frag.append(e.row);
        shown.push(e);
      }
      newRows = [];
      ui.list.append(frag);
      const excess = shown.length - MAX_ROWS;
      if (excess > 0) {
        for (const e of shown.splice(0, excess)) { e.row.remove(); e.row = null; e.gone = true; }
        trimmedCount += excess;
      }
    }
    for (const e of dirty) if (e.row) paint(e);
    dirty.clear();

    ui.empty.hidden = shown.length > 0;
    ui.trimmed.hidden = trimmedCount === 0;
    if (trimmedCount) {
      ui.trimmed.textContent = fmt(trimmedCount) + ' earlier ' + plural(trimmedCount, 'result') +
        ' not shown (the list keeps the last ' + fmt(MAX_ROWS) + ').';
    }
    ui.summary.textContent = summaryText();
    if (stickToBottom) ui.list.scrollTop = ui.list.scrollHeight;
  }

  function summaryText() {
    if (!counts.total) return 'Nothing factored yet.';
    const pending = counts.total - counts.answered;
    let s = fmt(counts.total) + ' ' + plural(counts.total, 'number') + ' · ' + fmt(counts.answered) + ' answered';
    if (counts.errors) s += ' · ' + fmt(counts.errors) + ' ' + plural(counts.errors, 'error');
    if (pending) s += ' · ' + fmt(pending) + (ws && ws.readyState === WebSocket.OPEN ? ' in progress' : ' waiting for the connection');
    return s;
  }

  // Draws one entry's row. Text content reads as a sentence
  // ("360 = 2³ × 3² × 5", "97 is prime"), which is also what tests look for.
  function paint(e) {
    const li = e.row;
    const parts = [];
    let kind;
    if (e.state === 'done' && e.error) {
      kind = 'error';
      // The server omits num when the request could not be parsed: show what was typed.
      parts.push(span('num', e.num ?? e.input), ' ', span('sr-only', 'error: '), span('msg', e.error));
    } else {
      const num = e.num ?? (e.state === 'done' ? '0' : e.input); // num "0" is omitted on the wire
      parts.push(span('num', num));
      if (e.state !== 'done') {
        kind = 'pending';
        if (e.factors.length) parts.push(' = ', ...factorNodes(e.factors));
        parts.push(' ', span('dots note', e.state === 'sent' ? '…' : 'waiting…'));
      } else if (!e.factors.length) {
        kind = 'unit';
        parts.push(' ', span('note', 'has no prime factors'));
      } else if (e.factors.length === 1 && e.factors[0] === num) {
        kind = 'prime';
        parts.push(' ', span('note', 'is prime'));
      } else {
        kind = 'composite';
        parts.push(' = ', ...factorNodes(e.factors));
      }
    }
    li.className = 'row ' + kind;
    li.dataset.state = kind;
    li.replaceChildren(...parts);
  }

  // ["2","2","2","3","3","5"] -> 2³ × 3² × 5 (factors arrive in non-decreasing order)
  function factorNodes(fs) {
    const out = [];
    for (let i = 0; i < fs.length;) {
      let j = i;
      while (j < fs.length && fs[j] === fs[i]) j++;
      if (out.length) out.push(span('op', ' × '));
      out.push(span('f', fs[i] + (j - i > 1 ? superscript(j - i) : '')));
      i = j;
    }
    return out;
  }

  const SUP = '⁰¹²³⁴⁵⁶⁷⁸⁹';
  const superscript = (k) => String(k).replace(/[0-9]/g, (d) => SUP[d]);
  const fmt = (n) => n.toLocaleString('en-US');
  const plural = (n, word) => (n === 1 ? word : word + 's');
  function span(cls, text) {
    const s = document.createElement('span');
    s.className = cls;
    s.textContent = text;
    return s;
  }

  render();
  connect();
})();
