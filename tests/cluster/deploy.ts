// Deploys the dev environment onto the real cluster the way users do: a Git server on loopback holds
// this repository (a fork with freshly encrypted secrets), Argo CD's controllers render it through
// kustomize + KSOPS and sync the dev Application in its waves. Only the images come from elsewhere:
// scripts/cluster/images.sh built them into the node's containerd beforehand.
//
// What differs from a user's cluster, and why (each is printed in the suite's summary):
// - Argo CD's controllers run as local processes (the pinned ARGOCD_RUNTIME_VERSION build,
//   tests/support/argocd-controllers.ts), not as pods: the argocd image cannot be fetched here. So
//   bootstrap.sh's install of Argo CD's workloads and the root Application (whose platform wave
//   starts with those workloads, cert-manager's chart and the monitoring charts) are not used; what
//   the controllers read from argocd/ (CRDs, argocd-cm, projects) is applied from the same render.
// - KSOPS cannot be built here: tests/support/ksops-exec.mjs plays it (overlays.ts notes it).
// - No cert-manager controller and no ingress controller run here: their stand-ins mark the Issuer
//   and Certificate Ready and publish the Ingress's address, nothing more, so that Argo CD's health
//   checks of those objects can finish.
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startArgoCdControllers, type ArgoCdControllers } from '../support/argocd-controllers.js';
import { crdFiles, parseObjects, type KubeObject } from '../support/kube-apiserver.js';
import { prepareRenderTree, type RenderTree } from '../support/overlays.js';
import { note } from '../support/notes.js';
import { freePort, spawnLogged, stopProcess, tail } from '../support/processes.js';
import { REPO_ROOT, runOk, tool } from '../support/tools.js';
import type { RealCluster } from '../support/real-cluster.js';

export const NS = 'python-api-ns';
export const APP = 'python-api-dev';

/** What this deployment does differently from a user's cluster: printed in the run's summary. */
export const STAND_INS = [
  'Argo CD: application controller + repo-server run as local processes (ARGOCD_RUNTIME_VERSION build), not as pods; no root/platform Applications',
  'cert-manager: no controller; a stand-in marks the dev Issuer and Certificate Ready',
  'ingress controller: none; a stand-in publishes the Ingress address',
] as const;

export interface ApplicationStatus {
  sync?: { status?: string; revision?: string };
  health?: { status?: string };
  operationState?: { phase?: string; message?: string };
  resources?: { kind: string; name: string; status?: string; health?: { status?: string; message?: string } }[];
  conditions?: { type: string; message: string }[];
}

export interface DevDeployment {
  readonly fork: RenderTree;
  /** The image the migration Job runs: python-api-migrate, or the substitute images.sh built where the real one cannot be. */
  readonly migrateImage: string;
  /** Stand-ins of this deployment (STAND_INS, plus the migrate substitute when used). */
  readonly standIns: readonly string[];
  /** git in the fork (its `main` is what Argo CD deploys). */
  git(...args: string[]): Promise<string>;
  application(name?: string): Promise<ApplicationStatus>;
  /** Turns the Application's automated sync off (an operator's first step before manual surgery) or back on. */
  setAutoSync(enabled: boolean): Promise<void>;
  logs(lines?: number): string;
  stop(): Promise<void>;
}

const USER = ['-c', 'user.name=test', '-c', 'user.email=test@example.invalid'];

/**
 * SQL in postgres-0 over its socket, as the postgres container's own user (its user name comes from
 * the mounted secret file); rows as text lines, `|` between columns.
 */
export async function postgresSql(cluster: RealCluster, query: string): Promise<string> {
  return (
    await cluster.kubectl([
      ...['-n', NS, 'exec', 'postgres-0', '-c', 'postgres', '--'],
      ...[
        'sh',
        '-c',
        'psql -q -h /var/run/postgresql -U "$(cat "$POSTGRES_USER_FILE")" -d "$POSTGRES_DB" -v ON_ERROR_STOP=1 -tAc "$0"',
        query,
      ],
    ])
  ).trim();
}

/**
 * Removes the dev deployment a previous suite left (its namespace, with the claims and so the
 * data): each suite starts from an empty cluster, whatever order Jest runs them in. No Argo CD
 * controller runs between suites, so nothing recreates it.
 */
