// Backups on a real cluster: the database survives losing its volume. Argo CD syncs the dev overlay
// (with gitops/components/backup) onto the single-node cluster; items are written into the items table (psql in postgres-0),
// the backup Job runs (started the way the runbook says, scripts/backup/run-job.sh), the StatefulSet's
// claim and pod are deleted and recreated empty, the restore Job brings every item back, and the
// restore drill passes in its own pod. What stands in for what is in deploy.ts (STAND_INS); the
// PostgreSQL image is the stand-in scripts/cluster/images.sh builds (docs/image.md).
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import path from 'node:path';
import { REPO_ROOT } from '../support/tools.js';
import { RealCluster } from '../support/real-cluster.js';
import { NS, deployDev, postgresSql, type DevDeployment } from './deploy.js';

jest.setTimeout(600_000);

const RUN_JOB = path.join(REPO_ROOT, 'scripts', 'backup', 'run-job.sh');

interface Condition {
  type: string;
  status: string;
}
interface Pod {
  metadata: { name: string; uid: string };
  spec: { volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[] };
  status: { phase?: string; conditions?: Condition[] };
}

let cluster: RealCluster;
let deployment: DevDeployment;
let written = '';
const timings: Record<string, number> = {};

const isReady = (pod: Pod) => (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const details = async () =>
  `application: ${JSON.stringify(await deployment.application(), null, 1)}\n` +
  `pods:\n${(await cluster.run('kubectl', ['-n', NS, 'get', 'pods,jobs,pvc', '-o', 'wide'])).stdout}\n` +
  `events:\n${(await cluster.run('kubectl', ['-n', NS, 'get', 'events', '--sort-by=.lastTimestamp'])).stdout.split('\n').slice(-25).join('\n')}\n` +
  deployment.logs(15);

/** The runbook's command: creates the Job from its CronJob, waits, prints the log; timed. */
async function runJob(action: string, ...args: string[]) {
  const started = Date.now();
  const result = await cluster.run('bash', [RUN_JOB, action, ...args], { timeoutMs: 600_000 });
  timings[action] = (Date.now() - started) / 1000;
  return { ...result, output: `${result.stdout}\n${result.stderr}` };
}

const sql = (query: string) => postgresSql(cluster, query);

async function claimUid(): Promise<string> {
  return (await cluster.json<{ metadata: { uid: string } }>(['-n', NS, 'get', 'pvc', 'data-postgres-0'])).metadata.uid;
}

beforeAll(async () => {
  cluster = new RealCluster();
  deployment = await deployDev(cluster);
}, 300_000);

afterAll(async () => {
  if (Object.keys(timings).length > 0)
    console.log(`backup suite, measured: ${JSON.stringify(timings)} (seconds, Job created to Job finished)`);
  await deployment?.stop();
});

describe('backups on a real cluster: the database survives losing its volume', () => {
  it('the dev overlay converges with the backup CronJobs and their claim', async () => {
    await cluster.until(
      'python-api-dev to be Synced and Healthy',
      async () => {
        const status = await deployment.application();
        return status.sync?.status === 'Synced' && status.health?.status === 'Healthy';
      },
      480_000,
      details,
    );
    const cronJobs = await cluster.json<{ items: { metadata: { name: string }; spec: { suspend?: boolean } }[] }>([
      ...['-n', NS, 'get', 'cronjobs'],
    ]);
    expect(Object.fromEntries(cronJobs.items.map((c) => [c.metadata.name, c.spec.suspend ?? false]))).toEqual({
      'postgres-backup': false,
      'postgres-restore': true,
      'postgres-restore-drill': true,
    });
  });

  it('the backup Job writes a verified dump and counts as the CronJob last success (the alert metric)', async () => {
    // 26 items, the last one deleted again: ids with a gap, so the sequence is ahead of max(id).
    await sql(
      "INSERT INTO items (name, description, updated_at) SELECT 'kept ' || g, CASE WHEN g % 2 = 1 THEN '#' || g END, now() FROM generate_series(1, 26) g",
    );
    await sql('DELETE FROM items WHERE id = (SELECT max(id) FROM items)');
    written = await sql('SELECT id, name, description, created_at FROM items ORDER BY id');
    expect(written.split('\n')).toHaveLength(25);

    const backup = await runJob('backup');
    expect(backup.output).toMatch(/verified \/backups\/\.items-\d{8}T\d{6}Z\.dump\.partial: 2 tables with data/);
    expect(backup.output).toMatch(/kept 1 dumps \(retention 7\)/);
    expect(backup.code).toBe(0);

    // kube-state-metrics publishes this field as kube_cronjob_status_last_successful_time.
    const last = await cluster.until(
      'postgres-backup to record its last successful time',
      async () =>
        (
          await cluster.json<{ status: { lastSuccessfulTime?: string } }>([
            ...['-n', NS, 'get', 'cronjob', 'postgres-backup'],
          ])
        ).status.lastSuccessfulTime,
      60_000,
      details,
    );
    expect(Date.now() - Date.parse(last)).toBeLessThan(300_000);

    const list = await runJob('list');
    expect(list.code).toBe(0);
    // 25 items and the one row of _prisma_migrations.
    expect(list.output).toMatch(/items-\d{8}T\d{6}Z\.dump\t\d+ bytes\t26 rows/);
  });

  it('after the claim and the pod are deleted, PostgreSQL comes back empty on a new claim', async () => {
    const before = await claimUid();
    // Argo CD's self-heal would scale the StatefulSet straight back: the runbook's first step pauses it.
    await deployment.setAutoSync(false);
    try {
      await cluster.kubectl(['-n', NS, 'scale', 'statefulset', 'postgres', '--replicas=0']);
      await cluster.until(
        'postgres-0 to be gone',
        async () => (await cluster.run('kubectl', ['-n', NS, 'get', 'pod', 'postgres-0'])).code !== 0,
        180_000,
        details,
      );
      await cluster.kubectl(['-n', NS, 'delete', 'pvc', 'data-postgres-0', '--wait=true']);
      await cluster.kubectl(['-n', NS, 'scale', 'statefulset', 'postgres', '--replicas=1']);
      await cluster.until(
        'a new postgres-0 to be Ready',
        async () => isReady(await cluster.json<Pod>(['-n', NS, 'get', 'pod', 'postgres-0'])),
        300_000,
        details,
      );
    } finally {
      await deployment.setAutoSync(true);
    }
    expect(await claimUid()).not.toBe(before);
    expect(await sql("SELECT to_regclass('public.items')")).toBe('');
  });

  it('the restore Job brings every item back, and new items continue after the restored ids', async () => {
    const restore = await runJob('restore');
    expect(restore.output).toMatch(/row counts match the dump: 2 tables, 26 rows/);
    expect(restore.code).toBe(0);

    expect(await sql('SELECT id, name, description, created_at FROM items ORDER BY id')).toBe(written);
    const lastId = Number(written.split('\n').at(-1)!.split('|')[0]);
    expect(await sql("INSERT INTO items (name, updated_at) VALUES ('after the restore', now()) RETURNING id")).toBe(
      String(lastId + 2),
    );
  });

  it('the restore drill restores the newest dump into a throwaway server in its pod and passes', async () => {
    const drill = await runJob('drill');
    expect(drill.output).toMatch(/row counts match the dump: 2 tables, 26 rows/);
    expect(drill.output).toMatch(/DRILL PASSED/);
    expect(drill.code).toBe(0);
  });
});
