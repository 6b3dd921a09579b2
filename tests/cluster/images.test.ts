// scripts/cluster/images.sh, proven on a containerd of this suite's own: it builds every image the
// dev overlay runs (BuildKit, the real Dockerfile, named contexts for the base images), then each
// image runs as a container the way its pod runs it, in a network namespace the suite creates
// (loopback only, nothing leaves the machine): PostgreSQL initialises an empty volume, the
// migration creates the items table, the API answers its health checks, the exporter reports
// pg_up. What stands in for what is printed in the run's summary (stand-ins.ts).
//
// Needs root (containerd, namespaces). containerd runs in a private mount namespace; its state is
// kept in $PYTHON_API_IMAGES_TEST_DIR (default /var/tmp/python-api-images-test) so a second run
// is cached; every process, container, mount and cgroup is gone when the suite ends.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { sleep, spawnLogged, stopProcess, tail } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import { REPO_ROOT, run } from '../support/tools.js';
import { note } from '../support/notes.js';

jest.setTimeout(60 * 60_000);

const DIR = process.env.PYTHON_API_IMAGES_TEST_DIR ?? '/var/tmp/python-api-images-test';
const SOCKET = path.join(DIR, 'containerd.sock');
const CGROUP = 'python-api-images-test';
const NAMESPACE = 'k8s.io';

interface ImageLine {
  name: string;
  digest: string;
  seconds: number;
  kind: string;
  note: string;
}

let containerd: ChildProcess | undefined;
let netns: ChildProcess | undefined;
let images: ImageLine[] = [];
const containers: string[] = [];

const ctr = (args: readonly string[]) => run('ctr', ['--address', SOCKET, '--namespace', NAMESPACE, ...args]);
const ctrOk = async (args: readonly string[]) => {
  const result = await ctr(args);
  if (result.code !== 0) throw new Error(`ctr ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
};

function image(prefix: string): ImageLine {
  const line = images.find((i) => i.name.startsWith(prefix));
  if (!line) throw new Error(`images.sh reported no ${prefix}; it reported:\n${images.map((i) => i.name).join('\n')}`);
  return line;
}

/** Starts a container in the suite's network namespace; `args` replace the image's command. */
async function start(
  id: string,
  ref: string,
  options: { env?: Record<string, string>; mounts?: string[]; args?: string[] },
) {
  const flags = [
    ...['--log-uri', `file://${path.join(DIR, `${id}.log`)}`],
    ...['--with-ns', `network:/proc/${netns!.pid}/ns/net`],
    ...['--cgroup', `${CGROUP}/${id}`],
    // As in the pods: a read-only root filesystem.
    '--read-only',
    ...Object.entries(options.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    ...(options.mounts ?? []).flatMap((m) => ['--mount', m]),
  ];
  await ctr(['tasks', 'kill', '-s', 'SIGKILL', id]);
  await ctr(['containers', 'rm', id]);
  await ctrOk(['run', '-d', ...flags, ref, id, ...(options.args ?? [])]);
  containers.push(id);
}

async function exec(id: string, command: string[]) {
  return ctr(['tasks', 'exec', '--exec-id', `probe-${Date.now()}`, id, ...command]);
}

async function inNetns(file: string, args: string[]) {
  return run('nsenter', ['--target', String(netns!.pid), '--net', file, ...args]);
}

function until<T>(what: string, check: () => Promise<T | undefined | false>, logs: string, timeoutMs = 60_000) {
  return waitFor(what, check, { timeoutMs, intervalMs: 500, explain: () => `log:\n${tail(logs, 40)}` });
}

async function stopAll() {
  for (const id of containers.reverse()) {
    await ctr(['tasks', 'kill', '-s', 'SIGKILL', id]);
    await sleep(200);
    await ctr(['tasks', 'delete', '-f', id]);
    await ctr(['containers', 'rm', id]);
  }
  await stopProcess(netns);
  await stopProcess(containerd);
  // A shim outlives a stopped containerd (and keeps its mount namespace alive): end ours.
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.startsWith('/usr/bin/containerd-shim') && cmdline.includes(`\0${SOCKET}`))
      process.kill(Number(pid), 'SIGKILL');
  }
  await sleep(500);
  // runc removes a container's cgroup with it; the parent is ours. A relative cgroup path lands
  // under the shim's own cgroup in each hierarchy, so it is looked for everywhere.
  execFileSync('sh', [
    '-c',
    `find /sys/fs/cgroup -depth -type d -path '*/${CGROUP}*' -exec rmdir {} \\; 2>/dev/null || true`,
  ]);
}

