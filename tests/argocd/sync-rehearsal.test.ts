// The README's path for dev, rehearsed with a real Argo CD on a simulated Minikube (rehearsal.ts
// says what runs and what the test stands in for): bootstrap.sh, Argo CD taking over its own install,
// then the dev Application synced onto the empty namespace, drift healed, the HPA's replica count
// kept, the API's monitoring synced next to it, and the commit the CI pin step makes deployed.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KubeObject } from '../support/kube-apiserver.js';
import { sleep } from '../support/processes.js';
import { ARGOCD_TITLE, NS, startRehearsal, type ApplicationStatus, type Rehearsal } from './rehearsal.js';

jest.setTimeout(300_000);

const APP = 'python-api-dev';
const MONITORING_APP = 'python-api-monitoring';
const RELEASE_PIN = 'gitops/overlays/dev/release/kustomization.yaml';

let r: Rehearsal;
beforeAll(async () => {
  r = await startRehearsal('dev');
}, 300_000);
afterAll(async () => {
  await r?.stop();
});

const get = <T = unknown>(urlPath: string) => r.get<T>(urlPath);
const list = <T = KubeObject>(urlPath: string) => r.list<T>(urlPath);
const application = (name = APP) => r.application(name);
const until = <T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs?: number) =>
  r.until(what, check, timeoutMs);
const git = (...args: string[]) => r.git(...args);
/** A commit in the fork, by `author` (as a developer or the CI pin step would make it). */
const commit = (author: string, ...args: string[]) =>
  git('-c', `user.name=${author}`, '-c', `user.email=${author}@example.invalid`, 'commit', '-q', ...args);

describe(`bootstrap.sh and the root Application on a fresh cluster${ARGOCD_TITLE}`, () => {
  it('installs Argo CD and applies the root Application', () => {
    expect(r.bootstrap.stderr).not.toMatch(/error/i);
    expect(r.bootstrap.code).toBe(0);
  });

  it('lets Argo CD take over its own install: the argocd Application is Synced and Healthy', async () => {
    const argocd = await until('the argocd Application Synced and Healthy', async () => {
      const s = (
        await get<{ status?: ApplicationStatus }>('/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/argocd')
      )?.status;
      return s?.sync?.status === 'Synced' && s.health?.status === 'Healthy' ? s : undefined;
    });
    expect(argocd.conditions ?? []).toEqual([]);
    // The root went on to the next wave only then: argocd-cm's health check for Applications is
    // what makes a wave of Applications wait (without it, Argo CD counts them Healthy at once).
    // Whether cert-manager's chart can be fetched depends on this machine's network: not asserted.
    await until('the root to create the wave -2 Applications', async () => r.seen.has('cert-manager app created'));
    expect(r.seen.get('argocd app healthy')).toBeLessThanOrEqual(r.seen.get('cert-manager app created')!);
  });
});

