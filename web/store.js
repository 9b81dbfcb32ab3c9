// The numbers on the page and their answers, held compactly so that a run of
// 1,000,000 numbers fits: the submitted text once, each token's offset and
// length in typed arrays, one state byte a number, composites' factors as text
// in 64 KiB blocks (6 bytes a number besides the text), errors in a Map.
// Primes and 0/1 need nothing more.
//
// Numbers stay strings throughout: int64 does not fit in a JavaScript number.
'use strict';

export const QUEUED = 0, SENT = 1, COMPOSITE = 2, PRIME = 3, UNIT = 4, ERROR = 5;
export const isDone = (s) => s >= COMPOSITE;

// Short texts appended to blocks of up to 64 KiB: one string per block, not
// one per text (a million small strings cost ~16 MB of headers, and GC time).
class TextBlocks {
  constructor() { this.blocks = []; this.open = []; this.openLen = 0; }

  // Where s went: block * 65536 + offset.
  add(s) {
    if (this.openLen + s.length > 65535) this.close();
    const at = this.blocks.length * 65536 + this.openLen;
    this.open.push(s);
    this.openLen += s.length;
    return at;
  }

  close() {
    this.blocks.push(this.open.join(''));
    this.open = [];
    this.openLen = 0;
  }

  get(at, len) {
    const b = Math.floor(at / 65536);
    if (b === this.blocks.length) this.close(); // still being filled
    return this.blocks[b].substr(at % 65536, len);
  }
}

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
    this.factorAt = new Uint32Array(1024); // a composite's factors "2 2 2 3 3 5": where in factorText ...
    this.factorLen = new Uint8Array(1024); // ... and how long (below 2^63: at most 62 factors, 123 characters)
    this.factorText = new TextBlocks();
    this.errorOf = new Map();          // number -> its error message
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
      const grow = (a) => { const b = new a.constructor(cap); b.set(a); return b; };
      this.state = grow(this.state);
      this.factorAt = grow(this.factorAt);
      this.factorLen = grow(this.factorLen);
    }
    this.segs.push({ base: this.count, text, start, len, n });
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

  // info: a composite's factors, space-separated, or the error message.
  finish(i, kind, info) {
    if (isDone(this.state[i])) return;
    this.state[i] = kind;
    if (kind === COMPOSITE) {
      this.factorAt[i] = this.factorText.add(info);
      this.factorLen[i] = info.length;
    } else if (kind === ERROR) {
      this.errorOf.set(i, info);
    }
    this.answered++;
    if (kind === ERROR) this.errors++;
    while (this.front < this.count && isDone(this.state[this.front])) this.front++;
  }

  // Drops the numbers from n on (never sent: Stop).
  truncate(n) {
    if (n >= this.count) return;
    for (let i = n; i < this.count; i++) this.state[i] = QUEUED;
    while (this.segs.length && this.segs[this.segs.length - 1].base >= n) this.segs.pop();
    const last = this.segs[this.segs.length - 1];
    if (last) last.n = Math.min(last.n, n - last.base);
    this.seg = null;
    this.count = n;
  }

  // { kind, num, factors: [..] } or { kind, num, error }; factors only when done.
  // The server omits num when it could not read one: the token as typed stands in.
  entry(i) {
    const kind = this.state[i], num = this.num(i);
    if (kind === COMPOSITE) return { kind, num, factors: this.factors(i).split(' ') };
    if (kind === PRIME) return { kind, num, factors: [num] };
    if (kind === UNIT) return { kind, num, factors: [] };
    if (kind === ERROR) return { kind, num, error: this.errorOf.get(i) };
    return { kind, num };
  }

  // A composite's factors, "2 2 2 3 3 5".
  factors(i) { return this.factorText.get(this.factorAt[i], this.factorLen[i]); }
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
