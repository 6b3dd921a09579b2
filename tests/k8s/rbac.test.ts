// Who may do what in python-api-ns, answered by a real kube-apiserver's RBAC authorizer
// (SubjectAccessReview, what `kubectl auth can-i --as` asks) after each overlay's Roles and
// RoleBindings are stored for real: not a reading of the YAML.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startKubeApiServer, type KubeApiServer, type KubeObject } from '../support/kube-apiserver.js';
import { ENVIRONMENTS, prepareRenderTree, type RenderTree } from '../support/overlays.js';
import { waitFor } from '../support/wait.js';
import { find } from './helpers.js';
import { KSOPS_TITLE } from '../support/notes.js';

const NS = 'python-api-ns';
const RBAC = '/apis/rbac.authorization.k8s.io/v1';
const DEVELOPERS = 'python-api-developers';
const BREAK_GLASS = 'python-api-break-glass';

let server: KubeApiServer;
let tree: RenderTree;

beforeAll(async () => {
  [server, tree] = await Promise.all([startKubeApiServer(), prepareRenderTree()]);
  await server.apply(find(await tree.objects('dev'), 'Namespace', NS));
}, 180_000);

afterAll(async () => {
  await Promise.all([server?.stop(), tree?.cleanup()]);
});

interface Access {
  verb: string;
  resource: string;
  subresource?: string;
  group?: string;
  namespace?: string;
}

const describeAccess = (a: Access) =>
  `${a.verb} ${a.group ? `${a.group}/` : ''}${a.resource}${a.subresource ? `/${a.subresource}` : ''} in ${a.namespace ?? NS}`;

/** The API server's own answer: may a user in `group` do this? */
async function allowed(group: string, access: Access): Promise<boolean> {
  const review = await server.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: `someone-in-${group}`,
      groups: [group, 'system:authenticated'],
      resourceAttributes: {
        namespace: access.namespace ?? NS,
        verb: access.verb,
        group: access.group ?? '',
        resource: access.resource,
        subresource: access.subresource ?? '',
      },
    },
  });
  expect(review.status).toBe(201);
  return (review.body as { status: { allowed: boolean } }).status.allowed === true;
}

/** RBAC's authorizer reads Roles through an informer: wait until it has seen what was just stored. */
async function until(group: string, access: Access, expected: boolean): Promise<void> {
  await waitFor(
    `the authorizer to answer ${expected} for ${group}: ${describeAccess(access)}`,
    async () => (await allowed(group, access)) === expected,
    { timeoutMs: 15_000, intervalMs: 100 },
  );
}

/** Every access of the list with the server's answer, so a failure names each wrong one. */
async function answers(group: string, accesses: Access[]): Promise<Record<string, boolean>> {
  const result: Record<string, boolean> = {};
  for (const access of accesses) result[describeAccess(access)] = await allowed(group, access);
  return result;
}

const everyAnswer = (accesses: Access[], value: boolean) =>
  Object.fromEntries(accesses.map((a) => [describeAccess(a), value]));

const READS: Access[] = [
  ...['get', 'list', 'watch'].flatMap((verb) => [
    { verb, resource: 'pods' },
    { verb, resource: 'events' },
    { verb, resource: 'configmaps' },
    { verb, resource: 'deployments', group: 'apps' },
    { verb, resource: 'statefulsets', group: 'apps' },
    { verb, resource: 'jobs', group: 'batch' },
    { verb, resource: 'horizontalpodautoscalers', group: 'autoscaling' },
    { verb, resource: 'networkpolicies', group: 'networking.k8s.io' },
  ]),
  { verb: 'get', resource: 'pods', subresource: 'log' },
];

// "create" is the SPDY stream kubectl used up to 1.30, "get" the WebSocket one since 1.31.
const STREAMS_INTO_PODS: Access[] = ['create', 'get'].flatMap((verb) => [
  { verb, resource: 'pods', subresource: 'exec' },
  { verb, resource: 'pods', subresource: 'portforward' },
  { verb, resource: 'pods', subresource: 'attach' },
]);

const SECRETS: Access[] = ['get', 'list', 'watch'].map((verb) => ({ verb, resource: 'secrets' }));

const CHANGES: Access[] = [
  { verb: 'create', resource: 'pods' },
  { verb: 'delete', resource: 'pods' },
  { verb: 'create', resource: 'pods', subresource: 'ephemeralcontainers' },
  { verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers' },
  { verb: 'patch', resource: 'deployments', group: 'apps' },
  { verb: 'create', resource: 'rolebindings', group: 'rbac.authorization.k8s.io' },
  { verb: 'create', resource: 'serviceaccounts', subresource: 'token' },
];

describe.each(ENVIRONMENTS)(`overlay %s: RBAC as the API server decides it${KSOPS_TITLE}`, (environment) => {
  beforeAll(async () => {
    // Only this overlay's Roles and bindings: clear what the previous overlay stored.
    for (const kind of ['roles', 'rolebindings'])
      expect((await server.request('DELETE', `${RBAC}/namespaces/${NS}/${kind}`)).status).toBe(200);
    const rbac = (await tree.objects(environment)).filter((o: KubeObject) =>
      ['Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind),
    );
    expect(rbac.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'Role/break-glass',
      'Role/developer',
      'RoleBinding/break-glass',
      'RoleBinding/developer',
    ]);
    for (const object of rbac) await server.apply(object);
    // The one answer each binding must change once stored; every other answer is the test's.
    await until(DEVELOPERS, { verb: 'get', resource: 'pods' }, true);
    await until(BREAK_GLASS, { verb: 'get', resource: 'pods', subresource: 'exec' }, true);
  }, 60_000);

  it('a developer reads workloads, events, configuration and logs', async () => {
    expect(await answers(DEVELOPERS, READS)).toEqual(everyAnswer(READS, true));
  });

  it('a developer can neither exec, attach nor port-forward into a pod, nor read a Secret, nor change anything', async () => {
    const denied = [...STREAMS_INTO_PODS, ...SECRETS, ...CHANGES];
    expect(await answers(DEVELOPERS, denied)).toEqual(everyAnswer(denied, false));
  });

  it('break-glass may exec into and port-forward to pods, and still never read Secrets or change anything', async () => {
    const streams = STREAMS_INTO_PODS.filter((a) => a.subresource !== 'attach');
    expect(await answers(BREAK_GLASS, streams)).toEqual(everyAnswer(streams, true));
    const denied = [...SECRETS, ...CHANGES, { verb: 'get', resource: 'pods', subresource: 'attach' }];
    expect(await answers(BREAK_GLASS, denied)).toEqual(everyAnswer(denied, false));
  });

  it('neither group has any right outside python-api-ns', async () => {
    const elsewhere = [...READS, ...STREAMS_INTO_PODS].map((a) => ({ ...a, namespace: 'kube-system' }));
    expect(await answers(DEVELOPERS, elsewhere)).toEqual(everyAnswer(elsewhere, false));
    expect(await answers(BREAK_GLASS, elsewhere)).toEqual(everyAnswer(elsewhere, false));
  });
});

describe('the check can fail', () => {
  it('without the RoleBinding, the same developer may read nothing', async () => {
    expect((await server.request('DELETE', `${RBAC}/namespaces/${NS}/rolebindings/developer`)).status).toBe(200);
    await until(DEVELOPERS, { verb: 'get', resource: 'pods' }, false);
    expect(await answers(DEVELOPERS, READS)).toEqual(everyAnswer(READS, false));
  });
});
