// Jest loads global setup outside its module system (no moduleNameMapper, CommonJS), so the
// TypeScript that starts PostgreSQL is loaded through tsx instead.
import { tsImport } from 'tsx/esm/api';

export default async function globalSetup() {
  const { startTestPostgres } = await tsImport('./postgres-server.ts', import.meta.url);
  await startTestPostgres();
}
