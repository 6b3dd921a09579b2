// The README's path on a fresh cluster, with a real Argo CD doing the work, for the rehearsal
// suites (sync-rehearsal*.test.ts): argocd/bootstrap.sh installs Argo CD and applies the root
// Application of an environment; Argo CD's application controller and repo-server (the pinned
// ARGOCD_RUNTIME_VERSION build, with Redis) run as local processes against a control plane whose
// node is simulated by kwok (tests/support/simulated-cluster.ts), which also plays the pods of Argo
// CD's own install. The repo-server renders from a Git repository standing for the fork, with
// kustomize --enable-alpha-plugins --enable-exec and KSOPS decrypting the secrets, as in the cluster.
//
// What Minikube has and this cluster lacks, the rehearsal does in the open, and only what those
// components do: the storage provisioner (a hostPath PersistentVolume of the claimed size, bound to
// the claim), cert-manager (Issuer and Certificate Ready), the ingress controller (the Ingress address) and metrics-server with the HPA
// controller (the HPA's conditions). The platform's Helm charts (cert-manager,
// kube-prometheus-stack, Loki, Alloy) are not rendered.
import { cp, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { crdFiles, parseObjects, type KubeApiServer, type KubeObject } from '../support/kube-apiserver.js';
import { prepareRenderTree, type Environment, type RenderTree } from '../support/overlays.js';
import { startArgoCdControllers, type ArgoCdControllers } from '../support/argocd-controllers.js';
import { waitFor } from '../support/wait.js';
import { startSimulatedCluster, type NodeSize } from '../support/simulated-cluster.js';
import { note } from '../support/notes.js';
import { REPO_ROOT, run, runOk, tool, type RunResult } from '../support/tools.js';
import { versions } from './helpers.js';

/**
 * The controllers that sync run an older Argo CD than the install the cluster gets (v3.3 and later
 * cannot be built from the Go module proxy: tools/versions.env). Named in the rehearsal suites'
 * titles and in the run's notes.
 */
export const ARGOCD_TITLE = ` [Argo CD controllers ${versions().ARGOCD_RUNTIME_VERSION} standing in for ${versions().ARGOCD_VERSION}]`;

export const NS = 'python-api-ns';

export interface Condition {
  type: string;
  status: string;
  reason?: string;
}
export interface ApplicationStatus {
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
    requiresPruning?: boolean;
    status?: string;
    health?: { status?: string; message?: string };
  }[];
  conditions?: { type: string; message: string }[];
  history?: { revision: string }[];
}

export interface Rehearsal {
  readonly server: KubeApiServer;
  readonly tree: RenderTree;
  /** What `bootstrap.sh --env <environment> --no-wait` did. */
  readonly bootstrap: RunResult;
  /** First moment (ms) each event was seen: the order Argo CD's waves must produce. */
  readonly seen: ReadonlyMap<string, number>;
  get<T>(urlPath: string): Promise<T | undefined>;
  list<T = KubeObject>(urlPath: string): Promise<T[]>;
  /** An Application's status ({} while it does not exist). */
  application(name: string): Promise<ApplicationStatus>;
  /** Polls until `check` returns a value; fails with the Application's state and the logs. */
  until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs?: number): Promise<T>;
  /** git in the fork. */
  git(...args: string[]): Promise<string>;
  /**
   * Waits for the root Application to create one of its Applications. Offline, the platform's
   * chart Applications cannot render, count as Healthy with nothing to deploy, and the root goes on
   * within seconds. Where the charts can be fetched, their pods never really run here (no
   * prometheus-operator reconciles, no cert-manager issues), so the root stays on their wave: then,
   * after a minute, the rehearsal creates the Application as the root would (the object
   * gitops/apps/<environment> renders), rather than fail on what this cluster cannot run.
   */
  applicationFromRoot(name: string): Promise<'root' | 'rehearsal'>;
  stop(): Promise<void>;
}

