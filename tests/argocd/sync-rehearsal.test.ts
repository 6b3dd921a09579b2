// The README's path on a fresh cluster, with a real Argo CD doing the work: argocd/bootstrap.sh
// installs Argo CD and applies the root Application, Argo CD takes over its own install, then
// syncs the dev Application (and the API's monitoring objects) onto the empty namespace, heals
// drift, leaves the replica count to the HPA and deploys the commit the CI pin step makes.
// Argo CD's application controller and repo-server (the pinned ARGOCD_RUNTIME_VERSION build, with
// Redis) run as local processes against a control plane whose node is simulated by kwok
// (tests/support/simulated-cluster.ts); kwok also plays the pods of Argo CD's own install. The
// repo-server renders from a Git repository with kustomize --enable-alpha-plugins --enable-exec
// and KSOPS decrypting the secrets, as in the cluster.
//
// What Minikube has and this cluster lacks, the test does in the open, writing only the status
// those components write: the storage provisioner (one 5Gi hostPath PersistentVolume, as
// Minikube's would create), cert-manager (Issuer and Certificate Ready), the ingress controller
// (the Ingress address) and metrics-server with the HPA controller (the HPA's conditions). The
// platform's Helm charts (cert-manager, kube-prometheus-stack, Loki, Alloy) are not rendered.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { crdFiles, freePort, parseObjects, type KubeApiServer, type KubeObject } from '../support/kube-apiserver.js';
import { prepareRenderTree, type RenderTree } from '../support/overlays.js';
import { startSimulatedCluster, type SimulatedCluster } from '../support/simulated-cluster.js';
import { REPO_ROOT, run, runOk, tool, type RunResult } from '../support/tools.js';

jest.setTimeout(300_000);

const NS = 'python-api-ns';
const APP = 'python-api-dev';
const MONITORING_APP = 'python-api-monitoring';
const RELEASE_PIN = 'gitops/overlays/dev/release/kustomization.yaml';

interface Condition {
  type: string;
  status: string;
  reason?: string;
}
interface ApplicationStatus {
  sync?: { status?: string; revision?: string };
  health?: { status?: string };
  operationState?: {
    phase?: string;
    message?: string;
    retryCount?: number;
    syncResult?: {
      revision?: string;
      resources?: { kind: string; name: string; hookType?: string; status?: string }[];
    };
  };
  resources?: {
    kind: string;
    name: string;
    hook?: boolean;
    status?: string;
    health?: { status?: string; message?: string };
  }[];
  conditions?: { type: string; message: string }[];
  history?: { revision: string }[];
}

let cluster: SimulatedCluster;
let bootstrapRun: RunResult;
let scratch = '';
let server: KubeApiServer;
let tree: RenderTree;
const processes: { name: string; child: ChildProcess; log: string }[] = [];
let standIns: ReturnType<typeof setInterval> | undefined;
let standInPass: Promise<unknown> = Promise.resolve();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function start(name: string, file: string, args: string[], env: NodeJS.ProcessEnv): void {
  const log = path.join(tree.dir, `${name}.log`);
  const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(log);
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  processes.push({ name, child, log });
}

