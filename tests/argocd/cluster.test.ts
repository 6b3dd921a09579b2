// Everything this part of the repository renders, sent to a real kube-apiserver (tests/support)
// with the CRDs of Argo CD, prometheus-operator and cert-manager installed: server-side apply,
// strict field validation. Argo CD's own install is applied for real, then every Argo CD pod is
// created (dry run) in its namespace, where Pod Security admission enforces `restricted`.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  crdFiles,
  parseObjects,
  startKubeApiServer,
  type KubeApiServer,
  type KubeObject,
} from '../support/kube-apiserver.js';
import { REPO_ROOT } from '../support/tools.js';
import { ENVIRONMENTS, render } from './helpers.js';

jest.setTimeout(240_000);

let server: KubeApiServer;

beforeAll(async () => {
  server = await startKubeApiServer();
  await server.installCrds([...crdFiles('argocd'), ...crdFiles('prometheus-operator'), ...crdFiles('cert-manager')]);
});
afterAll(async () => {
  await server?.stop();
});

const id = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

/** Applies for real, namespaces and CRDs first; returns the ids the server rejected, with why. */
async function applyAll(objects: KubeObject[]): Promise<string[]> {
  const first = (o: KubeObject) => (o.kind === 'Namespace' || o.kind === 'CustomResourceDefinition' ? 0 : 1);
  const rejected: string[] = [];
  for (const object of [...objects].sort((a, b) => first(a) - first(b))) {
    try {
      await server.apply(object);
    } catch (error) {
      rejected.push(`${id(object)}: ${(error as Error).message}`);
    }
  }
  return rejected;
}

/** Every rejection and every warning (a deprecated field today is a rejection tomorrow). */
async function dryRunAll(objects: KubeObject[]): Promise<string[]> {
  const results = await Promise.all(objects.map(async (o) => ({ o, r: await server.applyDryRun(o) })));
  return results.flatMap(({ o, r }) => [
    ...(r.accepted ? [] : [`${id(o)}: ${r.message}`]),
    ...r.warnings.map((warning) => `${id(o)}: warning: ${warning}`),
  ]);
}

describe('argocd/ (the Argo CD install, KSOPS, projects)', () => {
  it('is accepted as a whole, with the vendored CRDs and every AppProject', async () => {
    const objects = await render('argocd');
    expect(await applyAll(objects)).toEqual([]);
    const projects = await server.request('GET', '/apis/argoproj.io/v1alpha1/namespaces/argocd/appprojects');
    expect((projects.body as { items: KubeObject[] }).items.map((p) => p.metadata.name).sort()).toEqual([
      'default',
      'platform',
      'python-api',
    ]);
  });

  it('admits every Argo CD pod under the restricted Pod Security level (dry run), KSOPS init container included', async () => {
    const workloads = (await render('argocd')).filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
    expect(workloads.length).toBeGreaterThanOrEqual(6);
    for (const workload of workloads) {
      const template = (
        workload.spec as { template: { metadata?: { labels?: Record<string, string> }; spec: unknown } }
      ).template;
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          generateName: `${workload.metadata.name}-`,
          namespace: 'argocd',
          labels: template.metadata?.labels,
        },
        spec: template.spec,
      };
      const answer = await server.request(
        'POST',
        '/api/v1/namespaces/argocd/pods?dryRun=All&fieldValidation=Strict',
        pod,
      );
      expect([
        workload.metadata.name,
        answer.status,
        answer.status === 201 ? '' : (answer.body as { message?: string }).message,
      ]).toEqual([workload.metadata.name, 201, '']);
      // warn=restricted too: not even a warning.
      expect([workload.metadata.name, answer.warnings]).toEqual([workload.metadata.name, []]);
    }
    // The check is live: the same namespace refuses a pod that may escalate privileges.
    const rogue = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'rogue', namespace: 'argocd' },
      spec: { serviceAccountName: 'argocd-server', containers: [{ name: 'c', image: 'busybox' }] },
    };
    const refused = await server.request('POST', '/api/v1/namespaces/argocd/pods?dryRun=All', rogue);
    expect(refused.status).toBe(403);
    expect((refused.body as { message: string }).message).toMatch(/violates PodSecurity "restricted/);
  });
});

describe.each(ENVIRONMENTS)('gitops/apps/%s (root, platform and API Applications)', (env) => {
  it('is accepted by the API server with the Argo CD CRDs', async () => {
    await server.apply(parseObjects(readFileSync(path.join(REPO_ROOT, 'argocd/namespace.yaml'), 'utf8'))[0]!);
    const objects = await render(`gitops/apps/${env}`);
    expect(objects.filter((o) => o.kind === 'Application').length).toBe(8);
    expect(await dryRunAll(objects)).toEqual([]);
  });
});

describe('gitops/monitoring/python-api (ServiceMonitors, PrometheusRule, dashboard)', () => {
  it('is accepted by the API server with the prometheus-operator CRDs', async () => {
    await server.apply(
      parseObjects(readFileSync(path.join(REPO_ROOT, 'gitops/apps/platform/monitoring/namespace.yaml'), 'utf8'))[0]!,
    );
    const objects = await render('gitops/monitoring/python-api');
    expect(objects.map((o) => o.kind).sort()).toEqual([
      'ConfigMap',
      'PrometheusRule',
      'PrometheusRule',
      'ServiceMonitor',
      'ServiceMonitor',
    ]);
    expect(await dryRunAll(objects)).toEqual([]);
  });

  it('would be refused if a field were misspelled (strict validation is on)', async () => {
    const [monitor] = (await render('gitops/monitoring/python-api')).filter((o) => o.kind === 'ServiceMonitor');
    const broken = structuredClone(monitor!) as KubeObject & { spec: Record<string, unknown> };
    broken.spec.endpoint = broken.spec.endpoints;
    delete broken.spec.endpoints;
    const result = await server.applyDryRun(broken);
    expect(result.accepted).toBe(false);
    expect(result.message).toMatch(/endpoint/);
  });
});
