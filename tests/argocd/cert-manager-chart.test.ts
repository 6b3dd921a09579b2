// The cert-manager Application's Helm values against the real chart: the chart source at the
// pinned version (the one platform chart the Go module proxy serves; .tools/assets/cert-manager-
// chart), rendered by the pinned Helm 4 as Argo CD's repo-server renders it, with the chart's own
// values schema, and every rendered object accepted by a real kube-apiserver.
// (kube-prometheus-stack, Loki and Alloy cannot be fetched here; their values are not rendered.)
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseObjects, startKubeApiServer, type KubeApiServer, type KubeObject } from '../support/kube-apiserver.js';
import { ASSETS_DIR, run, tool } from '../support/tools.js';
import { find, render, versions, type Application } from './helpers.js';

jest.setTimeout(180_000);

const CHART = path.join(ASSETS_DIR, 'cert-manager-chart', 'chart');

let server: KubeApiServer;
let dir = '';
let app: Application;

async function helmTemplate(values: unknown) {
  const file = path.join(dir, `values-${Date.now()}.json`);
  await writeFile(file, JSON.stringify(values));
  return run(tool('helm'), [
    'template',
    app.spec.source!.helm!.releaseName!,
    CHART,
    '--namespace',
    app.spec.destination.namespace,
    '--values',
    file,
    '--kube-version',
    versions().KUBERNETES_VERSION!,
  ]);
}

const valuesObject = () => app.spec.source?.helm?.valuesObject as Record<string, unknown>;

beforeAll(async () => {
  app = find(await render('gitops/apps/platform'), 'Application', 'cert-manager') as Application;
  dir = await mkdtemp(path.join(os.tmpdir(), 'cert-manager-chart-'));
  server = await startKubeApiServer();
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the cert-manager chart with the Application’s values', () => {
  it('is the chart version the Application pins', () => {
    expect(app.spec.source?.chart).toBe('cert-manager');
    expect(app.spec.source?.helm?.releaseName).toBe('cert-manager');
    expect(app.spec.source?.targetRevision).toBe(versions().CERT_MANAGER_VERSION);
  });

  it('renders: the chart’s values schema accepts every key', async () => {
    const result = await helmTemplate(valuesObject());
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('would reject a misspelt key (the schema is strict, so the check above has teeth)', async () => {
    const result = await helmTemplate({ ...valuesObject(), resource: { requests: { cpu: '10m' } } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/resource/);
  });

  it('produces objects the API server accepts, with the sizes and CRD settings asked for', async () => {
    const objects = parseObjects((await helmTemplate(valuesObject())).stdout);
    // CRDs and the namespace for real (Argo CD creates it: CreateNamespace=true), the rest as a dry run.
    await server.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: app.spec.destination.namespace } });
    const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
    expect(crds.length).toBeGreaterThanOrEqual(6);
    for (const crd of crds) await server.apply(crd);
    // keep: true → Helm's keep policy, so deleting the Application never deletes every Certificate.
    expect(
      crds.every((crd) => (crd.metadata.annotations as Record<string, string>)?.['helm.sh/resource-policy'] === 'keep'),
    ).toBe(true);

    const problems: string[] = [];
    for (const object of objects.filter((o) => o.kind !== 'CustomResourceDefinition')) {
      const result = await server.applyDryRun(object);
      if (!result.accepted) problems.push(`${object.kind}/${object.metadata.name}: ${result.message}`);
      for (const warning of result.warnings)
        problems.push(`${object.kind}/${object.metadata.name}: warning: ${warning}`);
    }
    expect(problems).toEqual([]);

    const deployments = objects.filter(
      (o): o is KubeObject & { spec: { template: { spec: { containers: { resources: unknown }[] } } } } =>
        o.kind === 'Deployment',
    );
    const sizes = Object.fromEntries(
      deployments.map((d) => [d.metadata.name, d.spec.template.spec.containers[0]!.resources]),
    );
    expect(sizes).toEqual({
      'cert-manager': { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '128Mi' } },
      'cert-manager-webhook': { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '64Mi' } },
      'cert-manager-cainjector': { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '128Mi' } },
    });
  });
});