function logs(lines = 25): string {
  return processes
    .map(({ name, log }) => {
      let text = '(no log)';
      try {
        text = readFileSync(log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        /* not started */
      }
      return `--- ${name}\n${text}`;
    })
    .join('\n');
}

async function get<T>(urlPath: string): Promise<T | undefined> {
  const answer = await server.request('GET', urlPath);
  return answer.status === 200 ? (answer.body as T) : undefined;
}

async function list<T = KubeObject>(urlPath: string): Promise<T[]> {
  return (await get<{ items: T[] }>(urlPath))?.items ?? [];
}

const application = async (name = APP) =>
  (await get<{ status?: ApplicationStatus }>(`/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/${name}`))
    ?.status ?? {};

/** Polls until `check` returns a value; fails with the application's state and the logs. */
async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}\napplication status: ${JSON.stringify(await application(), null, 1)}\n${logs()}`,
      );
    }
    await sleep(500);
  }
}

async function patchStatus(urlPath: string, status: unknown): Promise<void> {
  const answer = await server.request('PATCH', `${urlPath}/status`, { status }, 'application/merge-patch+json');
  if (answer.status !== 200) throw new Error(`status patch of ${urlPath} failed: ${JSON.stringify(answer.body)}`);
}

const hasReady = (object: KubeObject) =>
  ((object as { status?: { conditions?: Condition[] } }).status?.conditions ?? []).some(
    (c) => c.type === 'Ready' && c.status === 'True',
  );

/** One pass of the components this cluster lacks (see the header): status only, never spec. */
async function playMissingControllers(): Promise<void> {
  const ready = { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'stand-in' }] };
  for (const kind of ['issuers', 'certificates']) {
    for (const object of await list(`/apis/cert-manager.io/v1/namespaces/${NS}/${kind}`)) {
      if (!hasReady(object)) {
        await patchStatus(`/apis/cert-manager.io/v1/namespaces/${NS}/${kind}/${object.metadata.name}`, ready);
      }
    }
  }
  for (const ingress of await list<KubeObject & { status?: { loadBalancer?: { ingress?: unknown[] } } }>(
    `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses`,
  )) {
    if (!ingress.status?.loadBalancer?.ingress?.length) {
      // The address Minikube's ingress-nginx publishes: the node's IP.
      await patchStatus(`/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses/${ingress.metadata.name}`, {
        loadBalancer: { ingress: [{ ip: '192.168.49.2' }] },
      });
    }
  }
  for (const hpa of await list<KubeObject & { status?: { conditions?: Condition[] } }>(
    `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers`,
  )) {
    if (hpa.status?.conditions?.length) continue;
    const target = await get<{ spec: { replicas: number } }>(
      `/apis/apps/v1/namespaces/${NS}/deployments/${(hpa as { spec?: { scaleTargetRef?: { name: string } } }).spec?.scaleTargetRef?.name}`,
    );
    if (!target) continue;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await patchStatus(`/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/${hpa.metadata.name}`, {
      currentReplicas: target.spec.replicas,
      desiredReplicas: target.spec.replicas,
      conditions: [
        { type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale', lastTransitionTime: now },
        { type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound', lastTransitionTime: now },
        { type: 'ScalingLimited', status: 'False', reason: 'DesiredWithinRange', lastTransitionTime: now },
      ],
    });
  }
}

/** First moment (ms) the test saw each event; the order Argo CD's waves must produce. */
const seen = new Map<string, number>();
async function observe(): Promise<void> {
  const mark = (event: string, happened: boolean) => {
    if (happened && !seen.has(event)) seen.set(event, Date.now());
  };
  const argocdApp = await get<{ status?: ApplicationStatus }>(
    '/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/argocd',
  );
  mark('argocd app healthy', argocdApp?.status?.health?.status === 'Healthy');
  mark(
    'cert-manager app created',
    (await get('/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/cert-manager')) !== undefined,
  );
  const secrets = await list(`/api/v1/namespaces/${NS}/secrets`);
  mark(
    'secrets',
    ['postgres-secret', 'app-secret'].every((n) => secrets.some((s) => s.metadata.name === n)),
  );
  const postgres = await get<{ status?: { readyReplicas?: number } }>(
    `/apis/apps/v1/namespaces/${NS}/statefulsets/postgres`,
  );
  mark('postgres created', postgres !== undefined);
  mark('postgres ready', (postgres?.status?.readyReplicas ?? 0) >= 1);
  const job = await get<{ status?: { conditions?: Condition[] } }>(
    `/apis/batch/v1/namespaces/${NS}/jobs/python-api-migrate`,
  );
  mark('migration created', job !== undefined);
  mark(
    'migration complete',
    (job?.status?.conditions ?? []).some((c) => c.type === 'Complete' && c.status === 'True'),
  );
  mark('api created', (await get(`/apis/apps/v1/namespaces/${NS}/deployments/python-api`)) !== undefined);
}

async function git(...args: string[]): Promise<string> {
  return (await runOk('git', args, { cwd: tree.dir })).trim();
}

beforeAll(async () => {
  // The HPA controller is left off: without metrics-server it would mark the HPA Degraded, and
  // its stand-in writes the status it reports on Minikube (which has metrics-server).
  cluster = await startSimulatedCluster({ disabledControllers: ['horizontal-pod-autoscaler-controller'] });
  server = cluster.server;
  // The CRDs the cert-manager and kube-prometheus-stack charts install (bootstrap.sh installs Argo CD's).
  await server.installCrds([...crdFiles('cert-manager'), ...crdFiles('prometheus-operator')]);

  // A fork of this repository: the overlays with freshly encrypted secrets (ephemeral age key),
  // argocd/ pointing at the fork, committed to `main` of a local Git repository.
  tree = await prepareRenderTree();
  for (const part of ['argocd', 'tools']) {
    await cp(path.join(REPO_ROOT, part), path.join(tree.dir, part), { recursive: true });
  }
  await symlink(path.join(REPO_ROOT, '.tools'), path.join(tree.dir, '.tools'));
  const repository = path.join(tree.dir, 'argocd/repository/repository.yaml');
  await writeFile(repository, (await readFile(repository, 'utf8')).replace(/url: .*/, `url: file://${tree.dir}`));
  await writeFile(path.join(tree.dir, '.gitignore'), '/keys/\n/bin/\n/tmp/\n/.tools\n*.log\n');
  await git('init', '-q', '-b', 'main');
  await git('-c', 'user.name=test', '-c', 'user.email=test@example.invalid', 'add', '.');
  await git('-c', 'user.name=test', '-c', 'user.email=test@example.invalid', 'commit', '-q', '-m', 'fork');

  // The README's step: bootstrap.sh installs Argo CD (kwok runs its pods; the controller and
  // repo-server that do the work are the processes below), hands it the age key and applies the
  // root Application. --no-wait: its final wait needs the Helm charts of the platform apps.
  bootstrapRun = await run('bash', ['argocd/bootstrap.sh', '--no-wait'], {
    cwd: tree.dir,
    timeoutMs: 180_000,
    env: tree.env({ KUBECONFIG: server.kubeconfig, HOME: tree.dir }),
  });
  // Minikube's default StorageClass and the volume its provisioner would create for the claim.
  await server.apply({
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: 'k8s.io/minikube-hostpath',
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'Immediate',
  } as KubeObject);
  await server.apply({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: 'pvc-postgres-data' },
    spec: {
      storageClassName: 'standard',
      capacity: { storage: '5Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Delete',
      hostPath: { path: '/tmp/hostpath-provisioner/python-api-ns/postgres-data' },
    },
  } as KubeObject);

  // Redis, the repo-server, the application controller.
  const [redisPort, repoPort, repoMetrics, controllerMetrics] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  start(
    'redis',
    tool('redis-server'),
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    process.env,
  );
  scratch = path.join(tree.dir, 'tmp');
  await mkdir(scratch);
  const argocdEnv = (binary: string) =>
    tree.env({
      ARGOCD_BINARY_NAME: binary,
      HOME: tree.dir,
      KUBECONFIG: server.kubeconfig,
      // The in-cluster destination (https://kubernetes.default.svc) is the cluster of KUBECONFIG.
      ARGOCD_FAKE_IN_CLUSTER: 'true',
      ARGOCD_GPG_ENABLED: 'false',
      // What the sops-age Secret gives the repo-server in the cluster.
      SOPS_AGE_KEY_FILE: path.join(tree.keyDir, 'python-api-dev.agekey'),
      // Its clones and its Git credential socket default to fixed paths under /tmp: keep them
      // private to this run.
      TMPDIR: scratch,
      ARGOCD_ASK_PASS_SOCK: path.join(scratch, 'askpass.sock'),
    });
  start(
    'argocd-repo-server',
    tool('argocd'),
    [
      ...['--port', String(repoPort), '--metrics-port', String(repoMetrics), '--address', '127.0.0.1'],
      ...['--disable-tls', '--redis', `127.0.0.1:${redisPort}`, '--logformat', 'text'],
      // With --app-resync below: Git is polled every 5 s, where a cluster polls every 3 min or
      // gets a webhook. (The repo-server would otherwise reuse a branch's commit for 3 min.)
      '--revision-cache-expiration=5s',
    ],
    argocdEnv('argocd-repo-server'),
  );
  start(
    'argocd-application-controller',
    tool('argocd'),
    [
      `--kubeconfig=${server.kubeconfig}`,
      '--namespace=argocd',
      `--repo-server=127.0.0.1:${repoPort}`,
      '--repo-server-plaintext',
      `--redis=127.0.0.1:${redisPort}`,
      `--metrics-port=${controllerMetrics}`,
      '--app-resync=5',
      '--status-processors=2',
      '--operation-processors=2',
      '--logformat=text',
    ],
    argocdEnv('argocd-application-controller'),
  );

  standIns = setInterval(() => {
    standInPass = standInPass.then(() =>
      Promise.all([playMissingControllers(), observe()]).catch(() => {
        /* the next pass retries; a lasting failure shows up as a timeout with the logs */
      }),
    );
  }, 200);
}, 240_000);

