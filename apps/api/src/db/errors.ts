import { Prisma } from '../generated/prisma/client.js';

// Prisma codes for "cannot reach / lost / timed out talking to the database".
const PRISMA_UNAVAILABLE = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2037']);
// Node socket errors and PostgreSQL SQLSTATEs for the same situations: connection refused or
// dropped, server shutting down or starting, too many connections, statement timeout.
const CODES_UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '57014',
  '08000',
  '08001',
  '08003',
  '08006',
]);
const MESSAGES_UNAVAILABLE =
  /timeout exceeded when trying to connect|connection terminated|connection refused|can't reach database|server closed the connection|database system is (starting up|shutting down)|terminating connection|query read timeout/i;

/**
 * True when an error means the database could not serve the query (down, unreachable,
 * overloaded, too slow): the API answers 503 for those, 500 for anything else.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let err = error, depth = 0; err instanceof Object && depth < 8; depth++) {
    if (err instanceof Prisma.PrismaClientInitializationError) return true;
    if (err instanceof Prisma.PrismaClientKnownRequestError && PRISMA_UNAVAILABLE.has(err.code)) return true;
    const { code, message, cause } = err as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === 'string' && CODES_UNAVAILABLE.has(code)) return true;
    if (typeof message === 'string' && MESSAGES_UNAVAILABLE.test(message)) return true;
    err = cause;
  }
  return false;
}

export function isRecordNotFound(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025';
}
