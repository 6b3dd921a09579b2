#!/usr/bin/env node
// Steady HTTP load for the cluster suite, run in a pod (a client inside the cluster, reaching the
// API through its Service and kube-proxy):
//
//   LOAD_URL=http://... LOAD_SECONDS=60 LOAD_CONCURRENCY=8 node load.mjs
//
// Each worker sends one request after another over a keep-alive connection, as a client behind a
// connection pool does. Prints one JSON line: requests sent, answers by status, failures by cause
// (a failure is any request without an HTTP answer, or an answer of 5xx).
import http from 'node:http';

const { LOAD_URL: url, LOAD_SECONDS: seconds = '10', LOAD_CONCURRENCY: concurrency = '8' } = process.env;
if (!url) {
  console.error('usage: LOAD_URL=<url> [LOAD_SECONDS=10] [LOAD_CONCURRENCY=8] node load.mjs');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(concurrency) });
const deadline = Date.now() + Number(seconds) * 1000;
const statuses = {};
const failures = {};
let requests = 0;

function once() {
  return new Promise((resolve) => {
    const request = http.get(url, { agent, timeout: 5_000 }, (response) => {
      response.resume();
      response.on('end', () => {
        statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
        if (response.statusCode >= 500)
          failures[`HTTP ${response.statusCode}`] = (failures[`HTTP ${response.statusCode}`] ?? 0) + 1;
        resolve();
      });
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (error) => {
      const cause = error.code ?? error.message;
      failures[cause] = (failures[cause] ?? 0) + 1;
      resolve();
    });
  });
}

async function worker() {
  while (Date.now() < deadline) {
    requests += 1;
    await once();
  }
}

await Promise.all(Array.from({ length: Number(concurrency) }, worker));
agent.destroy();
const failed = Object.values(failures).reduce((sum, n) => sum + n, 0);
console.log(JSON.stringify({ requests, failed, statuses, failures }));