afterAll(async () => {
  if (standIns) clearInterval(standIns);
  await standInPass;
  for (const { child } of processes.reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(kill);
  }
  await cluster?.stop();
  // The repo-server locks its clones with mode 000 between uses; a non-root user could not delete them.
  if (scratch) await run('chmod', ['-R', 'u+rwx', scratch]);
  await tree?.cleanup();
});

describe('bootstrap.sh and the root Application on a fresh cluster', () => {
  it('installs Argo CD and applies the root Application', () => {
    expect(bootstrapRun.stderr).not.toMatch(/error/i);
    expect(bootstrapRun.code).toBe(0);
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
    await until('the root to create the wave -2 Applications', async () => seen.has('cert-manager app created'));
    expect(seen.get('argocd app healthy')).toBeLessThanOrEqual(seen.get('cert-manager app created')!);
  });
});

describe('Argo CD syncing the dev Application onto an empty cluster', () => {
  beforeAll(async () => {
    // Created here as the root creates them once the platform is Healthy (which needs the
    // cert-manager and monitoring charts): the objects gitops/apps/dev renders for the fork.
    const rendered = await runOk(tool('kustomize'), ['build', path.join(tree.dir, 'gitops/apps/dev')], {
      cwd: tree.dir,
    });
    for (const name of [MONITORING_APP, APP]) {
      const app = parseObjects(rendered).find((o) => o.kind === 'Application' && o.metadata.name === name);
      if (!app) throw new Error(`gitops/apps/dev renders no Application ${name}`);
      await server.apply(app);
    }
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

  it('created the secrets, then PostgreSQL, ran the migration once it was ready, then the API', () => {
    const at = (event: string) => {
      const time = seen.get(event);
      if (time === undefined) throw new Error(`never saw: ${event}`);
      return time;
    };
    expect(at('secrets')).toBeLessThanOrEqual(at('postgres created'));
    expect(at('postgres ready')).toBeLessThanOrEqual(at('migration created'));
    expect(at('migration complete')).toBeLessThanOrEqual(at('api created'));
  });

  it('really runs what it rendered: the API pods are up, with the decrypted secrets and their images', async () => {
    const deployment = await get<{
      status: { readyReplicas?: number };
      spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
    }>(`/apis/apps/v1/namespaces/${NS}/deployments/python-api`);
    expect(deployment?.spec.replicas).toBe(3);
    expect(deployment?.status.readyReplicas).toBe(3);
    expect(deployment?.spec.template.spec.containers[0]?.image).toMatch(/python-api:1\.0\.0$/);
    const pods = await list<{ spec: { nodeName?: string }; status: { phase: string } }>(
      `/api/v1/namespaces/${NS}/pods?labelSelector=app.kubernetes.io/component%3Dapi`,
    );
    expect(pods.map((p) => [p.spec.nodeName, p.status.phase])).toEqual([
      ['minikube', 'Running'],
      ['minikube', 'Running'],
      ['minikube', 'Running'],
    ]);
    const secret = await get<{ data: Record<string, string> }>(`/api/v1/namespaces/${NS}/secrets/postgres-secret`);
    const password = Buffer.from(secret?.data.POSTGRES_PASSWORD ?? '', 'base64').toString('utf8');
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect(password).not.toMatch(/ENC\[/);
  });

  it('leaves the replica count to the HPA: a scale-out stays, and the app stays Synced', async () => {
    const scale = await server.request(
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

  it('heals drift: a deleted Service comes back', async () => {
    expect((await server.request('DELETE', `/api/v1/namespaces/${NS}/services/app-service`)).status).toBe(200);
    await until('app-service recreated', () => get(`/api/v1/namespaces/${NS}/services/app-service`), 60_000);
    await until('Synced again', async () => (await application()).sync?.status === 'Synced', 60_000);
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
    expect(await names('/apis/monitoring.coreos.com/v1/namespaces/monitoring/prometheusrules')).toEqual(['python-api']);
    const dashboards = await list<KubeObject & { data: Record<string, string> }>(
      '/api/v1/namespaces/monitoring/configmaps?labelSelector=grafana_dashboard%3D1',
    );
    expect(dashboards.flatMap((c) => Object.keys(c.data))).toEqual(['python-api.json']);
  });

  it('deploys a commit of the CI pin step: new image, migration re-run first, Synced and Healthy', async () => {
    const before = await get<{ metadata: { uid: string } }>(`/apis/batch/v1/namespaces/${NS}/jobs/python-api-migrate`);
    expect(before).toBeDefined();
    // What .github/workflows/deploy.yaml commits after pushing a build.
    const pin = path.join(tree.dir, RELEASE_PIN);
    const text = await readFile(pin, 'utf8');
    await writeFile(pin, text.replaceAll('newTag: "1.0.0"', 'newTag: "1.0.1"'));
    await git('-c', 'user.name=ci', '-c', 'user.email=ci@example.invalid', 'commit', '-q', '-am', 'dev: deploy 1.0.1');
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
});
