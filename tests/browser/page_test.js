#!/usr/bin/env node
// Real-browser test of pfgate's web page: Debian's headless Chromium
// (/usr/bin/chromium, no browser download) driven by playwright-core.
//
//   node page_test.js http://127.0.0.1:PORT/ OUTDIR
//
// Loads the page served by pfgate, factors a few numbers through the real
// WebSocket and checks what is rendered (and the keyboard); then 100,000
// numbers near 2^63 in one paste (time printed, progress bar seen mid-run,
// the first result scrolled back into view, keyboard navigation, NDJSON and
// CSV downloads checked against GNU factor, Copy); then a run that is
// stopped; then, on a phone-sized screen, a socket that drops mid-answer (the
// page must reconnect and re-send), a run mid-way and done whose first batch
// POST is refused, and a run with every POST refused. Fails on any
// console error or warning, page error or failed request. Screenshots:
// OUTDIR/page.png, page-dark.png, page-phone.png, and OUTDIR/screenshots/
// (running and done, light, dark and phone; page-fail.png on failure).
// Exit 0 on success, 1 with a message on failure.
//
// PAGE_TEST_BENCH=1: only the benchmark (100,000 numbers, then 1,000,000 with
// the page's JS heap after them); prints "bench:" lines.
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');
const { gnuFactor, pageText, sample } = require('./gnu_factor.js');

const [url, outdir] = process.argv.slice(2);
if (!url || !outdir) {
  console.error('usage: node page_test.js http://HOST:PORT/ OUTDIR');
  process.exit(2);
}
fs.mkdirSync(outdir, { recursive: true });

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const BENCH = process.env.PAGE_TEST_BENCH === '1';
const TOTAL_MS = Number(process.env.PAGE_TEST_TOTAL_MS || (BENCH ? 400000 : 110000)); // the whole test, hard limit
const STEP_MS = 8000;   // any single wait

const INPUT = '360 97 1 -5 abc 9223372036854775807';
// [data-state, exact text of the row] — null text: only the state and number are checked
// (error messages are the server's to word).
const EXPECTED = [
  ['composite', '360 = 2³ × 3² × 5'],
  ['prime', '97 is prime'],
  ['unit', '1 has no prime factors'],
  ['error', null, '-5'],
  ['error', null, 'abc'],
  ['composite', '9223372036854775807 = 7² × 73 × 127 × 337 × 92737 × 649657'],
];

const BIG = Number(process.env.PAGE_TEST_BIG || 100000); // the big paste
const BIG_MS = 60000; // its limit: ASan builds of pfgate are slower (no timed assertion)
const SHOTS = path.join(outdir, 'screenshots');
fs.mkdirSync(SHOTS, { recursive: true });

// n consecutive numbers ending at 2^63 - 1 - skip, as decimal strings.
function nearTop(n, skip = 0) {
  const base = (1n << 63n) - BigInt(n + skip);
  return Array.from({ length: n }, (_, i) => String(base + BigInt(i)));
}

const fmt = (n) => n.toLocaleString('en-US');

let browser = null;
let page = null; // the page to photograph on failure
const problems = []; // console errors, page errors, failed requests

function log(msg) { console.log('page_test: ' + msg); }

class Failure extends Error {}
function check(cond, msg) { if (!cond) throw new Failure(msg); }

async function fail(msg) {
  if (msg.length > 3000) msg = msg.slice(0, 3000) + ' …'; // Playwright's call logs quote whole arguments
  console.error('page_test: FAIL: ' + msg);
  if (page) {
    try { await page.screenshot({ path: path.join(outdir, 'page-fail.png'), timeout: 2000 }); } catch { /* best effort */ }
  }
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}

const watchdog = setTimeout(() => fail(`timed out after ${TOTAL_MS / 1000} s`), TOTAL_MS);

function watch(p, label) {
  p.on('console', (m) => {
    if ((m.type() === 'error' || m.type() === 'warning') && !tolerated.some((re) => re.test(m.text()))) {
      problems.push(`${label} console ${m.type()}: ${m.text()}`);
    }
  });
  p.on('pageerror', (e) => problems.push(`${label} page error: ${e.message}`));
  p.on('requestfailed', (r) => problems.push(`${label} request failed: ${r.url()} (${r.failure()?.errorText})`));
  p.on('response', (r) => {
    if (r.status() >= 400 && !refused.has(r.request())) problems.push(`${label} HTTP ${r.status()} for ${r.url()}`);
  });
}
const refused = new Set(); // requests the test itself answers with an error
const tolerated = [];      // and the console errors the browser logs for them

