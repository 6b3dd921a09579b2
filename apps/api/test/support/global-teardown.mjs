import { tsImport } from 'tsx/esm/api';

export default async function globalTeardown() {
  const { stopTestPostgres } = await tsImport('./postgres-server.ts', import.meta.url);
  await stopTestPostgres();
}
