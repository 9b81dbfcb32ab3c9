// Sends the page's numbers to pfgate and files the answers in the Results
// store (see SPEC.md, "JSON messages" and "The WebSocket session").
//
// Two ways in, one answer format:
// - the WebSocket /primefactor.Factors/PrimeFactors: always open, it shows
//   the connection state and carries small runs (what a person types), up to
//   WINDOW numbers in flight;
// - for a run of BULK_MIN numbers or more, batches of the same JSON requests
//   POSTed to the same path (the NDJSON stream), BULK_PARALLEL at a time.
//   Chromium delivers about 6,000-9,000 WebSocket messages a second here, one
//   per factor (a page that does nothing else took 55 s for 100,000 numbers
//   near 2^63); an NDJSON response arrives in large chunks instead.
// Answers are matched to requests by order on each stream: a number's answers
// are contiguous and its last one carries "last":true.
'use strict';

import { QUEUED, SENT, COMPOSITE, PRIME, UNIT, ERROR, isDone } from './store.js';

const WS_PATH = '/primefactor.Factors/PrimeFactors';
const WINDOW = 256;        // numbers in flight on the socket (the server holds at most --max-pending)
const BULK_MIN = 1000;     // a run this long goes in NDJSON batches
const BATCH = 4096;        // numbers per POST
const FIRST_BATCH = 256;   // a run's first POSTs are smaller, doubling up to BATCH: their
                           // answers arrive while the page is still busy starting the run
const BULK_PARALLEL = 3;   // POSTs at once: the server factors them on all its workers
const BULK_GIVE_UP = 4;    // batches failed in a row (the socket working) before they are given up
const MAX_TOKEN = 256;     // longer tokens cannot be an int64; sending one could exceed the frame limit
const MAX_ATTEMPTS = 3;    // a number whose answer was cut off this often is given up
const BACKOFF_MIN = 500;   // ms, doubled after each failed attempt ...
const BACKOFF_MAX = 10000; // ... up to this
const STABLE_MS = 5000;    // a socket open this long resets the backoff

// One number's answers as they come in, one message per factor.
class Answer {
  constructor() { this.reset(); }
  reset() { this.parts = []; this.num = undefined; this.error = undefined; }

  // Takes the JSON message text[from, end); true when it was the number's last.
  // The server's most common shapes, {"result":"2","num":"12"} and
  // {"result":"3","num":"12","last":true}, are read directly (several times
  // faster than JSON.parse); anything else goes through JSON.parse.
  takeAt(text, from, end) {
    if (text.startsWith(RESULT, from)) {
      const r0 = from + RESULT.length, r1 = digitsEnd(text, r0);
      if (r1 > r0 && text.startsWith(NUM, r1)) {
        const n0 = r1 + NUM.length, n1 = digitsEnd(text, n0);
        const last = end - n1 === LAST.length && text.startsWith(LAST, n1);
        if (n1 > n0 && (last || (end - n1 === 2 && text.startsWith('"}', n1)))) {
          const result = text.slice(r0, r1);
          if (result !== '0') this.parts.push(result);
          this.num = text.slice(n0, n1);
          return last;
        }
      }
    }
    return this.take(text.slice(from, end));
  }

  // Takes one JSON message; true when it was the number's last.
  take(text) {
    let m;
    try { m = JSON.parse(text); } catch { m = null; }
    if (!m || typeof m !== 'object') {
      console.warn('pfgate: unexpected message', String(text).slice(0, 100));
      return false;
    }
    if (typeof m.num === 'string') this.num = m.num;
    if (m.result !== undefined && m.result !== '0') this.parts.push(String(m.result));
    if (m.error) this.error = String(m.error);
    return m.last === true;
  }
}

const RESULT = '{"result":"', NUM = '","num":"', LAST = '","last":true}';

// Where the decimal (an optional '-', then digits) starting at i ends.
function digitsEnd(text, i) {
  if (text.charCodeAt(i) === 45) i++;
  for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i));
  return i;
}

const errorText = new Map(); // one string per distinct error message, not one per number