function checkProblems(when) {
  check(problems.length === 0, `${when}:\n  ${problems.join('\n  ')}`);
}

// Rows as the page renders them: state, text as read, number, error message.
function rowsOf(p) {
  return p.$$eval('#results > li', (lis) => lis.map((li) => ({
    state: li.dataset.state,
    text: li.textContent,
    num: li.querySelector('.num')?.textContent,
    msg: li.querySelector('.msg')?.textContent,
  })));
}

function checkRows(rows, label) {
  const shown = rows.map((r) => `    [${r.state}] ${r.text}`).join('\n');
  check(rows.length === EXPECTED.length,
    `${label}: expected ${EXPECTED.length} result rows, got ${rows.length}:\n${shown}`);
  EXPECTED.forEach(([state, text, num], i) => {
    const r = rows[i];
    check(r.state === state, `${label}: row ${i + 1} should be ${state}, is ${r.state}: "${r.text}"`);
    if (text !== null) check(r.text === text, `${label}: row ${i + 1}: expected "${text}", got "${r.text}"`);
    if (num !== undefined) {
      check(r.num === num, `${label}: error row ${i + 1} should show the number "${num}" beside its error, shows "${r.num}"`);
      check(r.msg && r.msg.trim().length > 0, `${label}: error row ${i + 1} (${num}) has no error message`);
    }
  });
}

// Waits until the page shows `count` rows and none is still pending.
async function waitForAnswers(p, count, label) {
  try {
    await p.waitForFunction((n) => {
      const lis = document.querySelectorAll('#results > li');
      return lis.length === n && ![...lis].some((li) => li.dataset.state === 'pending');
    }, count, { timeout: STEP_MS });
  } catch {
    const rows = await rowsOf(p).catch(() => []);
    throw new Failure(`${label}: no complete answers after ${STEP_MS / 1000} s; rows:\n` +
      rows.map((r) => `    [${r.state}] ${r.text}`).join('\n'));
  }
}

async function waitConnected(p, label) {
  try {
    await p.waitForSelector('#status[data-state="connected"]', { timeout: STEP_MS });
  } catch {
    const s = await p.textContent('#status').catch(() => '?');
    throw new Failure(`${label}: page never showed "connected" (status: ${s.trim().replace(/\s+/g, ' ')})`);
  }
}

// Long tasks and the longest gap between animation frames, from the page's own view.
function watchMainThread() {
  window.__main = { longest: 0, gap: 0, last: 0, on: false, since: 0 };
  try {
    // Entries arrive after their task: one that began before the watch (the paste) does not count.
    new PerformanceObserver((l) => {
      const m = window.__main;
      for (const e of l.getEntries()) if (m.on && e.startTime >= m.since) m.longest = Math.max(m.longest, e.duration);
    }).observe({ type: 'longtask' });
  } catch { /* no longtask entries: the frame gaps still tell */ }
  const frame = (t) => {
    const m = window.__main;
    if (m.on && m.last) m.gap = Math.max(m.gap, t - m.last);
    m.last = t;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

const mainThread = (p, on) => p.evaluate((on) => {
  const m = window.__main, r = { longest: Math.round(m.longest), gap: Math.round(m.gap) };
  Object.assign(m, { on, longest: 0, gap: 0, last: 0, since: performance.now() });
  return r;
}, on);

// Pastes text into the box: a paste event carrying it, as Ctrl+V sends (the
// page holds a long paste aside); the value set by hand when the page lets the
// browser insert it (a synthetic event inserts nothing itself).
async function paste(p, text) {
  await p.$eval('#numbers', (t, v) => {
    const data = new DataTransfer();
    data.setData('text/plain', v);
    const ev = new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true });
    if (t.dispatchEvent(ev)) {
      t.value += v;
      t.dispatchEvent(new Event('input', { bubbles: true }));
    }
  }, text);
}

const summaryOf = (p) => p.textContent('#summary');

