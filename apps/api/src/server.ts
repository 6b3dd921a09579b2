/**
 * Production entry point: owns the process. Validates the configuration before opening any
 * port, starts the service, and turns SIGTERM/SIGINT into a graceful shutdown.
 */
import { loadServerConfigOrExit } from './config/config.js';
import { createLogger } from './observability/logger.js';
import { startService, type Service } from './service.js';

// One line naming the key, then a non-zero exit before any port opens.
const config = loadServerConfigOrExit();

const logger = createLogger(config.LOG_LEVEL);
const running: { service?: Service } = {};
let signals = 0;

function shutDown(): void {
  // The hard cap also covers a hung database disconnect, not only open connections.
  setTimeout(
    () => {
      logger.error('shutdown did not finish in time: exiting');
      process.exit(1);
    },
    config.SHUTDOWN_DELAY_MS + config.SHUTDOWN_TIMEOUT_MS + 2_000,
  ).unref();
  running.service?.shutdown().then(
    (graceful) => process.exit(graceful ? 0 : 1),
    (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    },
  );
}

// Installed before the ports open, so a signal during start-up is never the default "die now".
const onSignal = (signal: NodeJS.Signals) => {
  signals += 1;
  if (signals > 1) {
    logger.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  logger.info({ signal }, 'signal received');
  if (running.service) shutDown(); // otherwise right after start-up completes
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);

// The process must outlive a failing database: log such errors instead of crashing on them.
process.on('unhandledRejection', (reason) => {
  logger.error({ err: reason }, 'unhandled promise rejection');
});

try {
  running.service = await startService(config, logger);
} catch (error) {
  // E.g. the port is taken: one clear line, and a non-zero exit for the orchestrator.
  logger.fatal({ err: error }, `start-up failed: ${(error as Error).message}`);
  process.exit(1);
}
if (signals > 0) shutDown();
