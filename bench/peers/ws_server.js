#!/usr/bin/env node
// Peer for pfgate's WebSocket benchmark: the same JSON stream as pfgate's
// /primefactor.Factors/PrimeFactors, on Node's `ws` package.
//
// Usage: node ws_server.js PORT   (0 picks a free port; binds 127.0.0.1)
// Prints `listening http=127.0.0.1:PORT` once bound; SIGINT/SIGTERM stop it.
//
// One JSON request per text frame: {"num": N}, {"num": "N"}, or a bare N or
// "N". Answers, one text frame each, in arrival order, proto3 JSON mapping
// (int64 as strings, default fields omitted):
//   {"result":"2","num":"12"} ... {"result":"3","num":"12","last":true}
//   {"num":"1","last":true}   {"num":"-5","last":true,"error":"..."}
//   {"last":true,"error":"..."} for a request without a usable int64.
// {"end":true} or a Close ends the stream after the answers (answers are sent
// synchronously, so nothing is pending when the Close is handled).
// The factoring is factor.js: Number trial division up to 2^53 (the
// benchmark's inputs are consecutive numbers from 2 upward), BigInt above.
'use strict';

const { WebSocketServer } = require('ws');
const { factor } = require('./factor');

const PATH = '/primefactor.Factors/PrimeFactors';
const NEGATIVE = 'negative numbers have no prime factorization';
const INT64 = /^-?[0-9]+$/;
const MIN = -(2n ** 63n), MAX = 2n ** 63n - 1n;

// The request's number as a canonical decimal string, or null.
function requestNum(text) {
  let v;
  try { v = JSON.parse(text); } catch { return null; }
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const keys = Object.keys(v);
    if (keys.length !== 1 || keys[0] !== 'num') return null;
    v = v.num;
  }
  let s;
  if (typeof v === 'number') {
    if (/[.eE]/.test(text)) return null; // a fraction or an exponent
    if (Number.isSafeInteger(v)) {
      s = String(v);
    } else {
      // Past 2^53 JSON.parse has lost digits: take them from the text.
      const m = /^\s*(?:\{\s*"num"\s*:\s*)?(-?[0-9]+)\s*\}?\s*$/.exec(text);
      if (!m) return null;
      s = m[1];
    }
  } else if (typeof v === 'string' && INT64.test(v)) {
    s = v;
  } else {
    return null;
  }
  if (s.length > 15) {
    const b = BigInt(s);
    if (b < MIN || b > MAX) return null;
    return b.toString();
  }
  return String(Number(s));
}

function answer(ws, num) {
  if (num === null) {
    ws.send('{"last":true,"error":"not a request with an int64 num"}');
    return;
  }
  if (num[0] === '-') {
    ws.send(`{"num":"${num}","last":true,"error":"${NEGATIVE}"}`);
    return;
  }
  const fs = factor(num);
  if (fs.length === 0) {
    ws.send(num === '0' ? '{"last":true}' : `{"num":"${num}","last":true}`);
    return;
  }
  const last = fs.length - 1;
  for (let i = 0; i < last; i++) ws.send(`{"result":"${fs[i]}","num":"${num}"}`);
  ws.send(`{"result":"${fs[last]}","num":"${num}","last":true}`);
}

function main() {
  const port = Number(process.argv[2] || 0);
  const wss = new WebSocketServer({ host: '127.0.0.1', port, path: PATH, perMessageDeflate: false,
                                    maxPayload: 16384 });
  wss.on('listening', () => {
    process.stdout.write(`listening http=127.0.0.1:${wss.address().port}\n`);
  });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      if (isBinary) { ws.close(1003, 'binary frames are not supported'); return; }
      const text = data.toString();
      if (text.trim() === '{"end":true}') { ws.close(1000); return; }
      answer(ws, requestNum(text));
    });
    ws.on('error', () => {});
  });
  const stop = () => { for (const c of wss.clients) c.close(1001); wss.close(() => process.exit(0)); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main();
