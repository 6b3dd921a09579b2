// `tilt up` for real: the repository's Tiltfile, run by the real Tilt against the real single-node
// cluster of scripts/cluster/up.sh. Tilt builds the images with a Docker Engine and pushes them to
// a registry the node pulls from (scripts/cluster/dev-loop.sh: what kind + a local registry gives a
// developer); nothing patches the Tiltfile, the run passes settings it reads. Tilt works on a
// copy of the repository (as a developer's checkout), with fresh dev secrets and age key, so the
// live-update tests can edit sources without touching this checkout.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { note } from '../support/notes.js';
import { prepareRenderTree } from '../support/overlays.js';
import { freePort, spawnLogged, stopProcess, tail } from '../support/processes.js';
import { RealCluster } from '../support/real-cluster.js';
import { NS, postgresSql, removeDev } from './deploy.js';
import { REPO_ROOT, TOOLS_BIN, runOk, tool } from '../support/tools.js';

jest.setTimeout(1_200_000);

const API_SELECTOR = 'app.kubernetes.io/name=python-api,app.kubernetes.io/component=api';
// Settings the Tiltfile reads (`tilt up -- --help` lists them): this cluster's context, an engine
// without a bridge, the migration image that can be built without Prisma's schema engine, and
// (added once dev-loop.sh has started it) the npm registry the pods reach: `--npm-registry URL`.
const SETTINGS = ['--allow-context', 'python-api', '--build-network', 'host', '--migrate-substitute'];
// What a developer's checkout holds that the Tiltfile reads.
const CHECKOUT = [
  'Tiltfile',
  'Dockerfile',
  '.dockerignore',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'prisma.config.ts',
  'apps',
  'scripts',
  'tools',
];

interface Pod {
  metadata: { name: string; uid: string };
  spec: { containers: { name: string; image: string }[] };
  status: {
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; restartCount: number; imageID: string; containerID?: string }[];
  };
}

let cluster: RealCluster;
let checkout = '';
let tiltEnv: NodeJS.ProcessEnv = {};
let tiltUp: ChildProcess | undefined;
let tiltPort = 0;
// SETTINGS plus `--npm-registry <dev-loop.sh's NPM_REGISTRY>`.
let settings: string[] = SETTINGS;
let npmRegistry = '';
const logs = () => path.join(checkout, 'tilt-up.log');

const isReady = (pod: Pod) => (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const apiPods = async () =>
  (await cluster.json<{ items: Pod[] }>(['-n', NS, 'get', 'pods', '-l', API_SELECTOR])).items.filter(isReady);
const tilt = (args: string[], timeoutMs = 120_000) =>
  cluster.run(tool('tilt'), args, { cwd: checkout, env: tiltEnv, timeoutMs });
/** The same API pods with the same images, no container restarted: a live update replaced nothing. */
function expectSamePods(before: Pod[], after: Pod[]) {
  expect(after.map((p) => p.metadata.uid).sort()).toEqual(before.map((p) => p.metadata.uid).sort());
  expect(after.map((p) => p.spec.containers.map((c) => c.image))).toEqual(
    before.map((p) => p.spec.containers.map((c) => c.image)),
  );
  expect(after.map((p) => p.status.containerStatuses?.map((c) => c.restartCount))).toEqual(
    before.map((p) => p.status.containerStatuses?.map((c) => c.restartCount)),
  );
}
const seconds = (since: number) => Math.round((Date.now() - since) / 100) / 10;
/** The images Tilt built: tags of <registry>/python-api* in the engine. */
const builtImages = async () =>
  (await runOk('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}'], { env: tiltEnv }))
    .split('\n')
    .filter((line) => /\/python-api(-migrate)?:tilt-/.test(line))
    .sort();

const sql = (query: string) => postgresSql(cluster, query);

/** Waits until `tilt up` (started by the test) reports the resources Ready; its API needs a moment to listen. */
async function tiltReady(...resources: string[]): Promise<void> {
  await cluster.until(
    `tilt up to report ${resources.join(', ')} Ready`,
    async () => {
      if (tiltUp?.exitCode !== null) throw new Error(`tilt up exited (${tiltUp?.exitCode}):\n${tail(logs(), 40)}`);
      const args = ['wait', '--port', String(tiltPort), '--for=condition=Ready', '--timeout=20s'];
      return (await tilt([...args, ...resources.map((r) => `uiresource/${r}`)], 60_000)).code === 0;
    },
    600_000,
    details,
  );
}

