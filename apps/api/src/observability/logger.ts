import pino, { type DestinationStream, type Logger } from 'pino';

/** Paths pino masks wherever they appear in a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'DATABASE_URL',
  '*.DATABASE_URL',
  'password',
  '*.password',
  '*.POSTGRES_PASSWORD',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'python-api' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names instead of numbers: easier to filter on in Loki.
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
    },
    // Asynchronous stdout: under load lines are batched into fewer writes instead of one
    // blocking write per request; pino flushes what is buffered when the process exits.
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