// Waits until the summary reads "<count> numbers · <count> answered".
async function waitAllAnswered(p, count, ms, label) {
  const want = `${fmt(count)} ${count === 1 ? 'number' : 'numbers'} · ${fmt(count)} answered`;
  try {
    await p.waitForFunction((w) => document.getElementById('summary').textContent.startsWith(w), want,
      { timeout: ms, polling: 100 });
  } catch {
    throw new Failure(`${label}: not all answered after ${ms / 1000} s (summary: "${await summaryOf(p)}")`);
  }
}

// Waits for the progress bar to show a run part-way; returns what it showed.
async function progressMidRun(p, label) {
  try {
    const h = await p.waitForFunction(() => {
      const pr = document.getElementById('progress');
      return !document.getElementById('run').hidden && pr.value > 0 && pr.value < pr.max &&
        { value: pr.value, max: pr.max, text: document.getElementById('progress-text').textContent };
    }, null, { timeout: STEP_MS, polling: 'raf' });
    return await h.jsonValue();
  } catch {
    throw new Failure(`${label}: the progress bar was never seen part-way (summary: "${await summaryOf(p)}")`);
  }
}

// Pastes nums and times them until all are answered (before: rows already there).
async function timedRun(p, nums, before, label) {
  await paste(p, nums.join('\n'));
  // From Factor on: the paste itself (megabytes through DevTools into a DataTransfer) is the test's cost.
  await mainThread(p, true);
  const t = Date.now();
  await p.click('#factor');
  const mid = await progressMidRun(p, label);
  await waitAllAnswered(p, before + nums.length, BIG_MS, label);
  const ms = Date.now() - t;
  const main = await mainThread(p, false);
  return { ms, mid, main };
}

async function download(p, button) {
  const [dl] = await Promise.all([p.waitForEvent('download', { timeout: STEP_MS }), p.click(button)]);
  return fs.readFileSync(await dl.path(), 'utf8');
}