/** The api resource's builds as Tilt records them (newest first), and whether one runs or waits. */
async function apiBuilds(): Promise<{
  history: { start: number; finished: boolean; error: string }[];
  building: boolean;
}> {
  const out = await tilt(['get', '--port', String(tiltPort), 'uiresource', 'api', '-o', 'json'], 60_000);
  if (out.code !== 0) throw new Error(`tilt get uiresource api failed: ${out.stderr}`);
  const status = (
    JSON.parse(out.stdout) as {
      status: {
        buildHistory?: { startTime?: string; finishTime?: string; error?: string }[];
        currentBuild?: { startTime?: string };
        pendingBuildSince?: string;
      };
    }
  ).status;
  return {
    history: (status.buildHistory ?? []).map((b) => ({
      start: Date.parse(b.startTime ?? ''),
      finished: Boolean(b.finishTime),
      error: b.error ?? '',
    })),
    building: Boolean(status.currentBuild?.startTime) || Boolean(status.pendingBuildSince),
  };
}

/** Waits until a build of `api` that started at or after `since` has finished and none runs or waits. */
async function apiUpdatedSince(since: number, timeoutMs: number) {
  return cluster.until(
    `Tilt to finish updating api after ${new Date(since).toISOString()}`,
    async () => {
      const { history, building } = await apiBuilds();
      const latest = history[0];
      return !building && latest && latest.finished && latest.start >= since - 1_000 ? latest : undefined;
    },
    timeoutMs,
    details,
  );
}

/**
 * The memory of the api containers while `npm ci` runs, read from their cgroups on this host (cgroup v1,
 * kubelet's cgroupfs layout under the cluster's own cgroup root): the peak of the anonymous memory
 * (total_rss, polled every 0.5 s), the kernel's peak usage including page cache since the start
 * (memory.max_usage_in_bytes, reset first), and how many processes the OOM killer killed meanwhile.
 */
