import http from 'node:http';
import { Socket } from 'node:net';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * helmet's security headers, computed once by running helmet() on a real (unsent) Node response,
 * then set on every response. With this configuration none of them depends on the request (no CSP
 * nonces or directive functions), so the headers are exactly helmet's, without its chain of
 * eleven middlewares per request (see docs/api.md, "Benchmark"). Adding a request-dependent
 * option (e.g. a CSP nonce) means going back to `app.use(helmet(options))`.
 */
export function securityHeaders(): RequestHandler {
  const res = new http.ServerResponse(new http.IncomingMessage(new Socket()));
  let failure: unknown;
  helmet()(res.req, res, (err?: unknown) => (failure = err));
  if (failure !== undefined) throw failure;
  // Raw names keep helmet's spelling (Content-Security-Policy, not content-security-policy) on the
  // wire. getRawHeaderNames is on every OutgoingMessage since Node 15.13; @types/node declares it
  // on ClientRequest only.
  const names = (res as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames();
  const headers = names.map((name) => [name, res.getHeader(name)!] as const);
  return (_req, response, next) => {
    for (const [name, value] of headers) response.setHeader(name, value);
    next();
  };
}
