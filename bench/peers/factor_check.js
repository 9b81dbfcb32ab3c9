#!/usr/bin/env node
// Checks factor.js against a reference factoring program, by hand:
//   node bench/peers/factor_check.js [COUNT]      (default 5000)
//   node bench/peers/factor_check.js --bench      (timings, nothing checked)
// The numbers: COUNT of the benchmarks' u40 numbers (bench/uniform40.h), the
// small ones, squares and products of primes near the trial limit and near
// 2^20, numbers around 2^40, 2^41, 2^53 and 2^63, and COUNT/10 hashed 64-bit
// ones. The reference is $PFFACTOR, else build/pffactor, else GNU `factor`;
// its lines `N: F F ...` are compared with factor(N). Exits 1 on a mismatch.
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { factor, mulmod41 } = require('./factor');

const M64 = (1n << 64n) - 1n;

// splitmix64 of i, as in bench/uniform40.h.
function mix(i) {
  let z = (BigInt(i) * 0x9e3779b97f4a7c15n + 0x9e3779b97f4a7c15n) & M64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return z ^ (z >> 31n);
}
const u40 = (i) => 2n + (mix(i) % ((1n << 40n) - 1n));

function numbers(count) {
  const out = [];
  for (let i = 0; i < count; i++) out.push(u40(i));
  for (let n = 0n; n < 1000n; n++) out.push(n);
  // Primes just below the trial limit and around 2^20, squared and multiplied.
  const ps = [503n, 509n, 521n, 523n, 1048573n, 1048583n, 1048589n, 999983n, 1000003n];
  for (const a of ps) for (const b of ps) out.push(a * b);
  out.push(1048573n * 1048573n * 1048573n);
  for (const e of [18n, 40n, 41n, 42n, 52n, 53n, 54n, 62n, 63n]) {
    const c = 1n << e;
    for (let d = -40n; d <= 40n; d++) if (c + d >= 0n && c + d < 1n << 63n) out.push(c + d);
  }
  out.push((1n << 63n) - 25n, 9223372036854775783n, 4294967291n * 4294967279n);
  for (let i = 0; i < count / 10; i++) out.push(mix(1e6 + i) >> 1n);
  return out;
}

function reference(nums) {
  const input = nums.join('\n') + '\n';
  const candidates = [process.env.PFFACTOR, path.resolve(__dirname, '../../build/pffactor'), 'factor'];
  for (const prog of candidates) {
    if (!prog || (prog !== 'factor' && !fs.existsSync(prog))) continue;
    const text = execFileSync(prog, [], { input, maxBuffer: 1 << 28 }).toString();
    return { prog, lines: text.trim().split('\n') };
  }
  throw new Error('no reference: set PFFACTOR or build build/pffactor');
}

function check(count) {
  const nums = numbers(count);
  const { prog, lines } = reference(nums);
  let bad = 0;
  nums.forEach((n, i) => {
    const got = `${n}:` + factor(String(n)).map((f) => ` ${f}`).join('');
    if (got !== lines[i]) {
      if (++bad <= 10) console.error(`factor_check: want "${lines[i]}", got "${got}"`);
    }
  });
  console.log(`factor_check: ${nums.length} numbers against ${prog}: ${bad} wrong`);
  process.exit(bad ? 1 : 0);
}

// --bench: the candidates for an exact a*b mod n below 2^53 with Numbers.
function mulmodBig(a, b, n) {
  return Number((BigInt(a) * BigInt(b)) % BigInt(n));
}
// Horner over 12-bit chunks of b: each step stays below 2^53 when n < 2^40.
function mulmodChunks(a, b, n) {
  const c3 = Math.floor(b / 2 ** 36), c2 = Math.floor(b / 2 ** 24) % 4096;
  const c1 = Math.floor(b / 4096) % 4096, c0 = b % 4096;
  let r = (a * c3) % n;
  r = (r * 4096 + a * c2) % n;
  r = (r * 4096 + a * c1) % n;
  return (r * 4096 + a * c0) % n;
}

function time(label, fn) {
  const t0 = process.hrtime.bigint();
  const v = fn();
  const ns = Number(process.hrtime.bigint() - t0);
  return { label, ns, v };
}

function bench() {
  const n = 1099511627689; // a prime below 2^40
  const ninv = 1 / n;
  const steps = 2e6;
  const chain = (mm) => () => {
    let x = 123456789012;
    for (let i = 0; i < steps; i++) x = mm(x, x + 1 < n ? x + 1 : 1, n, ninv);
    return x;
  };
  const rs = [
    time('mulmod41', chain(mulmod41)),
    time('12-bit chunks', chain(mulmodChunks)),
    time('BigInt', chain(mulmodBig)),
  ];
  for (const r of rs) console.log(`${r.label}: ${(r.ns / steps).toFixed(1)} ns per mulmod (x=${r.v})`);
  if (new Set(rs.map((r) => r.v)).size !== 1) console.log('MISMATCH between the mulmods');

  const strs = [];
  for (let i = 0; i < 200000; i++) strs.push(String(u40(i)));
  for (const [label, file] of [['factor.js', './factor'], ['old', process.env.OLD_FACTOR]]) {
    if (!file) continue;
    const f = require(file).factor;
    for (let i = 0; i < 20000; i++) f(strs[i]); // warm up
    const r = time(label, () => { let k = 0; for (const s of strs) k += f(s).length; return k; });
    console.log(`${label}: ${(r.ns / strs.length / 1000).toFixed(2)} us per u40 number`);
  }
}

if (process.argv[2] === '--bench') bench();
else check(Number(process.argv[2] || 5000));
