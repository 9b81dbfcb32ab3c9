// Expected answers from GNU factor (coreutils), and how the page writes them.
'use strict';

const { execFileSync } = require('child_process');

// Factors nums (decimal strings >= 0) with GNU factor: Map num -> [factors].
function gnuFactor(nums) {
  const out = new Map();
  for (let i = 0; i < nums.length; i += 1000) {
    const text = execFileSync('factor', nums.slice(i, i + 1000), { encoding: 'utf8' });
    for (const line of text.trim().split('\n')) {
      const [n, fs] = line.split(':');
      out.set(n, fs.trim() ? fs.trim().split(' ') : []);
    }
  }
  return out;
}

const SUP = '⁰¹²³⁴⁵⁶⁷⁸⁹';

// The page's row text: "360 = 2³ × 3² × 5", "97 is prime", "1 has no prime factors".
function pageText(num, factors) {
  if (!factors.length) return `${num} has no prime factors`;
  if (factors.length === 1 && factors[0] === num) return `${num} is prime`;
  const parts = [];
  for (let i = 0; i < factors.length;) {
    let j = i;
    while (j < factors.length && factors[j] === factors[i]) j++;
    parts.push(factors[i] + (j - i > 1 ? String(j - i).replace(/[0-9]/g, (d) => SUP[d]) : ''));
    i = j;
  }
  return `${num} = ${parts.join(' × ')}`;
}

// count indices in [0, n), spread out and repeatable (a fixed LCG), with 0 and n-1.
function sample(n, count) {
  const out = new Set([0, n - 1]);
  let x = 12345;
  while (out.size < Math.min(count, n)) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out.add(x % n);
  }
  return [...out].sort((a, b) => a - b);
}

module.exports = { gnuFactor, pageText, sample };