// 2. 100,000 numbers near 2^63: time, progress, every result reachable, downloads.
async function bigRun(p, ctx) {
  const nums = nearTop(BIG);
  const before = EXPECTED.length + 4; // rows of section 1
  const posted = []; // numbers in each batch POST, in the order sent
  const onRequest = (r) => { if (r.method() === 'POST') posted.push(r.postData().split('\n').length - 1); };
  p.on('request', onRequest);
  const { ms, mid, main } = await timedRun(p, nums, before, `${fmt(BIG)} numbers`);
  p.off('request', onRequest);
  // The batches double from 256 up to 4,096 and stay there: a batch of fewer
  // numbers before the last means the run's batches stalled and started over.
  const batches = [];
  for (let left = BIG, size = 256; left > 0; left -= batches[batches.length - 1], size = Math.min(4096, size * 2))
    batches.push(Math.min(size, left));
  check(JSON.stringify(posted) === JSON.stringify(batches),
    `${fmt(BIG)} numbers went in POSTs of ${JSON.stringify(posted)}, expected ${JSON.stringify(batches)}`);
  log(`${fmt(BIG)} numbers near 2^63 answered in ${ms} ms (${fmt(Math.round(BIG * 1000 / ms))} numbers/s); ` +
    `progress seen at ${mid.value}/${mid.max} ("${mid.text}"); longest main-thread task ${main.longest} ms, ` +
    `longest frame gap ${main.gap} ms`);
  check(mid.max === BIG, `the progress bar's max was ${mid.max}, expected ${BIG} (the run's numbers)`);
  // The main thread must still answer promptly (no freeze while rendering).
  const lag = await p.evaluate(() => new Promise((res) => {
    const s = performance.now();
    requestAnimationFrame(() => res(performance.now() - s));
  }));
  check(lag < 500, `${BIG} numbers: next frame took ${Math.round(lag)} ms`);
  checkProblems(`${fmt(BIG)} numbers`);
  await p.screenshot({ path: path.join(SHOTS, 'desktop-done-light.png') });
  await p.emulateMedia({ colorScheme: 'dark' });
  await p.screenshot({ path: path.join(SHOTS, 'desktop-done-dark.png') });
  await p.emulateMedia({ colorScheme: 'light' });

  // Every result reachable: only the rows in view are in the page, and
  // scrolling back brings the first result of the run into view.
  const total = before + BIG;
  const setsize = await p.$eval('#results > li', (li) => li.getAttribute('aria-setsize'));
  check(setsize === String(total), `rows say aria-setsize=${setsize}, expected ${total}`);
  const inDom = await p.$$eval('#results > li', (lis) => lis.length);
  check(inDom < 100, `${inDom} rows in the DOM after ${fmt(total)} results: the list is not virtual`);
  const gnu = gnuFactor([nums[0], nums[1], nums[BIG - 1]]);
  const firstText = pageText(nums[0], gnu.get(nums[0]));
  await p.$eval('#results-view', (v) => { v.scrollTop = 0; });
  const sel = `#results > li[data-index="${before}"]`;
  try {
    await p.waitForSelector(sel, { timeout: STEP_MS });
  } catch {
    throw new Failure(`scrolled to the top, but the run's first result (row ${before + 1}) is not in the page`);
  }
  const first = await p.$eval(sel, (li) => ({ text: li.textContent, top: li.getBoundingClientRect().top,
    viewTop: li.parentElement.parentElement.getBoundingClientRect().top,
    viewBottom: li.parentElement.parentElement.getBoundingClientRect().bottom }));
  check(first.text === firstText, `the run's first result reads "${first.text}", expected "${firstText}"`);
  check(first.top >= first.viewTop && first.top < first.viewBottom, 'the first result is not inside the scrolled view');
  log(`scrolled back to the first result: "${first.text}"`);

  // Keyboard: Home, ↓, End in the list move the focused row.
  await p.focus('#results-view');
  const focused = () => p.evaluate(() => document.activeElement.matches('#results > li') &&
    [document.activeElement.dataset.index, document.activeElement.textContent]);
  await p.keyboard.press('Home');
  let f = await focused();
  check(f && f[0] === '0' && f[1] === '360 = 2³ × 3² × 5', `Home focused ${JSON.stringify(f)}, expected row 1, 360`);
  for (let i = 0; i < before; i++) await p.keyboard.press('ArrowDown');
  f = await focused();
  check(f && f[0] === String(before) && f[1] === firstText, `${before}× ↓ focused ${JSON.stringify(f)}, expected "${firstText}"`);
  await p.keyboard.press('End');
  f = await focused();
  const lastText = pageText(nums[BIG - 1], gnu.get(nums[BIG - 1]));
  check(f && f[0] === String(total - 1) && f[1] === lastText, `End focused ${JSON.stringify(f)}, expected "${lastText}"`);
  await p.keyboard.press('ArrowUp');
  f = await focused();
  check(f && f[1] === pageText(nums[BIG - 2], gnuFactor([nums[BIG - 2]]).get(nums[BIG - 2])), `↑ from the end focused ${JSON.stringify(f)}`);
  log('keyboard: Home, ↓, End and ↑ move through all results');

  // Downloads: one line per number, in input order, equal to GNU factor.
  const picks = sample(BIG, 300);
  const want = gnuFactor(picks.map((i) => nums[i]));
  const nd = (await download(p, '#download-ndjson')).split('\n');
  check(nd.length === total + 1 && nd[total] === '', `NDJSON: ${nd.length - 1} lines, expected ${total}`);
  check(nd[0] === '{"num":"360","factors":["2","2","2","3","3","5"]}', `NDJSON line 1: ${nd[0]}`);
  check(nd[1] === '{"num":"97","factors":["97"]}' && nd[2] === '{"num":"1","factors":[]}', `NDJSON lines 2-3: ${nd[1]} ${nd[2]}`);
  const neg = JSON.parse(nd[3]);
  check(neg.num === '-5' && typeof neg.error === 'string' && neg.error && !neg.factors, `NDJSON line 4: ${nd[3]}`);
  for (let i = 0; i < BIG; i++) {
    const m = JSON.parse(nd[before + i]);
    if (m.num !== nums[i]) throw new Failure(`NDJSON line ${before + i + 1} is for ${m.num}, expected ${nums[i]} (input order)`);
  }
  for (const i of picks) {
    const got = nd[before + i], exp = JSON.stringify({ num: nums[i], factors: want.get(nums[i]) });
    check(got === exp, `NDJSON line ${before + i + 1}: ${got}, GNU factor says ${exp}`);
  }
  const csv = (await download(p, '#download-csv')).split('\n');
  check(csv.length === total + 2 && csv[0] === 'number,factors,error' && csv[total + 1] === '',
    `CSV: ${csv.length - 2} lines after the header "${csv[0]}", expected ${total}`);
  check(csv[1] === '360,2 2 2 3 3 5,' && csv[2] === '97,97,' && csv[3] === '1,,', `CSV lines 1-3: ${csv.slice(1, 4)}`);
  check(/^-5,,\S/.test(csv[4]), `CSV line 4: ${csv[4]}`);
  for (let i = 0; i < BIG; i++) {
    if (!csv[before + 1 + i].startsWith(nums[i] + ',')) throw new Failure(`CSV line ${before + i + 1}: "${csv[before + 1 + i]}", expected ${nums[i]} (input order)`);
  }
  for (const i of picks) {
    const got = csv[before + 1 + i], exp = `${nums[i]},${want.get(nums[i]).join(' ')},`;
    check(got === exp, `CSV line ${before + i + 1}: ${got}, GNU factor says ${exp}`);
  }
  log(`NDJSON and CSV: ${fmt(total)} lines in input order; ${picks.length} sampled lines equal GNU factor`);

  // Copy: the rows in view, as they read.
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(url).origin });
  await p.$eval('#results-view', (v) => { v.scrollTop = 0; });
  await p.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await p.click('#copy');
  await p.waitForFunction(() => /^Copied/.test(document.getElementById('take-note').textContent), null, { timeout: STEP_MS });
  const copied = await p.evaluate(() => navigator.clipboard.readText());
  const inView = await p.$$eval('#results > li', (lis) => {
    const v = document.getElementById('results-view').getBoundingClientRect();
    return lis.filter((li) => {
      const r = li.getBoundingClientRect();
      return r.top >= v.top - 1 && r.bottom <= v.bottom + 1;
    }).map((li) => li.textContent).join('\n');
  });
  check(copied === inView && copied.startsWith('360 = 2³ × 3² × 5\n97 is prime\n'),
    `Copy put ${JSON.stringify(copied.slice(0, 200))} on the clipboard; the rows in view read ${JSON.stringify(inView.slice(0, 200))}`);
  log(`Copy: the ${copied.split('\n').length} rows in view`);
  checkProblems('downloads');
  return total;
}