export function createTransport(res, hooks) {
  const waiting = [];     // [lo, hi) index ranges to send, in order
  let waitingCount = 0;
  const inflight = [];    // { i, gen } sent on the socket, oldest first
  let inflightHead = 0;
  const wsAnswer = new Answer();
  const batches = new Set(); // AbortControllers of the POSTs in flight
  const attempts = new Map(); // index -> times its answer was cut off
  let bulkPause = 0;          // ms batches wait after a failed one (0: none failed lately)
  let bulkResumeAt = 0;
  let bulkFailures = 0;       // batches failed in a row while the socket was open
  let batchSize = FIRST_BATCH; // the next POST's numbers: doubles up to BATCH, from FIRST_BATCH
                               // again once none is in flight
  let bulkAnswering = false;  // a batch of this stretch got a 200: the others may start

  // ---------------------------------------------------------------- answers --

  // Files a's answers as number i's; a is reset for the next number.
  function settle(i, a) {
    const input = res.input(i);
    const num = a.num ?? (a.error ? undefined : '0'); // num "0" is omitted on the wire
    checkNum(input, a);
    // (a copy: a slice of a large answer chunk would keep the whole chunk alive)
    if (num !== undefined && num !== input) res.canon.set(i, JSON.parse(JSON.stringify(num)));
    if (a.error) {
      let msg = errorText.get(a.error);
      if (msg === undefined) {
        msg = a.error;
        if (errorText.size < 256) errorText.set(msg, msg);
      }
      res.finish(i, ERROR, msg);
    } else if (!a.parts.length) {
      res.finish(i, UNIT);
    } else if (a.parts.length === 1 && a.parts[0] === num) {
      res.finish(i, PRIME);
    } else {
      res.finish(i, COMPOSITE, a.parts.join(' '));
    }
    attempts.delete(i);
    a.reset();
  }

  // When the request was a plain decimal, the answer's num must echo it; a
  // mismatch means a stream is out of step, which is worth a warning.
  function checkNum(input, a) {
    if (!/^(0|-?[1-9][0-9]{0,18})$/.test(input)) return;
    const expected = input === '0' ? undefined : input;
    if (a.num === undefined && a.error) return; // e.g. a 19-digit number out of int64 range
    if (a.num !== expected) console.warn('pfgate: answer for ' + input + ' carries num ' + a.num);
  }

  function failLocally(i, why) { res.finish(i, ERROR, why); }

  // --------------------------------------------------------------- queueing --

  function enqueue(lo, hi) {
    if (hi <= lo) return;
    const last = waiting[waiting.length - 1];
    if (last && last[1] === lo) last[1] = hi; else waiting.push([lo, hi]);
    waitingCount += hi - lo;
  }

  // Cut-off numbers go back to the front, to be sent again first.
  function requeue(idx) {
    if (!idx.length) return;
    for (const i of idx) res.state[i] = QUEUED;
    const ranges = [];
    for (const i of idx) {
      const r = ranges[ranges.length - 1];
      if (r && r[1] === i) r[1]++; else ranges.push([i, i + 1]);
    }
    waiting.unshift(...ranges);
    waitingCount += idx.length;
  }

  // The next number to send (skipping those failed locally), or -1.
  function takeOne() {
    while (waiting.length) {
      const r = waiting[0];
      const i = r[0]++;
      waitingCount--;
      if (r[0] >= r[1]) waiting.shift();
      if (isDone(res.state[i])) continue;
      if (res.inputLength(i) > MAX_TOKEN) {
        failLocally(i, 'too long for a 64-bit integer (' + res.inputLength(i) + ' characters)');
        continue;
      }
      return i;
    }
    return -1;
  }

  // The cut-off head of a stream: given up after MAX_ATTEMPTS (not its fault
  // when the server is restarting), else sent again.
  function cutOff(idx, blameHead) {
    if (idx.length && blameHead) {
      const i = idx[0], n = (attempts.get(i) || 0) + 1;
      attempts.set(i, n);
      if (n >= MAX_ATTEMPTS) {
        failLocally(i, 'the connection was lost ' + MAX_ATTEMPTS + ' times while this number was being answered');
        idx = idx.slice(1);
      }
    }
    requeue(idx);
  }

  function pump() {
    if (!isOpen()) return;
    // A run that started in batches ends in batches: its tail is no faster on the socket.
    const bulk = bulkFailures < BULK_GIVE_UP && (waitingCount >= BULK_MIN || batches.size > 0 || bulkPause > 0);
    if (bulk && Date.now() >= bulkResumeAt) {
      if (batches.size === 0) batchSize = FIRST_BATCH, bulkAnswering = false;
      // One POST until the server answers one: a refusing server gets one at a time.
      const parallel = bulkAnswering ? BULK_PARALLEL : 1;
      while (waitingCount && batches.size < parallel) if (!startBatch()) break;
    }
    if (bulk) { hooks.changed(); return; }
    while (waitingCount && inflight.length - inflightHead < WINDOW) {
      const i = takeOne();
      if (i < 0) break;
      ws.send(JSON.stringify(res.input(i))); // a JSON string keeps int64 exact
      res.state[i] = SENT;
      inflight.push({ i, gen: res.gen });
    }
    hooks.changed();
  }

  // ----------------------------------------------------------------- socket --

  const wsUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + WS_PATH;
  let ws = null;
  let openedAt = 0;
  let backoff = BACKOFF_MIN;
  let retryTimer = 0;
  let tickTimer = 0;

  const isOpen = () => ws !== null && ws.readyState === WebSocket.OPEN;

  function connect() {
    clearTimeout(retryTimer);
    clearInterval(tickTimer);
    hooks.retryHidden(true);
    if (ws) return;
    hooks.status('connecting', 'Connecting…');
    let sock;
    try {
      sock = new WebSocket(wsUrl);
    } catch { // only for a malformed URL; nothing a retry would fix, but keep trying
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
      hooks.status('connected', 'Connected');
      pump();
    };
    sock.onmessage = (ev) => { if (ws === sock) onWsMessage(ev.data); };
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      onDropped(ev, opened);
    };
    // 'error' carries no detail in browsers and is always followed by 'close'.
  }

  function onWsMessage(text) {
    if (inflightHead >= inflight.length) {
      console.warn('pfgate: unexpected message', String(text).slice(0, 100));
      return;
    }
    if (!wsAnswer.takeAt(text, 0, text.length)) return;
    const { i, gen } = inflight[inflightHead++];
    if (inflightHead > 1024 && inflightHead * 2 > inflight.length) {
      inflight.splice(0, inflightHead);
      inflightHead = 0;
    }
    if (gen === res.gen) settle(i, wsAnswer); else wsAnswer.reset(); // cleared meanwhile
    pump();
  }

  function onDropped(ev, opened) {
    if (opened && Date.now() - openedAt >= STABLE_MS) backoff = BACKOFF_MIN;
    // Numbers sent but not fully answered go back to the front of the queue,
    // to be sent again on the next socket (answers restart from the first factor).
    const idx = inflight.slice(inflightHead).filter((e) => e.gen === res.gen).map((e) => e.i);
    inflight.length = 0;
    inflightHead = 0;
    wsAnswer.reset();
    // 1001 (server draining) is not the head number's fault.
    cutOff(idx, ev.code !== 1001);
    const why = closeReason(ev);
    if (opened) scheduleReconnect('reconnecting', why);
    else scheduleReconnect('error', ev.code === 1006 ? 'Cannot reach the server' : why);
    hooks.changed();
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
    // Only the countdown changes each second; it stays out of the announced text.
    const show = () => hooks.status(state, label, ' in ' + Math.max(1, Math.ceil((at - Date.now()) / 1000)) + ' s');
    show();
    hooks.retryHidden(false);
    tickTimer = setInterval(show, 1000);
    retryTimer = setTimeout(connect, delay);
  }

  // ---------------------------------------------------------------- batches --

  // POSTs the next BATCH numbers; false when there was nothing to send.
  function startBatch() {
    const idx = [], lines = [];
    const size = batchSize;
    batchSize = Math.min(BATCH, batchSize * 2);
    while (idx.length < size) {
      const i = takeOne();
      if (i < 0) break;
      idx.push(i);
      lines.push(JSON.stringify(res.input(i)));
      res.state[i] = SENT;
    }
    if (!idx.length) return false;
    const ctl = new AbortController();
    batches.add(ctl);
    runBatch(idx, lines.join('\n') + '\n', ctl, res.gen);
    return true;
  }

  async function runBatch(idx, body, ctl, gen) {
    let k = 0; // idx[k] is being answered
    let failed = null;
    let answering = false; // the server took the batch (200) and began answering
    try {
      const resp = await fetch(WS_PATH, {
        method: 'POST', body, signal: ctl.signal, cache: 'no-store',
        headers: { 'Content-Type': 'application/x-ndjson' },
      });
      if (!resp.ok) throw new Error('HTTP ' + resp.status); // e.g. 503 while the server drains
      answering = true;
      if (!bulkAnswering) { bulkAnswering = true; pump(); }
      const reader = resp.body.getReader();
      const dec = new TextDecoder();
      const a = new Answer();
      let rest = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (gen !== res.gen) continue; // cleared: read to the end, file nothing
        const text = rest + dec.decode(value, { stream: true });
        let from = 0, t = performance.now();
        for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
          const at = from;
          from = nl + 1;
          if (nl === at || k >= idx.length) continue;
          if (a.takeAt(text, at, nl)) settle(idx[k++], a);
          // A large chunk (the page was busy) is filed a slice at a time: frames go on meanwhile.
          if ((k & 63) === 0 && performance.now() - t > 6) {
            hooks.changed();
            await new Promise((r) => setTimeout(r, 0));
            if (gen !== res.gen) break;
            t = performance.now();
          }
        }
        rest = text.slice(from);
        hooks.changed();
      }
      if (k < idx.length && gen === res.gen) failed = 'the answers ended early';
    } catch (err) {
      failed = err;
    } finally {
      batches.delete(ctl);
    }
    if (gen === res.gen && k < idx.length) {
      console.info('pfgate: a batch stopped after', k, 'of', idx.length, 'answers:', String(failed));
      // Cut off mid-answer while the socket is up: maybe the head number's fault. Refused,
      // or with the socket gone too, the server is away (restarting, say): not its fault.
      cutOff(idx.slice(k), answering && isOpen());
      // POSTs failing while the socket works (a proxy that passes WebSockets only, say):
      // after BULK_GIVE_UP in a row, everything goes on the socket, slower but answered.
      if (isOpen() && ++bulkFailures === BULK_GIVE_UP) console.info('pfgate: NDJSON batches keep failing; using the WebSocket only');
      // No batch until a pause has passed, doubled after each failure: no storm of refused POSTs.
      bulkPause = Math.min(bulkPause ? bulkPause * 2 : BACKOFF_MIN, BACKOFF_MAX);
      bulkResumeAt = Date.now() + bulkPause;
      setTimeout(pump, bulkPause);
    } else if (gen === res.gen) {
      bulkPause = bulkFailures = 0;
    }
    pump();
  }

  // -------------------------------------------------------------------- run --

  return {
    connect,
    isOpen,
    // Queues numbers [lo, hi) of the store.
    send(lo, hi) { enqueue(lo, hi); pump(); },
    busy: () => waitingCount > 0 || batches.size > 0 || inflight.length > inflightHead,
    // The numbers not sent yet are dropped; those in flight are still answered.
    stop() {
      const ranges = waiting.splice(0);
      waitingCount = 0;
      const tail = ranges.length && ranges[ranges.length - 1][1] === res.count ? ranges.pop() : null;
      for (const [lo, hi] of ranges) for (let i = lo; i < hi; i++) failLocally(i, 'not sent: stopped');
      if (tail) res.truncate(tail[0]);
      hooks.changed();
    },
    // Forget everything; answers in flight on the socket are read and dropped.
    clear() {
      waiting.length = 0;
      waitingCount = 0;
      for (const ctl of batches) ctl.abort();
      batches.clear();
      attempts.clear();
      bulkPause = bulkResumeAt = 0;
    },
    inflightCount: () => inflight.length - inflightHead,
  };
}