const PG = { POSTGRES_USER: 'app', POSTGRES_PASSWORD: 'images-test-password', POSTGRES_DB: 'items' };
// Inside the suite's network namespace only (198.18.0.0/15, never routed off this machine).
const POD_ADDRESS = '198.18.0.2';
// The API and the migration connect the way pods do: not from loopback, so with the password.
const DATABASE_URL = `postgresql://${PG.POSTGRES_USER}:${PG.POSTGRES_PASSWORD}@${POD_ADDRESS}:5432/${PG.POSTGRES_DB}`;

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the image suite needs root (containerd, namespaces, mounts)');
  mkdirSync(DIR, { recursive: true });
  writeFileSync(
    path.join(DIR, 'config.toml'),
    [
      'version = 2',
      `root = "${DIR}/root"`,
      `state = "${DIR}/state"`,
      // Images and containers only: no CRI, no kubelet here.
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${SOCKET}"`,
      '[ttrpc]',
      `  address = "${SOCKET}.ttrpc"`,
      '',
    ].join('\n'),
  );
  rmSync(SOCKET, { force: true });
  containerd = spawnLogged(
    'unshare',
    [
      ...['--mount', '--propagation', 'private', '--'],
      ...['sh', '-c', `exec containerd --config '${DIR}/config.toml'`],
    ],
    path.join(DIR, 'containerd.log'),
  );
  await until(
    'containerd',
    async () => existsSync(SOCKET) && (await ctr(['version'])).code === 0,
    path.join(DIR, 'containerd.log'),
  );

  // A network namespace with loopback only, held by a sleeping process (no mount to undo).
  netns = spawnLogged('unshare', ['--net', 'sleep', '3600'], path.join(DIR, 'netns.log'));
  await until(
    'the network namespace',
    async () =>
      (await inNetns('ip', ['link', 'set', 'lo', 'up'])).code === 0 &&
      // A second address, so a client can come from somewhere other than loopback (a pod's case).
      (await inNetns('ip', ['addr', 'add', `${POD_ADDRESS}/32`, 'dev', 'lo'])).code === 0,
    path.join(DIR, 'netns.log'),
  );

  const report = path.join(DIR, 'images.tsv');
  rmSync(report, { force: true });
  const build = await run('bash', [path.join(REPO_ROOT, 'scripts/cluster/images.sh')], {
    env: {
      ...process.env,
      CONTAINERD_ADDRESS: SOCKET,
      PYTHON_API_CLUSTER_DIR: DIR,
      IMAGES_REPORT: report,
      IMAGES_CGROUP_PARENT: CGROUP,
    },
    // A cold run builds the base images and every target (minutes on two cores).
    timeoutMs: 45 * 60_000,
  });
  writeFileSync(path.join(DIR, 'images.log'), `${build.stdout}\n${build.stderr}`);
  if (build.code !== 0) throw new Error(`images.sh failed (exit ${build.code}):\n${build.stderr.slice(-4000)}`);
  images = readFileSync(report, 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [name, digest, seconds, kind, note] = line.split('\t');
      return { name: name!, digest: digest!, seconds: Number(seconds), kind: kind!, note: note! };
    });
  for (const image of images.filter((i) => i.kind === 'stand-in' || i.kind === 'substitute')) {
    note({ kind: 'stand-in', what: `image ${image.name}: ${image.note}` });
  }
}, 60 * 60_000);

afterAll(async () => {
  await stopAll();
});