describe(`Argo CD syncing the dev Application onto an empty cluster${ARGOCD_TITLE}`, () => {
  const createdBy = new Map<string, 'root' | 'rehearsal'>();
  beforeAll(async () => {
    // The root creates both, after the platform's waves (or the rehearsal does, noted, see below).
    for (const name of [MONITORING_APP, APP]) createdBy.set(name, await r.applicationFromRoot(name));
  });

  // Fails when the rehearsal had to apply an Application itself (the root stayed on a platform
  // wave this cluster cannot run): what follows then proves the sync, not the root's creation.
  it('the root Application created python-api-monitoring and python-api-dev (no rehearsal fallback)', () => {
    expect(Object.fromEntries(createdBy)).toEqual({ [MONITORING_APP]: 'root', [APP]: 'root' });
  });

  it('converges in one automated sync: Synced, Healthy, no retry', async () => {
    const head = await git('rev-parse', 'HEAD');
    const status = await until('python-api-dev Synced and Healthy', async () => {
      const s = await application();
      return s.sync?.status === 'Synced' && s.health?.status === 'Healthy' && s.operationState?.phase === 'Succeeded'
        ? s
        : undefined;
    });
    expect(status.sync?.revision).toBe(head);
    expect(status.operationState?.retryCount ?? 0).toBe(0);
    expect(status.history?.map((h) => h.revision)).toEqual([head]);
    expect(status.conditions ?? []).toEqual([]);
    // Every resource Argo CD tracks is in sync and none is unhealthy (the migration Job is a hook:
    // run by the sync, not compared with git).
    const unhealthy = (status.resources ?? []).filter(
      (r) => !r.hook && (r.status !== 'Synced' || (r.health && r.health.status !== 'Healthy')),
    );
    expect(unhealthy).toEqual([]);
    expect(status.resources?.map((r) => `${r.kind}/${r.name}`)).toEqual(
      expect.arrayContaining([
        'StatefulSet/postgres',
        'Deployment/python-api',
        'Secret/postgres-secret',
        'Secret/app-secret',
      ]),
    );
  });

  // Retired here, proven with real pods by the real-cluster suite (tests/cluster/product.test.ts,
  // `npm run test:cluster`): the migration Job completing before the API starts, 3 API pods Ready,
  // and a deleted Service healed. What stays is what that cluster cannot run (Argo CD's own install,
  // the root Application's platform waves) and the scale-out the CI pin test below builds on.

  it('leaves the replica count to the HPA: a scale-out stays, and the app stays Synced', async () => {
    const scale = await r.server.request(
      'PATCH',
      `/apis/apps/v1/namespaces/${NS}/deployments/python-api/scale`,
      { spec: { replicas: 5 } },
      'application/merge-patch+json',
    );
    expect(scale.status).toBe(200);
    await until('five ready replicas', async () => {
      const d = await get<{ status: { readyReplicas?: number } }>(
        `/apis/apps/v1/namespaces/${NS}/deployments/python-api`,
      );
      return d?.status.readyReplicas === 5;
    });
    // Several reconciliations (every 5 s) later, Argo CD has neither reverted nor flagged it.
    await sleep(15_000);
    const d = await get<{ spec: { replicas: number } }>(`/apis/apps/v1/namespaces/${NS}/deployments/python-api`);
    expect(d?.spec.replicas).toBe(5);
    const s = await application();
    expect([s.sync?.status, s.health?.status]).toEqual(['Synced', 'Healthy']);
  });

  it("syncs the API's monitoring next to it: ServiceMonitors, alert rules, the dashboard for Grafana", async () => {
    await until(`${MONITORING_APP} Synced and Healthy`, async () => {
      const s = await application(MONITORING_APP);
      return s.sync?.status === 'Synced' && s.health?.status === 'Healthy';
    });
    const names = async (urlPath: string) => (await list(urlPath)).map((o) => o.metadata.name).sort();
    expect(await names('/apis/monitoring.coreos.com/v1/namespaces/monitoring/servicemonitors')).toEqual([
      'postgres',
      'python-api',
    ]);
    expect(await names('/apis/monitoring.coreos.com/v1/namespaces/monitoring/prometheusrules')).toEqual([
      'postgres-backup',
      'python-api',
    ]);
    const dashboards = await list<KubeObject & { data: Record<string, string> }>(
      '/api/v1/namespaces/monitoring/configmaps?labelSelector=grafana_dashboard%3D1',
    );
    expect(dashboards.flatMap((c) => Object.keys(c.data))).toEqual(['python-api.json']);
  });

  it('syncs a commit of the CI pin step: new image name, migration Job re-created first, Synced and Healthy', async () => {
    const before = await get<{ metadata: { uid: string } }>(`/apis/batch/v1/namespaces/${NS}/jobs/python-api-migrate`);
    expect(before).toBeDefined();
    // What .github/workflows/deploy.yaml commits after pushing a build.
    const pin = path.join(r.tree.dir, RELEASE_PIN);
    const text = await readFile(pin, 'utf8');
    await writeFile(pin, text.replaceAll('newTag: "1.0.0"', 'newTag: "1.0.1"'));
    await commit('ci', '-am', 'dev: deploy 1.0.1');
    const head = await git('rev-parse', 'HEAD');

    const status = await until('the new revision Synced and Healthy', async () => {
      const s = await application();
      return s.sync?.revision === head &&
        s.operationState?.syncResult?.revision === head &&
        s.operationState.phase === 'Succeeded' &&
        s.sync.status === 'Synced' &&
        s.health?.status === 'Healthy'
        ? s
        : undefined;
    });
    expect(status.history?.map((h) => h.revision)).toHaveLength(2);
    const job = await get<{
      metadata: { uid: string };
      spec: { template: { spec: { containers: { image: string }[] } } };
    }>(`/apis/batch/v1/namespaces/${NS}/jobs/python-api-migrate`);
    // BeforeHookCreation: the old Job was deleted and a new one ran with the new image.
    expect(job?.metadata.uid).not.toBe(before?.metadata.uid);
    expect(job?.spec.template.spec.containers[0]?.image).toMatch(/python-api-migrate:1\.0\.1$/);
    const deployment = await get<{
      spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
    }>(`/apis/apps/v1/namespaces/${NS}/deployments/python-api`);
    expect(deployment?.spec.template.spec.containers[0]?.image).toMatch(/python-api:1\.0\.1$/);
    // The sync did not reset the HPA's count either (RespectIgnoreDifferences).
    expect(deployment?.spec.replicas).toBe(5);
  });

  // The AppProject's rules, applied by Argo CD itself (argocd/projects/python-api.yaml): a commit that
  // adds a kind the project does not list, and a cluster-wide one, does not sync; once they are removed again, it does.
  it('refuses a commit adding kinds the python-api project does not admit (a ResourceQuota, a ClusterRole), and syncs once they are gone', async () => {
    const kustomization = path.join(r.tree.dir, 'gitops/overlays/dev/kustomization.yaml');
    await writeFile(
      path.join(r.tree.dir, 'gitops/overlays/dev/not-admitted.yaml'),
      [
        'apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: not-admitted\nspec:\n  hard:\n    pods: "50"',
        'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: not-admitted\nrules: []',
      ].join('\n---\n') + '\n',
    );
    const text = await readFile(kustomization, 'utf8');
    await writeFile(kustomization, text.replace('resources:\n', 'resources:\n  - not-admitted.yaml\n'));
    await git('add', 'gitops/overlays/dev');
    await commit('dev', '-m', 'dev: kinds the project does not admit');
    const refused = await git('rev-parse', 'HEAD');

    const status = await until('Argo CD to refuse the commit', async () => {
      const s = await application();
      const text = JSON.stringify(s);
      return s.sync?.revision === refused &&
        /ResourceQuota[^"]*not permitted in project/.test(text) &&
        /ClusterRole[^"]*not permitted in project/.test(text)
        ? s
        : undefined;
    });
    expect(status.sync?.status).toBe('OutOfSync');
    expect(await get(`/api/v1/namespaces/${NS}/resourcequotas/not-admitted`)).toBeUndefined();
    expect(await get('/apis/rbac.authorization.k8s.io/v1/clusterroles/not-admitted')).toBeUndefined();

    await rm(path.join(r.tree.dir, 'gitops/overlays/dev/not-admitted.yaml'));
    await writeFile(kustomization, text);
    await git('add', 'gitops/overlays/dev');
    await commit('dev', '-m', 'dev: back to what the project admits');
    const fixed = await git('rev-parse', 'HEAD');
    await until('the commit removing them Synced and Healthy', async () => {
      const s = await application();
      return s.sync?.revision === fixed && s.sync.status === 'Synced' && s.health?.status === 'Healthy' ? s : undefined;
    });
  });
});
