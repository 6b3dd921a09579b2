// The Applications each cluster's root app creates: what they deploy, in which order, with which
// sync policy. Argo CD itself is not running here, so these read the rendered Applications the
// way Argo CD would and check the decisions docs/argocd.md explains.
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../support/tools.js';
import { ENVIRONMENTS, find, isApplication, render, sourcesOf, versions, wave, type Application } from './helpers.js';

const appsOf = async (env: string) => (await render(`gitops/apps/${env}`)).filter(isApplication);

describe.each(ENVIRONMENTS)('the %s cluster', (env) => {
  it('has one root Application that manages its own folder, Argo CD and the platform', async () => {
    const apps = await appsOf(env);
    expect(apps.map((a) => a.metadata.name).sort()).toEqual(
      [
        'alloy',
        'argocd',
        'cert-manager',
        'kube-prometheus-stack',
        'loki',
        `python-api-${env}`,
        'python-api-monitoring',
        'root',
      ].sort(),
    );
    const root = find<Application>(apps, 'Application', 'root');
    expect(root.spec.source?.path).toBe(`gitops/apps/${env}`);
    expect(root.metadata.labels).toMatchObject({ 'gitops.python-api/root': 'true' });
    // Only the root carries the label bootstrap.sh applies by.
    expect(
      apps.filter((a) => (a.metadata.labels as Record<string, string> | undefined)?.['gitops.python-api/root']),
    ).toHaveLength(1);
    expect(find<Application>(apps, 'Application', 'argocd').spec.source?.path).toBe('argocd');
  });

  it('points every Application at a folder or chart that exists, in a project that is not `default`', async () => {
    for (const app of await appsOf(env)) {
      expect(app.metadata.namespace).toBe('argocd');
      expect(['platform', 'python-api']).toContain(app.spec.project);
      for (const source of sourcesOf(app)) {
        if (source.path) expect(existsSync(path.join(REPO_ROOT, source.path, 'kustomization.yaml'))).toBe(true);
        if (source.chart) expect(source.targetRevision).toMatch(/^v?\d+\.\d+\.\d+$/); // exact chart versions
        for (const file of source.helm?.valueFiles ?? []) {
          expect(file).toMatch(/^\$values\//);
          expect(existsSync(path.join(REPO_ROOT, file.replace(/^\$values\//, '')))).toBe(true);
        }
      }
      if (app.spec.sources) expect(app.spec.sources.filter((s) => s.ref === 'values')).toHaveLength(1);
    }
  });

  it('orders the sync: Argo CD, then CRD owners, then their users, then the API', async () => {
    const apps = await appsOf(env);
    const w = (name: string) => wave(find(apps, 'Application', name));
    expect(w('argocd')).toBeLessThan(w('kube-prometheus-stack'));
    expect(w('argocd')).toBeLessThan(w('cert-manager'));
    // ServiceMonitor/PrometheusRule CRDs come with kube-prometheus-stack.
    expect(w('kube-prometheus-stack')).toBeLessThan(w('python-api-monitoring'));
    expect(w('loki')).toBeLessThan(w(`python-api-${env}`));
    // The overlay's Issuer and Certificate need cert-manager.
    expect(w('cert-manager')).toBeLessThan(w(`python-api-${env}`));
    expect(w('python-api-monitoring')).toBeLessThan(w(`python-api-${env}`));
    const monitoringNamespace = find(await render(`gitops/apps/${env}`), 'Namespace', 'monitoring');
    expect(wave(monitoringNamespace)).toBeLessThan(w('kube-prometheus-stack'));
  });

  it('leaves the replica count to the HPA', async () => {
    const app = find<Application>(await appsOf(env), 'Application', `python-api-${env}`);
    expect(app.spec.ignoreDifferences).toContainEqual({
      group: 'apps',
      kind: 'Deployment',
      name: 'python-api',
      jsonPointers: ['/spec/replicas'],
    });
    expect(app.spec.syncPolicy?.syncOptions).toContain('RespectIgnoreDifferences=true');
    expect(app.spec.syncPolicy?.syncOptions).toContain('CreateNamespace=false');
    expect(app.spec.destination).toEqual({ server: 'https://kubernetes.default.svc', namespace: 'python-api-ns' });
    expect(app.spec.source?.path).toBe(`gitops/overlays/${env}`);
  });

  it('shows where the API and Grafana are', async () => {
    const app = find<Application>(await appsOf(env), 'Application', `python-api-${env}`);
    const annotations = app.metadata.annotations as Record<string, string>;
    expect(annotations['link.argocd.argoproj.io/external-link']).toMatch(/^https:\/\/api\./);
    expect(annotations['link.argocd.argoproj.io/grafana']).toMatch(/\/d\/python-api\//);
    expect(app.spec.info?.map((i) => i.name)).toEqual(expect.arrayContaining(['API', 'Grafana', 'Release pin']));
  });

  it('installs the cert-manager release whose CRDs the overlays are validated against', async () => {
    const app = find<Application>(await appsOf(env), 'Application', 'cert-manager');
    expect(app.spec.source).toMatchObject({ chart: 'cert-manager', targetRevision: versions().CERT_MANAGER_VERSION });
  });

  it('uses server-side apply where CRDs are too large for client-side apply', async () => {
    const apps = await appsOf(env);
    for (const name of ['argocd', 'kube-prometheus-stack']) {
      expect(find<Application>(apps, 'Application', name).spec.syncPolicy?.syncOptions).toContain(
        'ServerSideApply=true',
      );
    }
  });
});

describe('sync policies per environment', () => {
  const api = async (env: string) => find<Application>(await appsOf(env), 'Application', `python-api-${env}`);
  const finalizers = (app: Application) => (app.metadata.finalizers as string[] | undefined) ?? [];

  it('dev follows main: automated, prune and self-heal, resources deleted with the Application', async () => {
    const app = await api('dev');
    expect(app.spec.syncPolicy?.automated).toEqual({ prune: true, selfHeal: true });
    expect(finalizers(app)).toContain('resources-finalizer.argocd.argoproj.io/foreground');
  });

  it('staging mirrors git exactly, as the rehearsal for prod', async () => {
    expect((await api('staging')).spec.syncPolicy?.automated).toEqual({ prune: true, selfHeal: true });
  });

  it('prod never prunes on its own and survives the deletion of its Application', async () => {
    const app = await api('prod');
    expect(app.spec.syncPolicy?.automated).toEqual({ prune: false, selfHeal: true });
    expect(finalizers(app)).toEqual([]);
  });

  it('the root and Argo CD itself can never cascade-delete the cluster', async () => {
    for (const env of ENVIRONMENTS) {
      const apps = await appsOf(env);
      expect(finalizers(find<Application>(apps, 'Application', 'root'))).toEqual([]);
      const argocd = find<Application>(apps, 'Application', 'argocd');
      expect(finalizers(argocd)).toEqual([]);
      expect(argocd.spec.syncPolicy?.automated?.prune).toBe(false);
    }
    const namespace = find(await render('argocd'), 'Namespace', 'argocd');
    expect((namespace.metadata.annotations as Record<string, string>)['argocd.argoproj.io/sync-options']).toBe(
      'Prune=false,Delete=false',
    );
  });
});

describe('one template per kind of Application', () => {
  // What an environment may set on the API's Application (gitops/apps/<env>/python-api.yaml); the
  // rest comes from gitops/apps/base/python-api.yaml, so the environments cannot drift apart.
  const ownFields = (app: Application) => {
    const copy = structuredClone(app) as Application & {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
    };
    delete (copy.metadata as { name?: string }).name;
    delete copy.metadata.labels.environment;
    delete copy.metadata.annotations['link.argocd.argoproj.io/external-link'];
    delete copy.spec.info;
    delete copy.spec.source!.path;
    return copy;
  };
  // prod's documented exception (gitops/apps/prod/sync-policy.yaml).
  const withoutSyncPolicy = (app: Application) => {
    const copy = ownFields(app) as Application & { spec: { syncPolicy: { retry?: unknown } } };
    delete copy.metadata.finalizers;
    delete copy.spec.syncPolicy.automated;
    delete copy.spec.syncPolicy.retry;
    return copy;
  };
  const api = async (env: string) => find<Application>(await appsOf(env), 'Application', `python-api-${env}`);

  it('the API Application differs between environments only in name, links, overlay and prod’s sync policy', async () => {
    expect(ownFields(await api('staging'))).toEqual(ownFields(await api('dev')));
    expect(withoutSyncPolicy(await api('prod'))).toEqual(withoutSyncPolicy(await api('dev')));
    for (const env of ENVIRONMENTS) {
      expect((await api(env)).metadata.labels).toMatchObject({ environment: env });
    }
  });

  it('the root Application differs between environments only in the folder it syncs', async () => {
    const root = async (env: string) => {
      const copy = structuredClone(find<Application>(await appsOf(env), 'Application', 'root'));
      expect(copy.spec.source?.path).toBe(`gitops/apps/${env}`);
      delete copy.spec.source!.path;
      return copy;
    };
    for (const env of ENVIRONMENTS) expect(await root(env)).toEqual(await root('dev'));
  });

  it('every file that declares an Application lives under gitops/apps/', () => {
    const yamlFiles = (dir: string): string[] =>
      readdirSync(path.join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' })
        .filter((f) => /\.ya?ml$/.test(f))
        .map((f) => path.join(dir, f));
    const declaring = ['gitops', 'argocd']
      .flatMap(yamlFiles)
      .filter((file) =>
        parseAllDocuments(readFileSync(path.join(REPO_ROOT, file), 'utf8')).some(
          (doc) => (doc.toJS() as { kind?: string } | null)?.kind === 'Application',
        ),
      );
    expect(declaring.length).toBeGreaterThanOrEqual(10);
    expect(declaring.filter((file) => !file.startsWith('gitops/apps/'))).toEqual([]);
  });
});
