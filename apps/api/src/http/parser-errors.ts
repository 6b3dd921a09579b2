import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { PROBLEM_CONTENT_TYPE } from './problem.js';

/** Node's own choice of status for a parser error (what its default handler would send). */
function statusFor(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

const DETAILS: Record<number, string> = {
  400: 'The request is not valid HTTP/1.1 (request line, header syntax or framing).',
  408: 'The request was not received in time.',
  417: 'The Expect header can only be "100-continue".',
  431: 'The request headers are larger than the server accepts.',
};

function problemBody(status: number, instance: string, requestId: string): string {
  return JSON.stringify({
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail: DETAILS[status] ?? 'The request was rejected.',
    instance,
    requestId,
  });
}

/**
 * Makes the errors Node's HTTP parser answers itself (before Express runs) problem+json like
 * every other error. What Node does not allow: a socket that is already closed or reset, or
 * whose response has started, gets no answer (it is destroyed, as Node's default does); and the
 * request's URL is unknown when parsing failed, so `instance` is `urn:uuid:<requestId>` there.
 */
export function answerParserErrorsAsProblems(server: Server, logger: Logger): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const status = statusFor(err.code);
    const requestId = randomUUID();
    const body = problemBody(status, `urn:uuid:${requestId}`, requestId);
    logger.warn({ requestId, code: err.code, status }, 'request rejected by the HTTP parser');
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  });

  // Without a listener Node answers an Expect other than 100-continue with an empty 417.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    const body = problemBody(417, req.url ?? `urn:uuid:${requestId}`, requestId);
    logger.warn({ requestId, expect: req.headers.expect, status: 417 }, 'unsupported Expect header');
    res.writeHead(417, {
      'Content-Type': PROBLEM_CONTENT_TYPE,
      'Content-Length': Buffer.byteLength(body),
      'X-Request-Id': requestId,
      Connection: 'close',
    });
    res.end(body);
  });
}
