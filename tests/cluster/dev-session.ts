// The cluster left running for a developer (`npm run cluster:up`, scripts/cluster/dev.mjs): Argo CD's
// controllers sync the dev overlay onto the real cluster exactly as the suite does (deploy.ts), the
// API's NodePort is exposed on host loopback, and this process stays alive, keeping the Git server
// and the controllers running, until SIGTERM (`npm run cluster:down`) stops them.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CLUSTER_DIR, RealCluster } from '../support/real-cluster.js';
import { APP, NS, STAND_INS, deployDev } from './deploy.js';
import { runOk } from '../support/tools.js';

const cluster = new RealCluster();
const deployment = await deployDev(cluster);
let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await deployment.stop();
  process.exit(code);
};
process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));

try {
  await cluster.until(
    `${APP} to be Synced and Healthy`,
    async () => {
      const status = await deployment.application();
      return status.sync?.status === 'Synced' && status.health?.status === 'Healthy';
    },
    600_000,
    () => deployment.logs(),
  );
  const service = await cluster.json<{ spec: { ports: { name: string; nodePort?: number }[] } }>([
    ...['-n', NS, 'get', 'service', 'app-service'],
  ]);
  const nodePort = service.spec.ports.find((p) => p.name === 'http')?.nodePort;
  if (!nodePort) throw new Error('app-service has no NodePort for http');
  const address = (await runOk('bash', [path.join('scripts', 'cluster', 'expose.sh'), String(nodePort)])).trim();
  await writeFile(
    path.join(CLUSTER_DIR, 'dev.env'),
    `API_URL=http://${address}\nGIT_FORK=${deployment.fork.dir}\nARGOCD_LOGS=${deployment.fork.dir}\n`,
  );
  console.log(`dev overlay synced by Argo CD; the API answers on http://${address}`);
  console.log(`stand-ins:\n  ${STAND_INS.join('\n  ')}`);
} catch (error) {
  console.error((error as Error).message);
  await stop(1);
}
// Stay up: the Git server and Argo CD's controllers are children of this process.
setInterval(() => undefined, 60_000);