/** A JSON merge patch of the dev Application. */
const patchApplication = (cluster: RealCluster, patch: object) =>
  cluster.kubectl(['-n', 'argocd', 'patch', 'application', APP, '--type=merge', '-p', JSON.stringify(patch)]);

export async function removeDev(cluster: RealCluster): Promise<void> {
  // The Application too, or its status from the last suite would read Synced/Healthy before the new
  // controllers have synced anything. Its finalizer waits for a controller: lift it. (Before the first
  // suite there is no Application type at all; both commands then fail, harmlessly.)
  await patchApplication(cluster, { metadata: { finalizers: null } }).catch(() => undefined);
  await cluster.kubectlResult(['-n', 'argocd', 'delete', 'application', APP, '--ignore-not-found', '--wait=true']);
  await cluster.kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=300s']);
}

export async function deployDev(cluster: RealCluster): Promise<DevDeployment> {
  await removeDev(cluster);
  const fork = await prepareRenderTree();
  let daemon: ChildProcess | undefined;
  let controllers: ArgoCdControllers | undefined;
  let standInTimer: ReturnType<typeof setInterval> | undefined;
  let standInPass: Promise<unknown> = Promise.resolve();
  const stop = async () => {
    if (standInTimer) clearInterval(standInTimer);
    await standInPass;
    await controllers?.stop();
    await stopProcess(daemon);
    await fork.cleanup();
  };
  try {
    for (const part of ['argocd', 'tools']) {
      await cp(path.join(REPO_ROOT, part), path.join(fork.dir, part), { recursive: true });
    }
    await symlink(path.join(REPO_ROOT, '.tools'), path.join(fork.dir, '.tools'));
    const git = async (...args: string[]) => (await runOk('git', args, { cwd: fork.dir })).trim();

    // The Git server: git-daemon on loopback, serving the fork read-only, as a forge would.
    const port = await freePort();
    const url = `git://127.0.0.1:${port}/${path.basename(fork.dir)}`;
    const repository = path.join(fork.dir, 'argocd/repository/repository.yaml');
    await writeFile(repository, (await readFile(repository, 'utf8')).replace(/url: .*/, `url: ${url}`));
    await writeFile(path.join(fork.dir, '.gitignore'), '/keys/\n/bin/\n/tmp/\n/.tools\n*.log\n');
    await git('init', '-q', '-b', 'main');
    await git(...USER, 'add', '.');
    await git(...USER, 'commit', '-q', '-m', 'fork');

    // Where the real migrate image cannot be built (no Prisma schema engine here), images.sh
    // builds a substitute; the fork's dev release pin names it, in a commit of its own.
    const standIns: string[] = [...STAND_INS];
    let migrateImage = 'python-api-migrate';
    const substitute = migrateSubstitute(cluster);
    if (substitute) {
      migrateImage = substitute.name;
      await runOk(
        tool('yq'),
        [
          '-i',
          `(.images[] | select(.name == "python-api-migrate")).newName = "${substitute.name}"`,
          path.join(fork.dir, 'gitops/overlays/dev/release/kustomization.yaml'),
        ],
        { cwd: fork.dir },
      );
      await git(...USER, 'commit', '-qam', `dev: the migration Job runs ${substitute.name}`);
      standIns.push(`migration Job image: ${substitute.name} (${substitute.note})`);
    }
    for (const what of standIns) note({ kind: 'stand-in', what });
    daemon = spawnLogged(
      'git',
      [
        'daemon',
        '--reuseaddr',
        '--export-all',
        '--listen=127.0.0.1',
        `--port=${port}`,
        `--base-path=${path.dirname(fork.dir)}`,
        fork.dir,
      ],
      path.join(fork.dir, 'git-daemon.log'),
    );
    await cluster.until('the Git server to answer', async () => {
      return (await cluster.run('git', ['ls-remote', url])).code === 0;
    });

    // What Argo CD's controllers read from argocd/: its CRDs, argocd-cm (kustomize flags, health
    // checks), the projects. Its workloads (Deployments, StatefulSet, ...) are the local processes.
    const argocdObjects = parseObjects(await runOk(tool('kustomize'), ['build', path.join(fork.dir, 'argocd')]));
    const wanted = new Set(['CustomResourceDefinition', 'Namespace', 'ConfigMap', 'AppProject']);
    const crds = argocdObjects.filter((o) => o.kind === 'CustomResourceDefinition');
    await cluster.apply(crds);
    await cluster.apply(crdFiles('cert-manager').flatMap((file) => parseObjects(readFileSync(file, 'utf8'))));
    await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
    await cluster.apply(argocdObjects.filter((o) => wanted.has(o.kind) && o.kind !== 'CustomResourceDefinition'));

    controllers = await startArgoCdControllers({
      kubeconfig: cluster.kubeconfig,
      dir: fork.dir,
      env: fork.env(),
      ageKeyFile: path.join(fork.keyDir, 'python-api-dev.agekey'),
    });

    const apps = parseObjects(await runOk(tool('kustomize'), ['build', path.join(fork.dir, 'gitops/apps/dev')]));
    const app = apps.find((o) => o.kind === 'Application' && o.metadata.name === APP);
    if (!app) throw new Error(`gitops/apps/dev renders no Application ${APP}`);
    await cluster.apply([app]);

    standInTimer = setInterval(() => {
      standInPass = standInPass.then(() =>
        playMissingControllers(cluster).catch(() => {
          /* the next pass retries; a lasting failure shows up as a timeout with the logs */
        }),
      );
    }, 1_000);

    const application = async (name = APP): Promise<ApplicationStatus> => {
      const result = await cluster.run(tool('kubectl'), ['-n', 'argocd', 'get', 'application', name, '-o', 'json']);
      return result.code === 0 ? ((JSON.parse(result.stdout) as { status?: ApplicationStatus }).status ?? {}) : {};
    };
    const setAutoSync = async (enabled: boolean) => {
      const automated = enabled ? (app.spec as { syncPolicy: { automated: unknown } }).syncPolicy.automated : null;
      await patchApplication(cluster, { spec: { syncPolicy: { automated } } });
    };
    return {
      fork,
      migrateImage,
      standIns,
      git,
      application,
      setAutoSync,
      logs: (lines = 25) =>
        `${controllers?.logs(lines) ?? ''}\n--- git-daemon\n${tail(path.join(fork.dir, 'git-daemon.log'), lines)}`,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The migrate substitute images.sh recorded in its table, if it built one. */
function migrateSubstitute(cluster: RealCluster): { name: string; note: string } | undefined {
  const table = path.join(cluster.dir, 'images.tsv');
  if (!existsSync(table)) return undefined;
  for (const line of readFileSync(table, 'utf8').split('\n')) {
    const [name, , , kind, note] = line.split('\t');
    if (kind !== 'substitute' || !name?.includes('python-api-migrate')) continue;
    // Kubernetes spells docker.io/library/<name> as <name>; the pin holds the name without the tag.
    return { name: name.replace(/^docker\.io\/library\//, '').replace(/:[^:/]+$/, ''), note: note ?? '' };
  }
  return undefined;
}

/** One pass of what the controllers this cluster lacks would write (see the header), nothing more. */
async function playMissingControllers(cluster: RealCluster): Promise<void> {
  const ready = {
    conditions: [{ type: 'Ready', status: 'True', reason: 'StandIn', message: 'stand-in: no cert-manager here' }],
  };
  for (const kind of ['issuers.cert-manager.io', 'certificates.cert-manager.io']) {
    const list = JSON.parse(await cluster.kubectl(['-n', NS, 'get', kind, '-o', 'json'])) as { items: KubeObject[] };
    for (const object of list.items) {
      const conditions = (object as { status?: { conditions?: { type: string; status: string }[] } }).status
        ?.conditions;
      if (conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) continue;
      await cluster.kubectl([
        '-n',
        NS,
        'patch',
        kind,
        object.metadata.name,
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({ status: ready }),
      ]);
    }
  }
  const ingresses = JSON.parse(await cluster.kubectl(['-n', NS, 'get', 'ingresses', '-o', 'json'])) as {
    items: (KubeObject & { status?: { loadBalancer?: { ingress?: unknown[] } } })[];
  };
  for (const ingress of ingresses.items) {
    if (ingress.status?.loadBalancer?.ingress?.length) continue;
    await cluster.kubectl([
      '-n',
      NS,
      'patch',
      'ingress',
      ingress.metadata.name,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: cluster.nodeIp }] } } }),
    ]);
  }
}
