// The AppProjects really contain what they are meant to contain: every Application and every
// object each Application renders is put to Argo CD's own project rules (source repositories,
// destinations, cluster- and namespace-scoped kinds), the AppProject methods its application
// controller calls before a sync, through tools/argocd-project-check.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { crdFiles, startKubeApiServer, type KubeObject } from '../support/kube-apiserver.js';
import { prepareRenderTree, type Environment, type RenderTree } from '../support/overlays.js';
import { runOk, tool } from '../support/tools.js';
import { ENVIRONMENTS, find, isApplication, render, sourcesOf, type Application, type AppProject } from './helpers.js';
import { KSOPS_TITLE } from '../support/notes.js';

jest.setTimeout(180_000);

// Cluster-scoped kinds among everything rendered here ("every kind rendered here has the scope
// the API server gives it" below asks a real kube-apiserver's discovery).
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
]);

const groupOf = (object: KubeObject) => (object.apiVersion.includes('/') ? object.apiVersion.split('/')[0]! : '');

interface ProjectCheck {
  project: AppProject;
  application: Application;
  objects?: KubeObject[];
}

/** Argo CD's verdict on each check: why the project refuses the Application or its objects. */
async function refusals(checks: ProjectCheck[]): Promise<string[][]> {
  const input = checks.map(({ project, application, objects = [] }) => ({
    project,
    application,
    objects: objects.map((o) => ({
      group: groupOf(o),
      kind: o.kind,
      name: o.metadata.name,
      namespace: o.metadata.namespace ?? '',
      namespaced: !CLUSTER_SCOPED.has(o.kind),
    })),
  }));
  return JSON.parse(await runOk(tool('argocd-project-check'), [], { input: JSON.stringify(input) })) as string[][];
}
const refusalsOf = async (check: ProjectCheck) => (await refusals([check]))[0]!;

let tree: RenderTree;
let projects: Map<string, AppProject>;

beforeAll(async () => {
  tree = await prepareRenderTree();
  projects = new Map(
    (await render('argocd')).filter((o) => o.kind === 'AppProject').map((p) => [p.metadata.name, p as AppProject]),
  );
});
afterAll(async () => {
  await tree?.cleanup();
});

const overlays = new Map<Environment, Promise<KubeObject[]>>();

/** What an Application deploys, rendered; null for third-party charts (not renderable offline). */
async function renderedBy(app: Application, env: string): Promise<KubeObject[] | null> {
  const own = sourcesOf(app).find((s) => s.path);
  if (!own?.path) return null;
  if (own.path !== `gitops/overlays/${env}`) return render(own.path);
  // The overlay goes through KSOPS: render each once, like render() does for the rest.
  let objects = overlays.get(env as Environment);
  if (!objects) {
    objects = tree.objects(env as Environment);
    overlays.set(env as Environment, objects);
  }
  return objects;
}

describe('the default project', () => {
  it('admits nothing, so an Application that forgets its project cannot deploy', () => {
    const project = projects.get('default')!;
    expect(project.spec.sourceRepos ?? []).toEqual([]);
    expect(project.spec.destinations ?? []).toEqual([]);
  });
});