function watchMemory(pods: Pod[]): () => { peakRssMiB: number; peakUsageMiB: number; oomKills: number } | undefined {
  const dirs = pods.flatMap((pod) => {
    const id = pod.status.containerStatuses?.find((c) => c.name === 'api')?.containerID?.replace(/^\w+:\/\//, '');
    const root = path.join('/sys/fs/cgroup/memory', path.basename(cluster.dir), 'kubepods');
    const found = ['burstable', 'besteffort', '']
      .map((qos) => path.join(root, qos, `pod${pod.metadata.uid}`, id ?? '-'))
      .find((dir) => existsSync(path.join(dir, 'memory.stat')));
    return found ? [found] : [];
  });
  if (dirs.length !== pods.length) return () => undefined;
  const read = (dir: string, file: string) => readFileSync(path.join(dir, file), 'utf8');
  const field = (text: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  const oomKills = () => dirs.reduce((sum, dir) => sum + field(read(dir, 'memory.oom_control'), 'oom_kill'), 0);
  const killsBefore = oomKills();
  for (const dir of dirs) writeFileSync(path.join(dir, 'memory.max_usage_in_bytes'), '0');
  let peakRss = 0;
  const poll = setInterval(() => {
    for (const dir of dirs) {
      try {
        peakRss = Math.max(peakRss, field(read(dir, 'memory.stat'), 'total_rss'));
      } catch {
        // the container is gone: the assertions on the pods say so
      }
    }
  }, 500);
  return () => {
    clearInterval(poll);
    const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
    try {
      return {
        peakRssMiB: mib(peakRss),
        peakUsageMiB: mib(Math.max(...dirs.map((dir) => Number(read(dir, 'memory.max_usage_in_bytes'))))),
        oomKills: oomKills() - killsBefore,
      };
    } catch {
      return undefined;
    }
  };
}

async function details(): Promise<string> {
  const pods = await cluster.run('kubectl', ['-n', NS, 'get', 'pods,jobs', '-o', 'wide']);
  return `${pods.stdout}\ntilt up (last lines):\n${tail(logs(), 40)}`;
}

beforeAll(async () => {
  cluster = new RealCluster();
  await removeDev(cluster);

  // The engine and registry (scripts/cluster/dev-loop.sh), as a developer's cluster provides them.
  const started = Date.now();
  const engine = await runOk('bash', [path.join(REPO_ROOT, 'scripts/cluster/dev-loop.sh'), 'start'], {
    timeoutMs: 900_000,
  });
  const values = Object.fromEntries(
    engine
      .trim()
      .split('\n')
      .map((line) => line.split('=', 2) as [string, string]),
  );
  note({
    kind: 'measured',
    what: `tilt: engine, image registry and npm registry ready (scripts/cluster/dev-loop.sh start) in ${seconds(started)} s`,
  });

  // The developer's checkout, with dev secrets encrypted to a fresh age key (the team's key is not here).
  checkout = await mkdtemp(path.join(os.tmpdir(), 'tilt-checkout-'));
  for (const entry of CHECKOUT) await cp(path.join(REPO_ROOT, entry), path.join(checkout, entry), { recursive: true });
  await symlink(path.join(REPO_ROOT, '.tools'), path.join(checkout, '.tools'));
  const secrets = await prepareRenderTree();
  try {
    await rm(path.join(checkout, 'gitops'), { recursive: true, force: true });
    await cp(path.join(secrets.dir, 'gitops'), path.join(checkout, 'gitops'), { recursive: true });
    await cp(path.join(secrets.dir, '.sops.yaml'), path.join(checkout, '.sops.yaml'));
    await mkdir(path.join(checkout, 'keys'));
    await cp(path.join(secrets.keyDir, 'python-api-dev.agekey'), path.join(checkout, 'keys', 'python-api-dev.agekey'));
  } finally {
    await secrets.cleanup();
  }
  tiltEnv = {
    ...process.env,
    KUBECONFIG: cluster.kubeconfig,
    DOCKER_HOST: values.DOCKER_HOST,
    SOPS_AGE_KEY_DIR: path.join(checkout, 'keys'),
    TILT_DISABLE_ANALYTICS: '1',
    PATH: `${TOOLS_BIN}${path.delimiter}${process.env.PATH ?? ''}`,
  };
  // The npm registry the pods install from (Verdaccio on the host, forwarded into the node).
  npmRegistry = values.NPM_REGISTRY ?? '';
  expect(npmRegistry).toMatch(/^http:\/\/[\d.]+:\d+\/$/);
  settings = [...SETTINGS, '--npm-registry', npmRegistry];
  note({
    kind: 'stand-in',
    what:
      'tilt: the db-migrate image is built with --migrate-substitute (scripts/cluster/images/migrate-substitute.Dockerfile, ' +
      "the repository's migration runner): Prisma's schema engine for `prisma migrate deploy` cannot be downloaded here",
  });
}, 1_200_000);

afterAll(async () => {
  await stopProcess(tiltUp);
  if (checkout) {
    await tilt(['down', '--file', path.join(checkout, 'Tiltfile'), '--', ...settings], 300_000).catch(() => undefined);
  }
  await removeDev(cluster);
  await runOk('bash', [path.join(REPO_ROOT, 'scripts/cluster/dev-loop.sh'), 'stop']).catch(() => undefined);
  if (checkout) await rm(checkout, { recursive: true, force: true });
});

describe('tilt on the real cluster', () => {
  it('`tilt ci` with the Tiltfile and the dev overlay brings cluster-setup, postgres, db-migrate, api and the backups ready on the first try, with images Tilt built', async () => {
    const port = await freePort();
    const started = Date.now();
    const snapshot = path.join(checkout, 'tilt-ci-snapshot.json');
    const ci = await tilt(
      [
        ...['ci', '--file', path.join(checkout, 'Tiltfile'), '--port', String(port), '--timeout', '15m'],
        ...['--output-snapshot-on-exit', snapshot, '--', ...settings],
      ],
      1_000_000,
    );
    const firstReady = seconds(started);
    expect({
      code: ci.code,
      output: ci.code === 0 ? '' : `${ci.stdout}\n${ci.stderr}`.split('\n').slice(-60).join('\n'),
    }).toEqual({
      code: 0,
      output: '',
    });
    note({
      kind: 'measured',
      what: `tilt: \`tilt ci\` from an empty namespace to every resource ready in ${firstReady} s`,
    });

    // Every pod runs what Tilt built and pushed: the registry's name, Tilt's content-hash tags. Tilt
    // counts a Deployment ready by its newest pod (K8sRuntimeState.RuntimeStatus: MostRecentPod), so
    // `tilt ci` may end before the other replicas are Ready (seen once): they follow within seconds.
    const pods = await cluster.until(
      'the 3 API pods Ready',
      async () => {
        const ready = await apiPods();
        return ready.length === 3 ? ready : undefined;
      },
      120_000,
      details,
    );
    expect(pods).toHaveLength(3);
    for (const pod of pods) {
      expect(pod.spec.containers.find((c) => c.name === 'api')?.image).toMatch(
        /^localhost:\d+\/python-api:tilt-[0-9a-f]+$/,
      );
    }
    const job = await cluster.json<{
      spec: { template: { spec: { containers: { image: string }[] } } };
      status: { succeeded?: number };
    }>(['-n', NS, 'get', 'job', 'python-api-migrate']);
    expect(job.status.succeeded).toBe(1);
    expect(job.spec.template.spec.containers[0]?.image).toMatch(/^localhost:\d+\/python-api-migrate:tilt-[0-9a-f]+$/);
    // The migration ran against the StatefulSet's database; the API answers through its Service.
    expect(await sql("select to_regclass('public.items')")).toBe('items');
    // From the node, through kube-proxy (the node itself does not use the cluster's DNS).
    const service = await cluster.json<{ spec: { clusterIP: string } }>(['-n', NS, 'get', 'service', 'app-service']);
    const ready = await cluster.http('GET', `http://${service.spec.clusterIP}/health/ready`);
    expect(ready.status).toBe(200);

    // The Tiltfile's order, as it happened: db-migrate's image build began only once postgres-0 was
    // Ready, and the API's only once the migration Job had completed (Tilt's own record of its builds).
    const { view } = JSON.parse(await readFile(snapshot, 'utf8')) as {
      view: { uiResources: { metadata: { name: string }; status: { buildHistory?: { startTime: string }[] } }[] };
    };
    const firstBuild = (name: string) => {
      const history = view.uiResources.find((r) => r.metadata.name === name)?.status.buildHistory ?? [];
      return Date.parse(history.at(-1)?.startTime ?? '');
    };
    const postgres = await cluster.json<{ status: { conditions: { type: string; lastTransitionTime: string }[] } }>([
      '-n',
      NS,
      'get',
      'pod',
      'postgres-0',
    ]);
    const postgresReady = Date.parse(postgres.status.conditions.find((c) => c.type === 'Ready')!.lastTransitionTime);
    // Tilt counts the Job done when its pod has succeeded (the Job's own status follows later).
    const migratePods = await cluster.json<{
      items: { status: { containerStatuses: { state: { terminated?: { finishedAt: string } } }[] } }[];
    }>(['-n', NS, 'get', 'pods', '-l', 'job-name=python-api-migrate']);
    const jobComplete = Date.parse(migratePods.items[0]!.status.containerStatuses[0]!.state.terminated!.finishedAt);
    expect(firstBuild('db-migrate')).toBeGreaterThanOrEqual(postgresReady);
    expect(firstBuild('api')).toBeGreaterThanOrEqual(jobComplete);
  });

  it('`tilt up`: an edit under apps/api/src reaches every API pod by live update, without an image build or a new pod', async () => {
    tiltPort = await freePort();
    tiltUp = spawnLogged(
      tool('tilt'),
      ['up', '--file', path.join(checkout, 'Tiltfile'), '--port', String(tiltPort), '--stream', '--', ...settings],
      logs(),
      tiltEnv,
    );
    await tiltReady('api');
    const before = await apiPods();
    const imagesBefore = await builtImages();
    const marker = `live-${Date.now()}`;
    const health = path.join(checkout, 'apps/api/src/http/health.ts');
    const source = await readFile(health, 'utf8');
    const edited = source.replace("{ status: 'pass', version }", `{ status: 'pass', version, marker: '${marker}' }`);
    expect(edited).not.toBe(source);

    const edit = Date.now();
    await writeFile(health, edited);
    // Each pod by its own address: the edit counts once every replica serves it.
    await cluster.until(
      `every API pod to answer /health/live with ${marker}`,
      async () => {
        for (const pod of before) {
          const answer = await cluster.http('GET', `http://${pod.status.podIP}:5000/health/live`);
          if (!answer.body.includes(marker)) return false;
        }
        return true;
      },
      180_000,
      details,
    );
    const latency = seconds(edit);
    note({
      kind: 'measured',
      what: `tilt: live update of apps/api/src/http/health.ts served by all 3 API pods ${latency} s after the write`,
    });

    expectSamePods(before, await apiPods());
    expect(await builtImages()).toEqual(imagesBefore);
  });

  // The Tiltfile's run('npm ci', trigger=[package.json, package-lock.json]) reinstalls inside the pods.
  // They have no route off the machine: they install from dev-loop.sh's Verdaccio (its uplink is the
  // npm registry this machine uses), named with `--npm-registry`, as a developer behind a mirror would.
  it('`tilt up`: a lockfile change reruns `npm ci` in every API pod, from the npm registry named with --npm-registry, without rebuilding the dev image or replacing a pod', async () => {
    await tiltReady('api');
    const before = await apiPods();
    // The dev image only: the migration image holds the dependencies too, so Tilt rebuilds it and reruns the Job.
    const devImages = async () => (await builtImages()).filter((image) => /\/python-api:tilt-/.test(image));
    const imagesBefore = await devImages();
    const files = { json: path.join(checkout, 'package.json'), lock: path.join(checkout, 'package-lock.json') };
    const original = { json: await readFile(files.json, 'utf8'), lock: await readFile(files.lock, 'utf8') };
    // A dependency the image does not have (no dependencies, no install script); its integrity from the
    // registry the pods use, asked from the node.
    const [name, version] = ['is-number', '7.0.0'];
    expect(original.lock).not.toContain(`"node_modules/${name}"`);
    const manifest = (await cluster.http('GET', `${npmRegistry}${name}/${version}`)).json<{
      dist: { integrity: string };
      license: string;
    }>();
    const json = JSON.parse(original.json) as { dependencies: Record<string, string> };
    json.dependencies[name] = version;
    const lock = JSON.parse(original.lock) as {
      packages: Record<string, { dependencies?: Record<string, string> } & Record<string, unknown>>;
    };
    lock.packages['']!.dependencies![name] = version;
    // As `npm install` writes it by default: the tarball on registry.npmjs.org, which the pods cannot
    // reach. npm replaces that host with the configured registry (its replace-registry-host default);
    // every other entry records no registry at all and is fetched from the configured one.
    lock.packages[`node_modules/${name}`] = {
      version,
      resolved: `https://registry.npmjs.org/${name}/-/${name}-${version}.tgz`,
      integrity: manifest.dist.integrity,
      license: manifest.license,
    };
    // Both files land together (renames), so Tilt sees one change and package.json matches the lockfile.
    const replace = async (contents: { json: string; lock: string }) => {
      await writeFile(`${files.lock}.new`, contents.lock);
      await writeFile(`${files.json}.new`, contents.json);
      await rename(`${files.lock}.new`, files.lock);
      await rename(`${files.json}.new`, files.json);
    };

    const logOffset = statSync(logs()).size;
    const memory = watchMemory(before);
    const written = Date.now();
    let passed = false;
    try {
      await replace({ json: `${JSON.stringify(json, null, 2)}\n`, lock: `${JSON.stringify(lock, null, 2)}\n` });
      const build = await apiUpdatedSince(written, 900_000);
      const took = seconds(written);
      const peak = memory();
      const log = readFileSync(logs(), 'utf8').slice(logOffset);
      expect({ error: build.error, log: build.error ? log.split('\n').slice(-40).join('\n') : '' }).toEqual({
        error: '',
        log: '',
      });
      // Tilt ran the step in each pod (its log shows the command and npm's summary, once per pod) ...
      const apiLines = (pattern: RegExp) =>
        log.split('\n').filter((line) => /^\s*api │ /.test(line) && pattern.test(line));
      expect(apiLines(/\[CMD \d+\/\d+\] sh -c npm ci$/)).toHaveLength(before.length);
      expect(apiLines(/│ added \d+ packages in /)).toHaveLength(before.length);
      // ... and in every pod the new package is installed and loads.
      for (const pod of before) {
        const loaded = await cluster.kubectlResult([
          ...['-n', NS, 'exec', pod.metadata.name, '-c', 'api', '--'],
          ...['node', '-e', `console.log(require('${name}/package.json').version, require('${name}')(42))`],
        ]);
        expect({ pod: pod.metadata.name, out: loaded.stdout.trim() }).toEqual({
          pod: pod.metadata.name,
          out: `${version} true`,
        });
      }
      note({
        kind: 'measured',
        what:
          `tilt: a lockfile change reinstalled by \`npm ci\` in all 3 API pods (from --npm-registry) ${took} s after the write` +
          (peak
            ? `; the api containers' highest peak of anonymous memory (server + npm) ${peak.peakRssMiB} MiB, ` +
              `of usage with page cache ${peak.peakUsageMiB} MiB, OOM kills ${peak.oomKills}`
            : ''),
      });
      if (peak) expect(peak.oomKills).toBe(0);

      // The same pods, images and containers (no restart, no OOM kill of the server), and the API answers.
      expectSamePods(before, await apiPods());
      expect(await devImages()).toEqual(imagesBefore);
      for (const pod of before) {
        expect({
          pod: pod.metadata.name,
          status: (await cluster.http('GET', `http://${pod.status.podIP}:5000/health/ready`)).status,
        }).toEqual({ pod: pod.metadata.name, status: 200 });
      }
      passed = true;
    } finally {
      memory();
      // The checkout as it was, and the pods reinstalled from it, before the next test edits anything.
      const restored = Date.now();
      await replace(original);
      const settled = apiUpdatedSince(restored, 900_000);
      if (passed) await settled;
      else await settled.catch(() => undefined);
    }
  });

  it('`tilt up`: a new migration rebuilds only the migration image and reruns the Job, which applies it', async () => {
    await tiltReady('db-migrate', 'api');
    const apiBefore = (await apiPods()).map((p) => p.metadata.uid).sort();
    const jobBefore = (
      await cluster.json<{ metadata: { uid: string } }>(['-n', NS, 'get', 'job', 'python-api-migrate'])
    ).metadata.uid;
    const name = `29991231000000_tilt_probe_${Date.now()}`;
    const started = Date.now();
    await mkdir(path.join(checkout, 'apps/api/prisma/migrations', name));
    await writeFile(
      path.join(checkout, 'apps/api/prisma/migrations', name, 'migration.sql'),
      'CREATE TABLE "tilt_probe" ("id" INTEGER PRIMARY KEY);\n',
    );
    await cluster.until(
      `migration ${name} recorded as finished in _prisma_migrations`,
      async () =>
        (await sql(`select finished_at is not null from _prisma_migrations where migration_name = '${name}'`)) === 't',
      600_000,
      details,
    );
    note({
      kind: 'measured',
      what: `tilt: a new migration applied by the rerun db-migrate Job ${seconds(started)} s after the file was written`,
    });

    const jobAfter = (await cluster.json<{ metadata: { uid: string } }>(['-n', NS, 'get', 'job', 'python-api-migrate']))
      .metadata.uid;
    expect(jobAfter).not.toBe(jobBefore);
    expect(await sql("select to_regclass('public.tilt_probe')")).toBe('tilt_probe');
    // The API pods only got the file by sync (apps/api/prisma is synced): none was replaced.
    expect((await apiPods()).map((p) => p.metadata.uid).sort()).toEqual(apiBefore);
  });
});
