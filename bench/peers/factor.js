'use strict';
// The factoring routine of the Node peers (bench/peers/grpc_server.js, ws_server.js).
//
// factor(s) takes a decimal string (an int64) and returns its prime factors in
// non-decreasing order, with multiplicity, as Numbers when the number is at most
// 2^53 and as BigInts above that.
//
// Numbers up to 2^53 use plain Number trial division (2, 3, then 6k±1). The
// network benchmarks send consecutive numbers from 2 upward, whose factoring is a
// few hundred divisions at most, so trial division is the right tool there and
// the benchmark measures the servers' stream handling, not their factoring.
// Above 2^53 Number loses precision, so BigInt is used, and since trial division
// of a prime near 2^63 would take minutes, that path is Miller–Rabin with the
// deterministic bases for 64 bits plus Pollard–Brent rho.

const LIMIT = 2 ** 53;

function trialNumber(n, out) {
  while (n % 2 === 0) { out.push(2); n /= 2; }
  while (n % 3 === 0) { out.push(3); n /= 3; }
  for (let d = 5; d * d <= n; d += 6) {
    while (n % d === 0) { out.push(d); n /= d; }
    const e = d + 2;
    while (n % e === 0) { out.push(e); n /= e; }
  }
  if (n > 1) out.push(n);
  return out;
}

function powmod(b, e, m) {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

const MR_BASES = [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n];

function isPrimeBig(n) {
  if (n < 2n) return false;
  for (const p of MR_BASES) {
    if (n === p) return true;
    if (n % p === 0n) return false;
  }
  let d = n - 1n, s = 0;
  while ((d & 1n) === 0n) { d >>= 1n; s++; }
  next: for (const a of MR_BASES) {
    let x = powmod(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let i = 1; i < s; i++) {
      x = (x * x) % n;
      if (x === n - 1n) continue next;
    }
    return false;
  }
  return true;
}

function gcd(a, b) {
  while (b) { [a, b] = [b, a % b]; }
  return a;
}

// Pollard–Brent rho: a nontrivial factor of a composite n.
function rho(n) {
  if (n % 2n === 0n) return 2n;
  for (let c = 1n; ; c++) {
    let y = 2n, x = 2n, g = 1n, q = 1n, ys = 2n;
    const m = 128n;
    let r = 1n;
    const f = (v) => (v * v + c) % n;
    do {
      x = y;
      for (let i = 0n; i < r; i++) y = f(y);
      let k = 0n;
      do {
        ys = y;
        for (let i = 0n; i < m && i < r - k; i++) {
          y = f(y);
          q = (q * (x > y ? x - y : y - x)) % n;
        }
        g = gcd(q, n);
        k += m;
      } while (k < r && g === 1n);
      r *= 2n;
    } while (g === 1n);
    if (g === n) {
      do {
        ys = f(ys);
        g = gcd(x > ys ? x - ys : ys - x, n);
      } while (g === 1n);
    }
    if (g !== n) return g;
  }
}

function factorBig(n, out) {
  if (n === 1n) return;
  if (n <= BigInt(LIMIT)) {
    for (const p of trialNumber(Number(n), [])) out.push(BigInt(p));
    return;
  }
  if (isPrimeBig(n)) { out.push(n); return; }
  // Strip small factors first, then split the rest.
  for (let p = 2n; p < 1000n; p++) {
    if (n % p === 0n) {
      while (n % p === 0n) { out.push(p); n /= p; }
      factorBig(n, out);
      return;
    }
  }
  const d = rho(n);
  factorBig(d, out);
  factorBig(n / d, out);
}

// s: a decimal string of a non-negative int64. Returns the sorted factors.
function factor(s) {
  if (s.length < 16) {
    const n = Number(s);
    return n < 2 ? [] : trialNumber(n, []);
  }
  const n = BigInt(s);
  if (n <= BigInt(LIMIT)) return trialNumber(Number(n), []);
  const out = [];
  factorBig(n, out);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

module.exports = { factor };
