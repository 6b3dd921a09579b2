// The AppProjects really contain what they are meant to contain. This evaluates Argo CD's
// project rules (source repositories, destinations, cluster- and namespace-scoped kind lists)
// against every Application and every object each Application renders, the way the
// application controller checks them before a sync.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { crdFiles, startKubeApiServer, type KubeObject } from '../support/kube-apiserver.js';
import { prepareRenderTree, type Environment, type RenderTree } from '../support/overlays.js';
import { ENVIRONMENTS, find, isApplication, render, sourcesOf, type Application, type AppProject } from './helpers.js';
import { KSOPS_TITLE } from '../support/notes.js';

jest.setTimeout(180_000);

const IN_CLUSTER = 'https://kubernetes.default.svc';
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

/** Argo CD's glob matching for sourceRepos / destinations ('*' and literal). */
const globMatch = (pattern: string, value: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  ).test(value);

const groupOf = (object: KubeObject) => (object.apiVersion.includes('/') ? object.apiVersion.split('/')[0]! : '');

/** Why the project refuses the object, or null when it admits it. */
function refusal(project: AppProject, app: Application, object: KubeObject): string | null {
  const group = groupOf(object);
  const listed = (list: { group: string; kind: string }[] | undefined) =>
    (list ?? []).some((entry) => globMatch(entry.group, group) && globMatch(entry.kind, object.kind));
  const id = `${object.kind}/${object.metadata.name}`;
  if (CLUSTER_SCOPED.has(object.kind)) {
    return listed(project.spec.clusterResourceWhitelist)
      ? null
      : `${id}: cluster-scoped kind not in clusterResourceWhitelist`;
  }
  const whitelist = project.spec.namespaceResourceWhitelist;
  if (whitelist && whitelist.length > 0 && !listed(whitelist)) return `${id}: kind not in namespaceResourceWhitelist`;
  const namespace = object.metadata.namespace ?? app.spec.destination.namespace;
  const server = app.spec.destination.server ?? IN_CLUSTER;
  const allowed = (project.spec.destinations ?? []).some(
    (d) => globMatch(d.server ?? '', server) && globMatch(d.namespace, namespace),
  );
  return allowed ? null : `${id}: namespace ${namespace} is not a destination of project ${project.metadata.name}`;
}

function admitsApplication(project: AppProject, app: Application): string[] {
  const problems: string[] = [];
  for (const source of sourcesOf(app)) {
    if (!(project.spec.sourceRepos ?? []).some((repo) => globMatch(repo, source.repoURL)))
      problems.push(`source ${source.repoURL} not in sourceRepos`);
  }
  const server = app.spec.destination.server ?? IN_CLUSTER;
  if (
    !(project.spec.destinations ?? []).some(
      (d) => globMatch(d.server ?? '', server) && globMatch(d.namespace, app.spec.destination.namespace),
    )
  ) {
    problems.push(`destination ${server} ${app.spec.destination.namespace} not allowed`);
  }
  return problems;
}

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
    for (const app of (await render(`gitops/apps/${env}`)).filter(isApplication)) {
      const project = projects.get(app.spec.project);
      expect([app.metadata.name, project ? 'found' : 'missing']).toEqual([app.metadata.name, 'found']);
      expect([app.metadata.name, admitsApplication(project!, app)]).toEqual([app.metadata.name, []]);
    }
  });

  it("every object an Application renders is admitted by its project's kinds and destinations", async () => {
    let checked = 0;
    for (const app of (await render(`gitops/apps/${env}`)).filter(isApplication)) {
      const objects = await renderedBy(app, env);
      if (!objects) continue;
      const problems = objects.map((o) => refusal(projects.get(app.spec.project)!, app, o)).filter(Boolean);
      expect([app.metadata.name, problems]).toEqual([app.metadata.name, []]);
      checked += objects.length;
    }
    expect(checked).toBeGreaterThan(100);
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
    const project = projects.get('python-api')!;
    expect(refusal(project, await app(), deployment('python-api-ns'))).toBeNull();
    expect(refusal(project, await app(), deployment('default'))).toMatch(/not a destination/);
    expect(
      refusal(project, await app(), { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'x' } }),
    ).toMatch(/namespaceResourceWhitelist/);
    expect(
      refusal(project, await app(), {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'x' },
      }),
    ).toMatch(/clusterResourceWhitelist/);
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
    expect(admitsApplication(project, chart)).toEqual(['source https://charts.example.org not in sourceRepos']);
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
