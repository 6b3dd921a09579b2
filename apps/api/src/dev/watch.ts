/**
 * `npm run dev`: like `npm start`, but the server restarts on every source change while the
 * embedded PostgreSQL (if any) keeps running in this parent process across restarts.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { startLocalDatabaseIfNeeded } from './local-database.js';

const database = await startLocalDatabaseIfNeeded();
const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');
const server = new URL('../server.ts', import.meta.url).pathname;
const child = spawn(process.execPath, [tsxCli, 'watch', '--clear-screen=false', server], { stdio: 'inherit' });

const forward = (signal: NodeJS.Signals) => child.kill(signal);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
child.on('exit', (code) => {
  void (database?.stop() ?? Promise.resolve()).finally(() => process.exit(code ?? 0));
});
