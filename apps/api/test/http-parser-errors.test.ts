// Requests Node's HTTP parser rejects before Express sees them: sent over a raw socket to the real
// service (startService), because supertest cannot produce a malformed request.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import { createLogger } from '../src/observability/logger.js';
import { startService, type Service } from '../src/service.js';
import { closeTestApp, openTestApp, testConfig, type TestApp } from './support/app.js';
import type { TestDatabase } from './support/database.js';

let database: TestDatabase;
let api: TestApp;
let service: Service;

beforeAll(async () => {
  ({ database, api } = await openTestApp());
  const config = testConfig(database.url, { PORT: '0', METRICS_PORT: '0', SHUTDOWN_DELAY_MS: '0' });
  service = await startService(config, createLogger('silent'));
});
afterAll(async () => {
  await service?.shutdown();
  await closeTestApp({ database, api });
});

/** Sends raw bytes and returns everything the server answers until it closes the connection. */
function exchange(raw: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(service.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(
        lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
      );
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    });
    socket.end(raw);
  });
}

const problemOf = (status: number) => ({
  type: 'about:blank',
  status,
  title: expect.any(String),
  detail: expect.any(String),
  instance: expect.stringMatching(/^(urn:uuid:[0-9a-f-]{36}|\/.*)$/),
  requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
});

describe("errors of Node's HTTP parser are problem+json too", () => {
  it.each([
    [
      '431 for headers beyond the 16 KiB limit',
      `GET /api/items HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
    ],
    ['400 for a header name with a space', 'GET /api/items HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n', 400],
    ['400 for a request line that is not HTTP', 'HELLO\r\n\r\n', 400],
    ['417 for an Expect it cannot meet', 'GET /api/items HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n', 417],
  ])('%s', async (_title, raw, status) => {
    const res = await exchange(raw);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body));
    const body = JSON.parse(res.body) as { requestId: string };
    expect(body).toEqual(problemOf(status));
    expect(res.headers['x-request-id']).toBe(body.requestId);
  });

  it('a well-formed request on the same server is unaffected', async () => {
    const res = await exchange('GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(res.status).toBe(200);
  });
});
