#!/usr/bin/env node
// A second, independent gRPC client for pfgate (grpc-js + proto-loader, no C core).
//
// Usage: node grpc_client.js HOST:PORT NUM...
//
// Opens one PrimeFactors stream, sends every NUM in order (as strings, so that
// int64 values past 2^53 stay exact), half-closes, and prints one JSON line per
// Response, with every field present and int64 fields as strings:
//   {"result":"2","num":"360","last":false,"error":""}
// The last line on stdout is {"status":0,"details":""} when the stream ends with OK.
// On any other status it prints {"status":N,"details":"..."} on stderr and exits 2.
// Usage errors exit 64. The whole call has a deadline (PFGATE_NODE_DEADLINE_MS, 20 s).
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO = path.resolve(__dirname, '..', '..', 'proto', 'primefactor.proto');

function main(argv) {
  if (argv.length < 1 || argv[0] === '-h' || argv[0] === '--help') {
    process.stderr.write('usage: node grpc_client.js HOST:PORT NUM...\n');
    process.exit(64);
  }
  const addr = argv[0];
  const nums = argv.slice(1);
  for (const n of nums) {
    if (!/^-?[0-9]+$/.test(n)) {
      process.stderr.write(`not an integer: ${JSON.stringify(n)}\n`);
      process.exit(64);
    }
  }

  const def = protoLoader.loadSync(PROTO, {
    keepCase: true,
    longs: String,   // int64 -> decimal string, exact over the whole range
    enums: String,
    defaults: true,  // print every field, defaults included
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def).primefactor;
  const client = new pkg.Factors(addr, grpc.credentials.createInsecure());
  const deadlineMs = Number(process.env.PFGATE_NODE_DEADLINE_MS || 20000);
  const call = client.PrimeFactors({ deadline: Date.now() + deadlineMs });

  const out = [];
  call.on('data', (r) => {
    out.push(JSON.stringify({
      result: String(r.result),
      num: String(r.num),
      last: Boolean(r.last),
      error: String(r.error),
    }));
  });
  call.on('error', () => { /* reported through 'status' */ });
  call.on('status', (st) => {
    process.stdout.write(out.length ? out.join('\n') + '\n' : '');
    client.close();
    if (st.code === grpc.status.OK) {
      process.stdout.write(JSON.stringify({ status: 0, details: st.details || '' }) + '\n');
      process.exitCode = 0;
    } else {
      process.stderr.write(JSON.stringify({ status: st.code, details: st.details || '' }) + '\n');
      process.exitCode = 2;
    }
  });

  for (const n of nums) call.write({ num: n });
  call.end();
}

main(process.argv.slice(2));
