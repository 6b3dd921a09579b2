// The same rehearsal for prod (rehearsal.ts says what runs and what the test stands in for):
// `bootstrap.sh --env prod` on a fresh cluster whose one node is production-sized, then the prod
// Application synced onto the empty namespace by Argo CD's automated sync, with prod's sizes,
// ClusterIP app-service (the Ingress is the only way in), ACME issuer and HPA floor of 3, and no prune (a file removed from git
// leaves its object in the cluster until someone prunes by hand).
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { runOk } from '../support/tools.js';
import { sleep } from '../support/processes.js';
import { ARGOCD_TITLE, NS, startRehearsal, type Rehearsal } from './rehearsal.js';

jest.setTimeout(300_000);

const APP = 'python-api-prod';

let r: Rehearsal;
let createdBy: 'root' | 'rehearsal' | undefined;
beforeAll(async () => {
  r = await startRehearsal('prod', { cpu: '8', memory: '32Gi' });
  createdBy = await r.applicationFromRoot(APP);
}, 300_000);
afterAll(async () => {
  await r?.stop();
});

describe(`Argo CD syncing the prod Application onto an empty cluster${ARGOCD_TITLE}`, () => {
  // Fails when the rehearsal had to apply the Application itself (see rehearsal.ts).
  it('the root Application created python-api-prod (no rehearsal fallback)', () => {
    expect(createdBy).toBe('root');
  });

  it('is bootstrapped the same way', () => {
    expect(r.bootstrap.stderr).not.toMatch(/error/i);
    expect(r.bootstrap.code).toBe(0);
  });

  it('converges in one automated sync: Synced, Healthy, no retry, in wave order', async () => {
    const head = await r.git('rev-parse', 'HEAD');
    const status = await r.until('python-api-prod Synced and Healthy', async () => {
      const s = await r.application(APP);
      return s.sync?.status === 'Synced' && s.health?.status === 'Healthy' && s.operationState?.phase === 'Succeeded'
        ? s
        : undefined;
    });
    expect(status.sync?.revision).toBe(head);
    expect(status.operationState?.retryCount ?? 0).toBe(0);
    expect(status.conditions ?? []).toEqual([]);
    const unhealthy = (status.resources ?? []).filter(
      (res) => !res.hook && (res.status !== 'Synced' || (res.health && res.health.status !== 'Healthy')),
    );
    expect(unhealthy).toEqual([]);
    const at = (event: string) => r.seen.get(event) ?? Number.NaN;
    expect(at('secrets')).toBeLessThanOrEqual(at('postgres created'));
    expect(at('postgres ready')).toBeLessThanOrEqual(at('migration created'));
    expect(at('migration complete')).toBeLessThanOrEqual(at('api created'));
  });

  it("rolls out prod's shape: 3 API pods (kwok-simulated) at prod's size behind a ClusterIP app-service, PostgreSQL's and the backups' claims bound", async () => {
    const deployment = await r.get<{
      status: { readyReplicas?: number };
      spec: { template: { spec: { containers: { resources: { requests: Record<string, string> } }[] } } };
    }>(`/apis/apps/v1/namespaces/${NS}/deployments/python-api`);
    expect(deployment?.status.readyReplicas).toBe(3);
    expect(deployment?.spec.template.spec.containers[0]?.resources.requests.cpu).toBe('500m');
    const service = await r.get<{ spec: { type: string } }>(`/api/v1/namespaces/${NS}/services/app-service`);
    expect(service?.spec.type).toBe('ClusterIP');
    const claims = await r.list<{
      metadata: { name: string };
      status: { phase: string; capacity?: { storage: string } };
    }>(`/api/v1/namespaces/${NS}/persistentvolumeclaims`);
    // PostgreSQL's volume, and the backups' own claim (gitops/components/backup).
    expect(claims.map((c) => [c.metadata.name, c.status.phase, c.status.capacity?.storage]).sort()).toEqual([
      ['data-postgres-0', 'Bound', '5Gi'],
      ['postgres-backups', 'Bound', '5Gi'],
    ]);
  });

  it('does not prune: an object removed from git stays, reported OutOfSync', async () => {
    // Drop the PodDisruptionBudget from the overlay, as a careless commit might.
    const base = path.join(r.tree.dir, 'gitops/base/kustomization.yaml');
    const text = await readFile(base, 'utf8');
    expect(text).toContain('api/pdb.yaml');
    await rm(path.join(r.tree.dir, 'gitops/base/api/pdb.yaml'));
    await runOk('sed', ['-i', '/api\\/pdb.yaml/d', base]);
    await r.git('-c', 'user.name=dev', '-c', 'user.email=dev@example.invalid', 'commit', '-q', '-am', 'drop the PDB');
    const head = await r.git('rev-parse', 'HEAD');

    // Argo CD compares the new revision, finds only something to prune, and with prune off it
    // neither syncs nor deletes: several reconciliations later the PDB is still there.
    await r.until('the new revision compared', async () => {
      const s = await r.application(APP);
      return s.sync?.revision === head && s.sync.status === 'OutOfSync';
    });
    await sleep(10_000);
    expect(await r.get(`/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets/python-api`)).toBeDefined();
    const after = await r.application(APP);
    expect(after.sync?.status).toBe('OutOfSync');
    expect(after.resources?.find((res) => res.kind === 'PodDisruptionBudget')).toMatchObject({
      status: 'OutOfSync',
      requiresPruning: true,
    });
  });
});
