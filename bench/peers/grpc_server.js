#!/usr/bin/env node
// Peer for pfgate's gRPC benchmark: primefactor.Factors/PrimeFactors on Node's
// @grpc/grpc-js, the same bidi stream and the same answers as pfgate.
//
// Usage: node grpc_server.js PORT   (0 picks a free port; binds 127.0.0.1)
// Prints `listening grpc=127.0.0.1:PORT` once bound; SIGINT/SIGTERM stop it.
//
// Per number, in arrival order: one Response per prime factor with
// multiplicity, last=true on the final one; 0 and 1 get one {num, last};
// a negative number gets {num, last, error} and the stream goes on.
// The factoring is factor.js: Number trial division up to 2^53 (the
// benchmark's inputs are consecutive numbers from 2 upward), BigInt above.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { factor } = require('./factor');

const PROTO = path.resolve(__dirname, '..', '..', 'proto', 'primefactor.proto');
const NEGATIVE = 'negative numbers have no prime factorization';

function answers(num) {
  // num: the int64 as a decimal string (longs: String keeps it exact).
  if (num[0] === '-') return [{ num, last: true, error: NEGATIVE }];
  const fs = factor(num);
  if (fs.length === 0) return [{ num, last: true }];
  // Fields with their default value (last: false) are left out, as pfgate does.
  const out = new Array(fs.length);
  for (let i = 0; i < fs.length; i++) {
    const f = fs[i];
    out[i] = { result: typeof f === 'bigint' ? f.toString() : f, num };
  }
  out[fs.length - 1].last = true;
  return out;
}

function primeFactors(call) {
  call.on('data', (req) => {
    for (const r of answers(String(req.num))) call.write(r);
  });
  call.on('end', () => call.end());
  call.on('error', () => {}); // a cancelled stream: nothing to clean up
}

function main() {
  const port = process.argv[2] || '0';
  const def = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, defaults: false });
  const pkg = grpc.loadPackageDefinition(def).primefactor;
  const server = new grpc.Server();
  server.addService(pkg.Factors.service, { PrimeFactors: primeFactors });
  server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
    if (err) {
      process.stderr.write(`grpc_server: ${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`listening grpc=127.0.0.1:${bound}\n`);
  });
  const stop = () => server.tryShutdown(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main();