describe.each(ENVIRONMENTS)(`in the %s cluster${KSOPS_TITLE}`, (env) => {
  it('every Application names a project that admits its sources and destination', async () => {
    const apps = (await render(`gitops/apps/${env}`)).filter(isApplication);
    for (const app of apps)
      expect([app.metadata.name, projects.has(app.spec.project) ? 'found' : 'missing']).toEqual([
        app.metadata.name,
        'found',
      ]);
    const verdicts = await refusals(
      apps.map((application) => ({ project: projects.get(application.spec.project)!, application })),
    );
    expect(apps.map((app, i) => [app.metadata.name, verdicts[i]])).toEqual(apps.map((app) => [app.metadata.name, []]));
  });

  it("every object an Application renders is admitted by its project's kinds and destinations", async () => {
    const checks: ProjectCheck[] = [];
    for (const application of (await render(`gitops/apps/${env}`)).filter(isApplication)) {
      const objects = await renderedBy(application, env);
      if (objects) checks.push({ project: projects.get(application.spec.project)!, application, objects });
    }
    const verdicts = await refusals(checks);
    expect(checks.map((c, i) => [c.application.metadata.name, verdicts[i]])).toEqual(
      checks.map((c) => [c.application.metadata.name, []]),
    );
    expect(checks.reduce((sum, c) => sum + c.objects!.length, 0)).toBeGreaterThan(100);
  });

  it('nothing lands in the default namespace', async () => {
    for (const app of (await render(`gitops/apps/${env}`)).filter(isApplication)) {
      expect(app.spec.destination.namespace).not.toBe('default');
      for (const object of (await renderedBy(app, env)) ?? []) expect(object.metadata.namespace).not.toBe('default');
    }
  });
});

describe('the python-api project', () => {
  const app = async () => find<Application>(await render('gitops/apps/dev'), 'Application', 'python-api-dev');
  const deployment = (namespace?: string): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'x', ...(namespace ? { namespace } : {}) },
  });

  it('refuses another namespace, a kind it does not use, and cluster-wide RBAC', async () => {
    const check = async (object: KubeObject) =>
      refusalsOf({ project: projects.get('python-api')!, application: await app(), objects: [object] });
    expect(await check(deployment('python-api-ns'))).toEqual([]);
    expect(await check(deployment('default'))).toEqual([
      'Deployment/x: namespace default is not permitted in project python-api',
    ]);
    expect(await check({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'x' } })).toEqual([
      'DaemonSet/x: namespaced kind DaemonSet.apps is not permitted in project python-api',
    ]);
    expect(
      await check({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'x' } }),
    ).toEqual([
      'ClusterRole/x: cluster-scoped kind ClusterRole.rbac.authorization.k8s.io is not permitted in project python-api',
    ]);
  });

  it('only takes sources from this repository', async () => {
    const project = projects.get('python-api')!;
    expect(project.spec.sourceRepos).toHaveLength(1);
    const chart = {
      ...(await app()),
      spec: {
        ...(await app()).spec,
        source: { repoURL: 'https://charts.example.org', chart: 'x', targetRevision: '1.0.0' },
      },
    } as Application;
    expect(await refusalsOf({ project, application: chart })).toEqual([
      'source https://charts.example.org is not permitted in project python-api',
    ]);
  });
});

describe('the scope list this test uses', () => {
  it('every kind rendered here has the scope the API server gives it (discovery, CRDs installed)', async () => {
    const server = await startKubeApiServer();
    try {
      await server.installCrds([
        ...crdFiles('argocd'),
        ...crdFiles('prometheus-operator'),
        ...crdFiles('cert-manager'),
      ]);
      const rendered: KubeObject[] = [...(await render('argocd'))];
      for (const env of ENVIRONMENTS) {
        for (const app of (await render(`gitops/apps/${env}`)).filter(isApplication)) {
          rendered.push(app, ...((await renderedBy(app, env)) ?? []));
        }
      }
      const kinds = new Map(rendered.map((o) => [`${o.apiVersion} ${o.kind}`, o]));
      const wrong: string[] = [];
      for (const [key, object] of kinds) {
        const discovery = await server.request(
          'GET',
          object.apiVersion.includes('/') ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`,
        );
        const resource = (
          discovery.body as { resources?: { kind: string; name: string; namespaced: boolean }[] }
        ).resources?.find((r) => r.kind === object.kind && !r.name.includes('/'));
        if (!resource) wrong.push(`${key}: not served`);
        else if (resource.namespaced === CLUSTER_SCOPED.has(object.kind))
          wrong.push(`${key}: the API server says namespaced=${resource.namespaced}`);
      }
      expect(kinds.size).toBeGreaterThan(20);
      expect(wrong).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});