// 3. Stop: the numbers not sent are dropped, those in flight still answered.
async function stopRun(p, before) {
  const n = 2 * BIG;
  const nums = nearTop(n, BIG);
  await paste(p, nums.join('\n'));
  await p.click('#factor');
  await progressMidRun(p, 'stop');
  await p.screenshot({ path: path.join(SHOTS, 'desktop-running-light.png') });
  await p.emulateMedia({ colorScheme: 'dark' });
  await p.screenshot({ path: path.join(SHOTS, 'desktop-running-dark.png') });
  await p.emulateMedia({ colorScheme: 'light' });
  await p.click('#stop');
  try {
    await p.waitForSelector('#run', { state: 'hidden', timeout: BIG_MS });
  } catch {
    throw new Failure(`Stop: the run did not end (summary: "${await summaryOf(p)}")`);
  }
  const s1 = await summaryOf(p);
  await p.waitForTimeout(500);
  const s2 = await summaryOf(p);
  check(s1 === s2, `after Stop the answers still grow: "${s1}", then "${s2}"`);
  const m = /^([\d,]+) numbers · ([\d,]+) answered/.exec(s2);
  const count = m && Number(m[1].replace(/,/g, '')), answered = m && Number(m[2].replace(/,/g, ''));
  check(m && count === answered && count > before && count < before + n,
    `after Stop the summary reads "${s2}": expected every sent number answered and fewer than ${fmt(before + n)}`);
  log(`Stop: ${fmt(count - before)} of ${fmt(n)} numbers sent and answered, the rest dropped`);
  // The page stays usable for a new run.
  await p.focus('#numbers');
  await p.keyboard.type('360');
  await p.keyboard.press('Control+Enter');
  await waitAllAnswered(p, count + 1, STEP_MS, 'a run after Stop');
  await p.$eval('#results-view', (v) => { v.scrollTop = v.scrollHeight; });
  await p.waitForFunction((i) => document.querySelector(`#results > li[data-index="${i}"]`)?.textContent === '360 = 2³ × 3² × 5',
    count, { timeout: STEP_MS }).catch(async () => {
    throw new Failure('the run after Stop did not show "360 = 2³ × 3² × 5" last');
  });
  checkProblems('stop');
}