describe('scripts/cluster/images.sh', () => {
  it('builds every image the dev overlay runs into containerd (k8s.io), each reported with its digest and build time', async () => {
    const listed = await ctrOk(['images', 'ls']);
    for (const prefix of [
      'docker.io/library/python-api:1.0.0\t',
      'docker.io/library/python-api:1.0.0-dev\t',
      'docker.io/library/python-api-migrate-substitute:1.0.0\t',
      'docker.io/library/postgres:17.10-bookworm\t',
      'docker.io/prometheuscommunity/postgres-exporter:v0.18.1\t',
    ]) {
      const line = image(prefix.trim());
      expect(line.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(line.seconds).toBeGreaterThanOrEqual(0);
      // ctr prints NAME TYPE DIGEST ...: the reported digest is the one containerd holds.
      expect(listed).toMatch(new RegExp(`^${line.name.replace(/[.]/g, '\\.')}\\s+\\S+\\s+${line.digest}\\s`, 'm'));
    }
    expect(image('docker.io/library/python-api:1.0.0\t'.trim()).kind).toBe('built');
  });

  it('names what is not the real thing: PostgreSQL entrypoint and exporter are STAND-INs, the migrate image a SUBSTITUTE', () => {
    expect(image('docker.io/library/postgres:').kind).toBe('stand-in');
    expect(image('docker.io/prometheuscommunity/postgres-exporter:').kind).toBe('stand-in');
    expect(image('docker.io/library/python-api-migrate-substitute:')).toMatchObject({
      kind: 'substitute',
      note: expect.stringContaining('SUBSTITUTE'),
    });
  });
});

describe('the images run as their pods run them (containerd, a network namespace of the suite)', () => {
  const data = path.join(DIR, 'pgdata');

  it("postgres:17.10-bookworm (STAND-IN entrypoint) initialises an empty volume as uid 999 from the StatefulSet's env and answers pg_isready and psql", async () => {
    rmSync(data, { recursive: true, force: true });
    mkdirSync(data);
    // What fsGroup 999 makes of the claim: writable for uid 999.
    execFileSync('chown', ['999:999', data]);
    await start('postgres', image('docker.io/library/postgres:').name, {
      env: { ...PG, PGDATA: '/var/lib/postgresql/data/pgdata' },
      mounts: [
        `type=bind,src=${data},dst=/var/lib/postgresql/data,options=rbind:rw`,
        'type=tmpfs,src=tmpfs,dst=/var/run/postgresql,options=mode=1777',
        'type=tmpfs,src=tmpfs,dst=/tmp,options=mode=1777',
      ],
      // runAsUser 999 and the StatefulSet's args (ctr has no --user: setpriv drops to 999 first).
      args: [
        'setpriv',
        '--reuid=999',
        '--regid=999',
        '--clear-groups',
        'docker-entrypoint.sh',
        '-c',
        'log_connections=on',
      ],
    });
    const log = path.join(DIR, 'postgres.log');
    // The StatefulSet's startup and liveness probes, as written there.
    await until(
      'pg_isready over TCP',
      async () =>
        (await exec('postgres', ['sh', '-c', `pg_isready -h 127.0.0.1 -p 5432 -U "$POSTGRES_USER" -d "$POSTGRES_DB"`]))
          .code === 0,
      log,
    );
    expect(
      (
        await exec('postgres', [
          'sh',
          '-c',
          `pg_isready -h /var/run/postgresql -p 5432 -U "$POSTGRES_USER" -d "$POSTGRES_DB"`,
        ])
      ).code,
    ).toBe(0);
    const version = await exec('postgres', [
      'sh',
      '-c',
      `PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -p 5432 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tAc "SHOW server_version"`,
    ]);
    expect(version.stdout.trim()).toBe('17.10');
    // Clients from another address (the API pods) authenticate: the right password works, a wrong
    // one is refused. (Loopback is trusted, as initdb and the official image leave it.)
    const fromPod = (password: string) =>
      exec('postgres', [
        'sh',
        '-c',
        `PGPASSWORD='${password}' psql -h ${POD_ADDRESS} -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tAc "SELECT current_user"`,
      ]);
    expect((await fromPod(PG.POSTGRES_PASSWORD)).stdout.trim()).toBe(PG.POSTGRES_USER);
    const wrong = await fromPod('wrong');
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/password authentication failed/);
    // The cluster belongs to uid 999.
    expect(
      execFileSync('stat', ['-c', '%u', path.join(data, 'pgdata', 'PG_VERSION')])
        .toString()
        .trim(),
    ).toBe('999');
  });

  it('python-api-migrate-substitute (SUBSTITUTE for `prisma migrate deploy`) creates the items table and records it as Prisma does', async () => {
    const id = 'migrate';
    await start(id, image('docker.io/library/python-api-migrate-substitute:').name, {
      env: { DATABASE_URL, CHECKPOINT_DISABLE: '1', HOME: '/tmp' },
      mounts: ['type=tmpfs,src=tmpfs,dst=/tmp,options=mode=1777'],
    });
    const log = path.join(DIR, `${id}.log`);
    await until(
      'the migration to finish',
      async () =>
        /STOPPED/.test((await ctr(['tasks', 'ls'])).stdout.split('\n').find((l) => l.startsWith(`${id} `)) ?? ''),
      log,
    );
    expect(readFileSync(log, 'utf8')).toMatch(/applied: \S+/);
    const psql = (sql: string) =>
      exec('postgres', [
        'sh',
        '-c',
        `PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tAc "${sql}"`,
      ]);
    expect((await psql("SELECT to_regclass('public.items')")).stdout.trim()).toBe('items');
    expect(
      Number((await psql('SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL')).stdout.trim()),
    ).toBeGreaterThan(0);
  });

  it('python-api:1.0.0 runs node dist/apps/api/src/server.js as uid 10001 and answers /health/live and /health/ready', async () => {
    await start('api', image('docker.io/library/python-api:1.0.0\t'.trim()).name, {
      env: { DATABASE_URL, PORT: '5000', METRICS_PORT: '9464' },
      mounts: ['type=tmpfs,src=tmpfs,dst=/tmp,options=mode=1777'],
    });
    const log = path.join(DIR, 'api.log');
    const get = async (url: string) => {
      const r = await inNetns('curl', ['-s', '-w', '\n%{http_code}', url]);
      const lines = r.stdout.trimEnd().split('\n');
      return { status: Number(lines.pop()), body: lines.join('\n') };
    };
    await until('/health/live', async () => (await get('http://127.0.0.1:5000/health/live')).status === 200, log);
    expect((await get('http://127.0.0.1:5000/health/ready')).status).toBe(200);
    // Real data through the API, into the table the migration created.
    const created = await inNetns('curl', [
      '-s',
      '-X',
      'POST',
      '-H',
      'content-type: application/json',
      '-d',
      '{"name":"from the image test"}',
      'http://127.0.0.1:5000/api/items',
    ]);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'from the image test' });
    expect((await get('http://127.0.0.1:9464/metrics')).body).toMatch(/^# HELP /m);
    const task = (await ctrOk(['tasks', 'ls'])).split('\n').find((l) => l.startsWith('api '));
    const pid = task?.split(/\s+/)[1];
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Uid:\s+10001\s/m);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)).toEqual([
      'node',
      'dist/apps/api/src/server.js',
    ]);
  });

  it("prometheuscommunity/postgres-exporter:v0.18.1 (STAND-IN) reports pg_up 1 on :9187 from the StatefulSet's env", async () => {
    await start('exporter', image('docker.io/prometheuscommunity/postgres-exporter:').name, {
      env: {
        DATA_SOURCE_URI: `127.0.0.1:5432/${PG.POSTGRES_DB}?sslmode=disable`,
        DATA_SOURCE_USER: PG.POSTGRES_USER,
        DATA_SOURCE_PASS: PG.POSTGRES_PASSWORD,
      },
    });
    const log = path.join(DIR, 'exporter.log');
    const metrics = await until(
      'the exporter',
      async () => {
        const r = await inNetns('curl', ['-sf', 'http://127.0.0.1:9187/metrics']);
        return r.code === 0 && r.stdout;
      },
      log,
    );
    expect(metrics).toMatch(/^pg_up 1$/m);
    expect(metrics).toMatch(/^pg_stat_database_numbackends\{datid="\d+",datname="items"\} \d+$/m);
    expect(metrics).toMatch(/^pg_settings_max_connections 100$/m);
    // The readiness probe's page answers without the database.
    expect((await inNetns('curl', ['-sf', 'http://127.0.0.1:9187/'])).code).toBe(0);
  });

  it('the exporter reports pg_up 0, and keeps serving, while PostgreSQL is down', async () => {
    await ctr(['tasks', 'kill', '-s', 'SIGINT', 'postgres']);
    const metrics = await until(
      'pg_up 0',
      async () => {
        const r = await inNetns('curl', ['-sf', 'http://127.0.0.1:9187/metrics']);
        return r.code === 0 && /^pg_up 0$/m.test(r.stdout) && r.stdout;
      },
      path.join(DIR, 'exporter.log'),
    );
    expect(metrics).toMatch(/^pg_up 0$/m);
  });
});
