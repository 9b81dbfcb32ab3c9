'use strict';
// The factoring routine of the Node peers (bench/peers/grpc_server.js, ws_server.js).
//
// factor(s) takes a decimal string (an int64) and returns its prime factors in
// non-decreasing order, with multiplicity, as Numbers when the number is at most
// 2^53 and as BigInts above that.
//
// The same plan as pfgate's core and the grpc-go peer (bench/peers/go/.../factor.go),
// so that a benchmark on numbers uniform in [2, 2^40] compares gRPC stacks, not
// factoring: trial division by the primes below 512, then deterministic
// Miller-Rabin and Pollard-Brent rho on what is left. Cofactors below 2^41 (all
// of them for inputs up to 2^40) use Number arithmetic with mulmod41 below;
// larger ones use BigInt. Measured (bench/peers/factor_check.js --bench, u40
// numbers): mulmod41 is about 5x faster than BigInt and 4x faster than an
// exact Horner mulmod over 12-bit chunks of one factor.

const TRIAL_LIMIT = 512;
const FAST_MAX = 2 ** 41; // mulmod41 is exact for moduli below this
const LIMIT = 2 ** 53;

// Odd primes below TRIAL_LIMIT and their reciprocals.
const PRIMES = [];
for (let n = 3; n < TRIAL_LIMIT; n += 2) {
  if (PRIMES.every((p) => n % p !== 0)) PRIMES.push(n);
}
const RECIP = PRIMES.map((p) => 1 / p);

// a*b mod n for integers 0 <= a, b < n < 2^41, exactly. The float a*b - q*n is
// within 2^30 of the true a*b - q*n (each product is within 2^29 of its value);
// Math.imul gives the true value mod 2^32; together they give it exactly.
function mulmod41(a, b, n, ninv) {
  const p = a * b;
  const q = Math.floor(p * ninv);
  const approx = p - q * n;
  let r = approx + ((Math.imul(a, b) - Math.imul(q, n) - approx) | 0);
  if (r < 0) r += n;
  else if (r >= n) r -= n;
  return r;
}

function gcdNumber(a, b) {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// Deterministic Miller-Rabin bases (Jaeschke; the last set is Sinclair's, for 2^64).
const BASES_A = [2, 7, 61]; // n < 4,759,123,141
const BASES_B = [2, 13, 23, 1662803]; // n < 1,122,004,669,633
const BASES_BIG = [2n, 325n, 9375n, 28178n, 450775n, 9780504n, 1795265022n];

// Miller-Rabin for an odd n in (TRIAL_LIMIT, FAST_MAX) with no factor below TRIAL_LIMIT.
function isPrimeFast(n) {
  const ninv = 1 / n;
  let d = n - 1, s = 0;
  while (d % 2 === 0) { d /= 2; s++; }
  const bases = n < 4759123141 ? BASES_A : n < 1122004669633 ? BASES_B : null;
  if (bases === null) return isPrimeBig(BigInt(n));
  next: for (const a0 of bases) {
    const a = a0 % n;
    if (a === 0) continue;
    // x = a^d mod n
    let x = 1, b = a;
    for (let e = d; e > 0; e = Math.floor(e / 2)) {
      if (e % 2 === 1) x = mulmod41(x, b, n, ninv);
      b = mulmod41(b, b, n, ninv);
    }
    if (x === 1 || x === n - 1) continue;
    for (let i = 1; i < s; i++) {
      x = mulmod41(x, x, n, ninv);
      if (x === n - 1) continue next;
    }
    return false;
  }
  return true;
}

// Pollard-Brent rho: a nontrivial factor of the odd composite n < FAST_MAX.
function rhoFast(n) {
  const ninv = 1 / n;
  const m = 128;
  for (let c = 1; ; c++) {
    let y = 2, x = 2, ys = 2, q = 1, g = 1, r = 1;
    const f = (v) => {
      const s = mulmod41(v, v, n, ninv) + c;
      return s >= n ? s - n : s;
    };
    do {
      x = y;
      for (let i = 0; i < r; i++) y = f(y);
      for (let k = 0; k < r && g === 1; k += m) {
        ys = y;
        const lim = Math.min(m, r - k);
        for (let i = 0; i < lim; i++) {
          y = f(y);
          q = mulmod41(q, x > y ? x - y : y - x, n, ninv);
        }
        g = gcdNumber(q, n);
      }
      r *= 2;
    } while (g === 1);
    if (g === n) {
      do {
        ys = f(ys);
        g = gcdNumber(x > ys ? x - ys : ys - x, n);
      } while (g === 1);
    }
    if (g !== n) return g;
  }
}

function powmodBig(b, e, m) {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

// Miller-Rabin for an odd n > TRIAL_LIMIT with no factor below TRIAL_LIMIT, n < 2^64.
function isPrimeBig(n) {
  let d = n - 1n, s = 0;
  while ((d & 1n) === 0n) { d >>= 1n; s++; }
  next: for (const a0 of BASES_BIG) {
    const a = a0 % n;
    if (a === 0n) continue;
    let x = powmodBig(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let i = 1; i < s; i++) {
      x = (x * x) % n;
      if (x === n - 1n) continue next;
    }
    return false;
  }
  return true;
}

function gcdBig(a, b) {
  while (b) { [a, b] = [b, a % b]; }
  return a;
}

// Pollard-Brent rho: a nontrivial factor of the odd composite BigInt n.
function rhoBig(n) {
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
        g = gcdBig(q, n);
        k += m;
      } while (k < r && g === 1n);
      r *= 2n;
    } while (g === 1n);
    if (g === n) {
      do {
        ys = f(ys);
        g = gcdBig(x > ys ? x - ys : ys - x, n);
      } while (g === 1n);
    }
    if (g !== n) return g;
  }
}