// PAGE_TEST_BENCH=1: 100,000 numbers, then 1,000,000 and the JS heap after them.
async function bench(p, ctx) {
  for (const n of [100000, 1000000]) {
    await p.click('#clear');
    const { ms, main } = await timedRun(p, nearTop(n), 0, `bench ${fmt(n)}`);
    const cdp = await ctx.newCDPSession(p);
    await cdp.send('HeapProfiler.collectGarbage');
    const heap = await cdp.send('Runtime.getHeapUsage');
    await cdp.detach();
    console.log(`bench: page ${fmt(n)} numbers near 2^63: ${(ms / 1000).toFixed(2)} s, ` +
      `${fmt(Math.round(n * 1000 / ms))} numbers/s, longest main-thread task ${main.longest} ms, ` +
      `longest frame gap ${main.gap} ms, JS heap ${(heap.usedSize / 1048576).toFixed(1)} MB after GC`);
  }
  checkProblems('bench');
}

async function main() {
  const t0 = Date.now();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: STEP_MS,
  });

  // ---- 1. desktop: the basic factorizations --------------------------------
  const desktop = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  desktop.setDefaultTimeout(STEP_MS);
  await desktop.addInitScript(watchMainThread);
  page = await desktop.newPage();
  watch(page, 'desktop');
  const resp = await page.goto(url, { waitUntil: 'load' });
  check(resp && resp.ok(), `GET ${url} answered ${resp && resp.status()}`);
  check(/text\/html/.test(resp.headers()['content-type'] || ''),
    `GET ${url}: content-type is "${resp.headers()['content-type']}", expected text/html`);
  await waitConnected(page, 'desktop');
  log(`connected (${Date.now() - t0} ms)`);
  if (BENCH) {
    await bench(page, desktop);
    await browser.close();
    clearTimeout(watchdog);
    return;
  }

  await page.fill('#numbers', INPUT);
  await page.click('#factor');
  await waitForAnswers(page, EXPECTED.length, 'desktop');
  checkRows(await rowsOf(page), 'desktop');
  check(await page.inputValue('#numbers') === '', 'the textarea was not cleared after Factor');
  const summary = (await page.textContent('#summary')).trim();
  check(summary === '6 numbers · 6 answered · 2 errors', `summary reads "${summary}"`);
  checkProblems('desktop');
  log('6 numbers rendered as expected');

  // Keyboard path (Ctrl+Enter) and the int64 edges: 0, the largest prime below
  // 2^63, the smallest int64 (negative: error) and 2^64 (out of range: error
  // beside the text as typed).
  await page.focus('#numbers');
  await page.keyboard.type('0, 9223372036854775783\n-9223372036854775808 18446744073709551616');
  await page.keyboard.press('Control+Enter');
  await waitForAnswers(page, EXPECTED.length + 4, 'keyboard');
  const more = (await rowsOf(page)).slice(EXPECTED.length);
  check(more[0].state === 'unit' && more[0].text === '0 has no prime factors', `0 rendered as "${more[0].text}"`);
  check(more[1].state === 'prime' && more[1].text === '9223372036854775783 is prime',
    `9223372036854775783 rendered as [${more[1].state}] "${more[1].text}"`);
  check(more[2].state === 'error' && more[2].num === '-9223372036854775808',
    `-9223372036854775808 rendered as [${more[2].state}] "${more[2].text}"`);
  check(more[3].state === 'error' && more[3].num === '18446744073709551616',
    `18446744073709551616 rendered as [${more[3].state}] "${more[3].text}"`);
  checkProblems('keyboard');
  log('Ctrl+Enter and int64 edges rendered as expected');

  await page.screenshot({ path: path.join(outdir, 'page.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: path.join(outdir, 'page-dark.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });

  // ---- 2. a big paste: 100,000 numbers near 2^63 ----
  const rows = await bigRun(page, desktop);
  await stopRun(page, rows);
  await desktop.close();

  // ---- 3. phone: the socket drops mid-answer; the page reconnects and re-sends ----
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  phone.setDefaultTimeout(STEP_MS);
  page = await phone.newPage();
  watch(page, 'phone');
  // Proxy the page's WebSocket to pfgate; on the first socket, cut the connection
  // after the second answer (in the middle of 360's factors).
  let sockets = 0;
  await page.routeWebSocket(/\/primefactor\.Factors\/PrimeFactors$/, (ws) => {
    const n = ++sockets;
    const server = ws.connectToServer();
    let answers = 0;
    server.onMessage((m) => {
      if (n === 1 && ++answers === 2) {
        ws.close({ code: 1011, reason: 'test drop' });
        server.close();
        return;
      }
      ws.send(m);
    });
  });
  await page.goto(url, { waitUntil: 'load' });
  await waitConnected(page, 'phone');
  await page.fill('#numbers', INPUT);
  await page.tap('#factor');
  try {
    await page.waitForSelector('#status[data-state="reconnecting"]', { timeout: STEP_MS });
  } catch {
    throw new Failure('phone: the page did not show "reconnecting" after its socket dropped');
  }
  await waitConnected(page, 'phone, after the drop');
  await waitForAnswers(page, EXPECTED.length, 'phone, after the drop');
  checkRows(await rowsOf(page), 'phone, after the drop');
  check(sockets === 2, `phone: expected 2 WebSockets (one dropped, one reconnect), saw ${sockets}`);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 390, `phone: the page is ${width} px wide, wider than the 390 px screen`);
  checkProblems('phone');
  log('phone: reconnected after a drop and re-sent the unanswered numbers');
  await page.screenshot({ path: path.join(outdir, 'page-phone.png'), fullPage: true });
  // A run on the phone, mid-way and done (light and dark). Its first batch POST
  // is refused (503, as while pfgate drains): the page sends it again after a pause.
  const phoneN = Math.min(BIG, 30000);
  let posts = 0, refuseAll = false;
  await page.route(/\/primefactor\.Factors\/PrimeFactors$/, (route) => {
    if (route.request().method() !== 'POST') return route.fallback();
    if (++posts > 1 && !refuseAll) return route.continue();
    refused.add(route.request());
    tolerated.push(/status of 503 \(Service Unavailable\)/);
    return route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"draining"}' });
  });
  await paste(page, nearTop(phoneN).join('\n'));
  await page.tap('#factor');
  await progressMidRun(page, 'phone');
  await page.screenshot({ path: path.join(SHOTS, 'phone-running-light.png') });
  await waitAllAnswered(page, EXPECTED.length + phoneN, BIG_MS, 'phone');
  await page.screenshot({ path: path.join(SHOTS, 'phone-done-light.png') });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: path.join(SHOTS, 'phone-done-dark.png') });
  const phoneSummary = await summaryOf(page);
  check(phoneSummary === `${fmt(EXPECTED.length + phoneN)} numbers · ${fmt(EXPECTED.length + phoneN)} answered · 2 errors`,
    `phone: after a refused batch the summary reads "${phoneSummary}" (expected no new errors)`);
  check(posts > Math.ceil(phoneN / 4096), `phone: ${posts} POSTs for ${phoneN} numbers: the refused batch was not sent again`);
  log(`phone: ${fmt(phoneN)} numbers answered; the first batch refused (503) and sent again (${posts} POSTs)`);
  // Every POST refused while the socket works (a proxy that passes WebSockets only):
  // a few paced tries, then the run goes on the socket; no number is given up.
  refuseAll = true;
  const postsBefore = posts, extra = 1200;
  await paste(page, nearTop(extra).join('\n'));
  await page.tap('#factor');
  const total = EXPECTED.length + phoneN + extra;
  await waitAllAnswered(page, total, BIG_MS, 'phone, every POST refused');
  const refusedSummary = await summaryOf(page);
  check(refusedSummary === `${fmt(total)} numbers · ${fmt(total)} answered · 2 errors`,
    `phone, every POST refused: the summary reads "${refusedSummary}" (expected no new errors)`);
  check(posts - postsBefore === 4, `phone, every POST refused: ${posts - postsBefore} POSTs, expected 4 paced tries`);
  log(`phone: every POST refused: ${posts - postsBefore} tries, then ${fmt(extra)} numbers answered over the WebSocket`);
  const phoneWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  check(phoneWidth <= 390, `phone: after a run the page is ${phoneWidth} px wide, wider than the 390 px screen`);
  checkProblems('phone run');
  await phone.close();

  await browser.close();
  clearTimeout(watchdog);
  log(`PASS in ${Date.now() - t0} ms; screenshots in ${outdir}`);
}

main().catch((e) => fail(e instanceof Failure ? e.message : (e && e.stack) || String(e)));
