#!/usr/bin/env node
// Steady HTTP load for the cluster suite, run in a pod (a client inside the cluster, reaching the
// API through its Service and kube-proxy):
//
//   LOAD_URL=http://... LOAD_SECONDS=60 LOAD_CONCURRENCY=8 [LOAD_RATE=4] node load.mjs
//
// Each worker sends one request after another over a keep-alive connection, as a client behind a
// connection pool does; with LOAD_RATE, at most that many per second. A GET on a reused connection
// that the server closed before answering is sent again once, as HTTP lets a client do with an
// idempotent request (RFC 9112, 9.3.1) and as Node's documentation describes (request.reusedSocket):
// counted as `retried`, not failed. Prints one JSON line: requests, answers by status, retries,
// failures by cause (a failure is a request without an HTTP answer, or an answer of 5xx).
import http from 'node:http';

const {
  LOAD_URL: url,
  LOAD_SECONDS: seconds = '10',
  LOAD_CONCURRENCY: concurrency = '8',
  LOAD_RATE: rate = '0',
} = process.env;
if (!url) {
  console.error(
    'usage: LOAD_URL=<url> [LOAD_SECONDS=10] [LOAD_CONCURRENCY=8] [LOAD_RATE=<per worker per s>] node load.mjs',
  );
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(concurrency) });
const deadline = Date.now() + Number(seconds) * 1000;
const interval = Number(rate) > 0 ? 1000 / Number(rate) : 0;
const statuses = {};
const failures = {};
let requests = 0;
let retried = 0;

/** One GET: over the pool's keep-alive connections, or (for a retry) over a connection of its own. */
function send(fresh = false) {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: fresh ? false : agent, timeout: 5_000 }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode }));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (error) => resolve({ error, reused: request.reusedSocket }));
  });
}

async function once() {
  let answer = await send();
  if (answer.error && answer.reused && ['ECONNRESET', 'EPIPE'].includes(answer.error.code)) {
    retried += 1;
    // Not through the pool: its other idle connections may lead to the same terminating pod.
    answer = await send(true);
  }
  if (answer.error) {
    const cause = answer.error.code ?? answer.error.message;
    failures[cause] = (failures[cause] ?? 0) + 1;
    return;
  }
  statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
  if (answer.status >= 500) failures[`HTTP ${answer.status}`] = (failures[`HTTP ${answer.status}`] ?? 0) + 1;
}

async function worker() {
  while (Date.now() < deadline) {
    const started = Date.now();
    requests += 1;
    await once();
    const wait = interval - (Date.now() - started);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

await Promise.all(Array.from({ length: Number(concurrency) }, worker));
agent.destroy();
const failed = Object.values(failures).reduce((sum, n) => sum + n, 0);
console.log(JSON.stringify({ requests, failed, retried, statuses, failures }));
