// The numbers on the page and their answers, held compactly so that a run of
// 1,000,000 numbers fits: the submitted text once, each token's offset and
// length in typed arrays, one state byte a number, and one string per
// composite (its factors) or error (the message). Primes and 0/1 need no string.
//
// Numbers stay strings throughout: int64 does not fit in a JavaScript number.
'use strict';

export const QUEUED = 0, SENT = 1, COMPOSITE = 2, PRIME = 3, UNIT = 4, ERROR = 5;
export const isDone = (s) => s >= COMPOSITE;

export class Results {
  constructor() {
    this.gen = 0;
    this.reset();
  }

  // Clear: answers still coming for the old generation are dropped by their senders.
  reset() {
    this.gen++;
    this.count = 0;
    this.answered = 0;
    this.errors = 0;
    this.state = new Uint8Array(1024);
    this.info = [];          // per number: factors "2 2 2 3 3 5" (composite), the error, or 0
    this.segs = [];          // one per submit: { base, text, start, len, n }
    this.seg = null;         // the last one looked up (rows are read in runs)
    this.canon = new Map();  // number -> the num the server answered, where it differs from the input
    this.front = 0;          // every number before this one is answered
  }

  // Adds n tokens of text (token k is text.substr(start[k], len[k])), all QUEUED.
  append(text, start, len, n) {
    const need = this.count + n;
    if (need > this.state.length) {
      let cap = this.state.length;
      while (cap < need) cap *= 2;
      const s = new Uint8Array(cap);
      s.set(this.state);
      this.state = s;
    }
    this.segs.push({ base: this.count, text, start, len, n });
    // 0, not holes: the array stays packed (holes made out of order would turn it into a dictionary)
    for (let k = 0; k < n; k++) this.info.push(0);
    this.count = need;
  }

  segOf(i) {
    const s = this.seg;
    if (s && i >= s.base && i < s.base + s.n) return s;
    let lo = 0, hi = this.segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segs[mid].base <= i) lo = mid; else hi = mid - 1;
    }
    return (this.seg = this.segs[lo]);
  }

  // The token as typed.
  input(i) {
    const s = this.segOf(i), k = i - s.base;
    return s.text.substr(s.start[k], s.len[k]);
  }

  inputLength(i) {
    const s = this.segOf(i);
    return s.len[i - s.base];
  }

  // The number as the server read it (it omits num for 0), else as typed.
  num(i) { return this.canon.get(i) ?? this.input(i); }

  finish(i, kind, info) {
    if (isDone(this.state[i])) return;
    this.state[i] = kind;
    this.info[i] = info || 0;
    this.answered++;
    if (kind === ERROR) this.errors++;
    while (this.front < this.count && isDone(this.state[this.front])) this.front++;
  }

  // Drops the numbers from n on (never sent: Stop).
  truncate(n) {
    if (n >= this.count) return;
    for (let i = n; i < this.count; i++) this.state[i] = QUEUED;
    this.info.length = n;
    while (this.segs.length && this.segs[this.segs.length - 1].base >= n) this.segs.pop();
    const last = this.segs[this.segs.length - 1];
    if (last) last.n = Math.min(last.n, n - last.base);
    this.seg = null;
    this.count = n;
  }

  // { kind, num, factors: [..] } or { kind, num, error }; factors only when done.
  // The server omits num when it could not read one: the token as typed stands in.
  entry(i) {
    const kind = this.state[i], num = this.num(i), info = this.info[i];
    if (kind === COMPOSITE) return { kind, num, factors: info.split(' ') };
    if (kind === PRIME) return { kind, num, factors: [num] };
    if (kind === UNIT) return { kind, num, factors: [] };
    if (kind === ERROR) return { kind, num, error: info };
    return { kind, num };
  }
}

// ---- downloads: one line per number, in input order -----------------------

// {"num":"360","factors":["2","2","2","3","3","5"]} / {"num":"-5","error":"..."}:
// the shape of GET /v1/factors/{num}, with the number beside its error.
export function ndjsonLine(r, i) {
  const e = r.entry(i);
  const num = JSON.stringify(e.num);
  if (e.error !== undefined) return '{"num":' + num + ',"error":' + JSON.stringify(e.error) + '}\n';
  if (!e.factors) return '{"num":' + num + ',"pending":true}\n';
  return '{"num":' + num + ',"factors":[' + e.factors.map((f) => '"' + f + '"').join(',') + ']}\n';
}

export const CSV_HEADER = 'number,factors,error\n';

// number,factors,error: factors space-separated, with multiplicity (as GNU factor prints them).
export function csvLine(r, i) {
  const e = r.entry(i);
  return csvField(e.num) + ',' + (e.factors ? e.factors.join(' ') : '') + ',' +
    (e.error !== undefined ? csvField(e.error) : '') + '\n';
}

function csvField(s) {
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

// Builds a Blob of lines [0, r.count) a slice at a time, so a million lines
// never hold the page for long. Resolves to null when r was reset meanwhile.
export async function buildBlob(r, header, line, type) {
  const gen = r.gen, n = r.count, parts = [header];
  for (let lo = 0; lo < n;) {
    const t = performance.now(), chunk = [];
    let i = lo;
    for (; i < n && performance.now() - t < 8; i += 512) {
      const hi = Math.min(i + 512, n);
      for (let k = i; k < hi; k++) chunk.push(line(r, k));
    }
    parts.push(chunk.join(''));
    lo = Math.min(i, n);
    await new Promise((res) => setTimeout(res, 0));
    if (r.gen !== gen || r.count < n) return null;
  }
  return new Blob(parts, { type });
}
