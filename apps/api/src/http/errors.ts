import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { isDatabaseUnavailable } from '../db/errors.js';
import { HttpProblem, ProblemType, sendProblem, type Problem } from './problem.js';

/** body-parser failures carry a `type`; each maps to the status a client can act on. */
function bodyParserProblem(err: { type?: unknown; limit?: unknown; status?: unknown }): Problem | undefined {
  switch (err.type) {
    case 'entity.parse.failed':
      return { status: 400, title: 'Malformed JSON', detail: 'The request body is not valid JSON.' };
    case 'entity.too.large':
      return { status: 413, detail: `The request body is larger than the ${String(err.limit)}-byte limit.` };
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return { status: 415, detail: 'This charset or content encoding is not supported: send the body as UTF-8 JSON.' };
    case 'request.aborted':
    case 'request.size.invalid':
      return { status: 400, detail: 'The request body was incomplete.' };
    default:
      return undefined;
  }
}

/**
 * Any other client error Express raises before a handler runs (e.g. the router's 400 for a
 * path whose percent-encoding is broken): keep its 4xx status instead of turning it into a 500.
 */
function clientErrorProblem(err: { status?: unknown }): Problem | undefined {
  const { status } = err;
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  const detail =
    err instanceof URIError ? 'The request URL is not valid percent-encoding.' : 'The request was rejected.';
  return { status, detail };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  sendProblem(req, res, { status: 404, detail: `No route for ${req.method} ${req.path}.` });
};

/** Answers 405 (with Allow) for a known path called with a method it does not support. */
export function methodNotAllowed(allowed: string[]): RequestHandler {
  const allow = [...new Set(allowed.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])))].join(', ');
  return (req, res) => {
    if (req.method === 'OPTIONS') {
      res.setHeader('Allow', `${allow}, OPTIONS`);
      res.status(204).end();
      return;
    }
    sendProblem(req, res, {
      status: 405,
      detail: `${req.method} is not supported on ${req.path}; use ${allow}.`,
      headers: { Allow: allow },
    });
  };
}

/** Last middleware: every error becomes problem+json; internals never reach the client. */
export const errorHandler: ErrorRequestHandler = (err: unknown, req: Request, res, next) => {
  if (res.headersSent) return next(err);
  if (err instanceof HttpProblem) return sendProblem(req, res, err.problem);

  const clientProblem = err instanceof Object ? (bodyParserProblem(err) ?? clientErrorProblem(err)) : undefined;
  if (clientProblem) return sendProblem(req, res, clientProblem);

  if (isDatabaseUnavailable(err)) {
    req.log.warn({ err: { message: (err as Error).message } }, 'database unavailable');
    return sendProblem(req, res, {
      status: 503,
      type: ProblemType.databaseUnavailable,
      title: 'Service Unavailable',
      detail: 'The database is not available right now; retry shortly.',
      headers: { 'Retry-After': '5' },
    });
  }

  // pino-http logs `res.err` (with its stack) on the request line; the client gets nothing of it.
  (res as { err?: unknown }).err = err;
  return sendProblem(req, res, { status: 500, detail: 'An unexpected error occurred. It has been logged.' });
};
