/**
 * `npm start`: the compiled server, on an embedded PostgreSQL when no DATABASE_URL is given.
 * The production image runs server.js directly and never loads this file.
 */
import { startLocalDatabaseIfNeeded } from './local-database.js';

await startLocalDatabaseIfNeeded();
// PostgreSQL gets its shutdown signal from the exit hook once the server has stopped.
await import('../server.js');