// Appends the prime factors of n (odd, no factor below TRIAL_LIMIT, a Number
// below FAST_MAX) in any order.
function splitFast(n, out) {
  if (n < TRIAL_LIMIT * TRIAL_LIMIT || isPrimeFast(n)) {
    out.push(n);
    return;
  }
  const d = rhoFast(n);
  splitFast(d, out);
  splitFast(n / d, out);
}

// The same for a BigInt n; factors that fit go to splitFast.
function splitBig(n, out, asNumber) {
  if (n < BigInt(FAST_MAX)) {
    const fs = [];
    splitFast(Number(n), fs);
    for (const f of fs) out.push(asNumber ? f : BigInt(f));
    return;
  }
  if (isPrimeBig(n)) {
    out.push(asNumber ? Number(n) : n);
    return;
  }
  const d = rhoBig(n);
  splitBig(d, out, asNumber);
  splitBig(n / d, out, asNumber);
}

function sortTail(out, from) {
  if (out.length - from < 2) return;
  const tail = out.splice(from).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const f of tail) out.push(f);
}

// The factors of the Number 2 <= n <= 2^53.
function factorNumber(n) {
  const out = [];
  while (n % 2 === 0) { out.push(2); n /= 2; }
  // n * RECIP[i] is within 2^-10 of n/p while n < 2^42 (3 <= p < 512), so
  // floor() is exact or, when p divides n, one less (r === p).
  const recip = n < 2 ** 42;
  for (let i = 0; i < PRIMES.length; i++) {
    const p = PRIMES[i];
    if (p * p > n) {
      if (n > 1) out.push(n);
      return out;
    }
    for (;;) {
      let q;
      if (recip) {
        q = Math.floor(n * RECIP[i]);
        const r = n - q * p;
        if (r === p) q++;
        else if (r !== 0) break;
      } else {
        if (n % p !== 0) break;
        q = n / p;
      }
      out.push(p);
      n = q;
    }
  }
  if (n === 1) return out;
  const from = out.length;
  if (n < FAST_MAX) splitFast(n, out);
  else splitBig(BigInt(n), out, true);
  sortTail(out, from);
  return out;
}

// The factors of the BigInt n > 2^53, as BigInts.
function factorBigInt(n) {
  const out = [];
  while ((n & 1n) === 0n) { out.push(2n); n >>= 1n; }
  for (const p0 of PRIMES) {
    const p = BigInt(p0);
    while (n % p === 0n) { out.push(p); n /= p; }
  }
  if (n === 1n) return out;
  const from = out.length;
  splitBig(n, out, false);
  sortTail(out, from);
  return out;
}

// s: a decimal string of a non-negative int64. Returns the sorted factors.
function factor(s) {
  if (s.length < 16) {
    const n = Number(s);
    return n < 2 ? [] : factorNumber(n);
  }
  const n = BigInt(s);
  if (n <= BigInt(LIMIT)) return factorNumber(Number(n));
  return factorBigInt(n);
}

module.exports = { factor, mulmod41 };