export async function startRehearsal(environment: Environment, node?: NodeSize): Promise<Rehearsal> {
  const APP = `python-api-${environment}`;
  let bootstrapRun: RunResult = { code: -1, stdout: '', stderr: '' };
  let controllers: ArgoCdControllers | undefined;
  let standIns: ReturnType<typeof setInterval> | undefined;
  let standInPass: Promise<unknown> = Promise.resolve();

  // The HPA controller is left off: without metrics-server it would mark the HPA Degraded, and
  // its stand-in writes the status it reports on Minikube (which has metrics-server).
  const cluster = await startSimulatedCluster({ disabledControllers: ['horizontal-pod-autoscaler-controller'], node });
  const server = cluster.server;
  let tree: RenderTree | undefined;
  const stop = async () => {
    if (standIns) clearInterval(standIns);
    await standInPass;
    await controllers?.stop();
    await cluster.stop();
    await tree?.cleanup();
  };
  try {
    return await rehearse();
  } catch (error) {
    await stop();
    throw error;
  }

  async function rehearse(): Promise<Rehearsal> {
    // The CRDs the cert-manager and kube-prometheus-stack charts install (bootstrap.sh installs Argo CD's).
    await server.installCrds([...crdFiles('cert-manager'), ...crdFiles('prometheus-operator')]);

    note({
      kind: 'stand-in',
      what: `rehearsal: Argo CD's controllers ${versions().ARGOCD_RUNTIME_VERSION} synced a cluster running the ${versions().ARGOCD_VERSION} install (later versions cannot be built here)`,
    });

    // A fork of this repository: the overlays with freshly encrypted secrets (ephemeral age key),
    // argocd/ pointing at the fork, committed to `main` of a local Git repository.
    const fork = await prepareRenderTree();
    tree = fork;
    for (const part of ['argocd', 'tools']) {
      await cp(path.join(REPO_ROOT, part), path.join(fork.dir, part), { recursive: true });
    }
    await symlink(path.join(REPO_ROOT, '.tools'), path.join(fork.dir, '.tools'));
    const repository = path.join(fork.dir, 'argocd/repository/repository.yaml');

    const logs = (lines = 25) => controllers?.logs(lines) ?? '';

    async function get<T>(urlPath: string): Promise<T | undefined> {
      const answer = await server.request('GET', urlPath);
      return answer.status === 200 ? (answer.body as T) : undefined;
    }

    async function list<T = KubeObject>(urlPath: string): Promise<T[]> {
      return (await get<{ items: T[] }>(urlPath))?.items ?? [];
    }

    const application = async (name: string = APP): Promise<ApplicationStatus> =>
      (await get<{ status?: ApplicationStatus }>(`/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/${name}`))
        ?.status ?? {};

    /** Polls until `check` returns a value; fails with the application's state and the logs. */
    function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 180_000): Promise<T> {
      return waitFor(what, check, {
        timeoutMs,
        intervalMs: 500,
        explain: async () => `application status: ${JSON.stringify(await application(), null, 1)}\n${logs()}`,
      });
    }

    async function patchStatus(urlPath: string, status: unknown): Promise<void> {
      const answer = await server.request('PATCH', `${urlPath}/status`, { status }, 'application/merge-patch+json');
      if (answer.status !== 200) throw new Error(`status patch of ${urlPath} failed: ${JSON.stringify(answer.body)}`);
    }

    const hasReady = (object: KubeObject) =>
      ((object as { status?: { conditions?: Condition[] } }).status?.conditions ?? []).some(
        (c) => c.type === 'Ready' && c.status === 'True',
      );

    /** One pass of the components this cluster lacks (see the header): what they do, nothing more. */
    async function playMissingControllers(): Promise<void> {
      // The storage provisioner: a hostPath volume of the claimed size, bound to the claim.
      for (const claim of await list<
        KubeObject & {
          spec: { storageClassName?: string; accessModes: string[]; resources: { requests: { storage: string } } };
          status?: { phase?: string };
        }
      >(`/api/v1/namespaces/${NS}/persistentvolumeclaims`)) {
        if (claim.status?.phase !== 'Pending') continue;
        const name = `pvc-${String(claim.metadata.uid)}`;
        if (await get(`/api/v1/persistentvolumes/${name}`)) continue;
        await server.apply({
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name },
          spec: {
            storageClassName: claim.spec.storageClassName,
            capacity: { storage: claim.spec.resources.requests.storage },
            accessModes: claim.spec.accessModes,
            persistentVolumeReclaimPolicy: 'Delete',
            claimRef: { namespace: NS, name: claim.metadata.name, uid: String(claim.metadata.uid) },
            hostPath: { path: `/tmp/hostpath-provisioner/${NS}/${claim.metadata.name}` },
          },
        } as KubeObject);
      }
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
      return (await runOk('git', args, { cwd: fork.dir })).trim();
    }

    await writeFile(repository, (await readFile(repository, 'utf8')).replace(/url: .*/, `url: file://${fork.dir}`));
    await writeFile(path.join(fork.dir, '.gitignore'), '/keys/\n/bin/\n/tmp/\n/.tools\n*.log\n');
    await git('init', '-q', '-b', 'main');
    await git('-c', 'user.name=test', '-c', 'user.email=test@example.invalid', 'add', '.');
    await git('-c', 'user.name=test', '-c', 'user.email=test@example.invalid', 'commit', '-q', '-m', 'fork');

    // The README's step: bootstrap.sh installs Argo CD (kwok runs its pods; the controller and
    // repo-server that do the work are the processes below), hands it the age key and applies the
    // root Application. --no-wait: its final wait needs the Helm charts of the platform apps.
    bootstrapRun = await run('bash', ['argocd/bootstrap.sh', '--env', environment, '--no-wait'], {
      cwd: fork.dir,
      timeoutMs: 180_000,
      env: fork.env({ KUBECONFIG: server.kubeconfig, HOME: fork.dir }),
    });
    // Minikube's default StorageClass; its provisioner is played in playMissingControllers.
    await server.apply({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: 'k8s.io/minikube-hostpath',
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'Immediate',
    } as KubeObject);

    // Redis, the repo-server, the application controller.
    controllers = await startArgoCdControllers({
      kubeconfig: server.kubeconfig,
      dir: fork.dir,
      env: fork.env(),
      ageKeyFile: path.join(fork.keyDir, `python-api-${environment}.agekey`),
    });
    standIns = setInterval(() => {
      standInPass = standInPass.then(() =>
        Promise.all([playMissingControllers(), observe()]).catch(() => {
          /* the next pass retries; a lasting failure shows up as a timeout with the logs */
        }),
      );
    }, 200);

    async function applicationFromRoot(name: string): Promise<'root' | 'rehearsal'> {
      const urlPath = `/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/${name}`;
      const fromRoot = await waitFor(`the root to create ${name}`, () => get(urlPath), {
        timeoutMs: 60_000,
        intervalMs: 500,
      }).catch(() => undefined);
      if (fromRoot) return 'root';
      const rendered = await runOk(tool('kustomize'), ['build', path.join(fork.dir, 'gitops/apps', environment)], {
        cwd: fork.dir,
      });
      const app = parseObjects(rendered).find((o) => o.kind === 'Application' && o.metadata.name === name);
      if (!app) throw new Error(`gitops/apps/${environment} renders no Application ${name}`);
      await server.apply(app);
      note({
        kind: 'fallback',
        what: `rehearsal (${environment}): the root Application did not create ${name} within 60 s; the rehearsal applied it, so the root's creation of it is not proven in this run`,
      });
      return 'rehearsal';
    }

    return {
      server,
      tree: fork,
      applicationFromRoot,
      bootstrap: bootstrapRun,
      seen,
      get,
      list,
      application,
      until,
      git,
      stop,
    };
  }
}
