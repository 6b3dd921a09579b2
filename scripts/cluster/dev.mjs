#!/usr/bin/env node
// A real cluster to poke at: `npm run cluster:up` brings it up (scripts/cluster/up.sh), builds the
// images (scripts/cluster/images.sh) and lets Argo CD sync the dev overlay (tests/cluster/dev-session.ts,
// left running in the background); it prints the KUBECONFIG and the API's address on loopback.
// `npm run cluster:up -- --tilt` brings up the cluster with what `tilt up` needs instead (a Docker
// Engine, an image registry and an npm registry the pods reach, scripts/cluster/dev-loop.sh) and
// prints how to run Tilt against it.
// `npm run cluster:down` stops the session and tears everything down.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..');
const state = process.env.PYTHON_API_CLUSTER_DIR ?? '/var/tmp/python-api-cluster';
const pidFile = path.join(state, 'dev-session.pid');
const log = path.join(state, 'dev-session.log');
const devEnv = path.join(state, 'dev.env');

const sh = (script) => spawnSync('bash', [path.join(root, script)], { cwd: root, stdio: 'inherit' }).status === 0;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function stopSession() {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  if (alive(pid)) {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && alive(pid); i++) await sleep(200);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(pidFile, { force: true });
  rmSync(devEnv, { force: true });
}

const command = process.argv[2];
if (command === 'down') {
  await stopSession();
  process.exit(sh('scripts/cluster/down.sh') ? 0 : 1);
} else if (command === 'up' && process.argv[3] === '--tilt') {
  await stopSession();
  if (!sh('scripts/cluster/up.sh')) process.exit(1);
  const loop = spawnSync('bash', [path.join(root, 'scripts/cluster/dev-loop.sh'), 'start'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (loop.status !== 0) process.exit(1);
  const kubeconfig = /^KUBECONFIG=(.*)$/m.exec(readFileSync(path.join(state, 'cluster.env'), 'utf8'))?.[1];
  const exports = loop.stdout
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('DOCKER_HOST='))
    .map((line) => `export ${line}`);
  // The npm registry the pods reach (Verdaccio on the host, dev-loop.sh): live update's `npm ci` uses it.
  const npmRegistry = /^NPM_REGISTRY=(.*)$/m.exec(loop.stdout)?.[1];
  console.log(`\nexport KUBECONFIG=${kubeconfig}\n${exports.join('\n')}`);
  console.log(
    `tilt up -- --allow-context python-api --build-network host --migrate-substitute --npm-registry ${npmRegistry}`,
  );
  console.log('stop everything with: npm run cluster:down');
} else if (command === 'up' && process.argv[3] === undefined) {
  await stopSession();
  if (!sh('scripts/cluster/up.sh') || !sh('scripts/cluster/images.sh')) process.exit(1);
  spawnSync(process.execPath, ['apps/api/scripts/generate-client.mjs', '--if-stale'], { cwd: root, stdio: 'inherit' });
  mkdirSync(state, { recursive: true });
  const out = openSync(log, 'w');
  const session = spawn(process.execPath, ['--import', 'tsx', 'tests/cluster/dev-session.ts'], {
    cwd: root,
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, PATH: `${path.join(root, '.tools/bin')}${path.delimiter}${process.env.PATH}` },
  });
  writeFileSync(pidFile, String(session.pid));
  session.unref();
  console.log(`waiting for Argo CD to sync the dev overlay (log: ${log})`);
  for (;;) {
    if (existsSync(devEnv)) break;
    if (!alive(session.pid)) {
      console.error(`the dev session stopped:\n${readFileSync(log, 'utf8').split('\n').slice(-30).join('\n')}`);
      process.exit(1);
    }
    await sleep(2_000);
  }
  const env = Object.fromEntries(
    readFileSync(path.join(state, 'cluster.env'), 'utf8')
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const api = /^API_URL=(.*)$/m.exec(readFileSync(devEnv, 'utf8'))?.[1];
  console.log(`\nexport KUBECONFIG=${env.KUBECONFIG}\nAPI: ${api} (try ${api}/api/items, ${api}/docs)`);
  console.log('stop everything with: npm run cluster:down');
} else {
  console.error('usage: node scripts/cluster/dev.mjs up [--tilt] | down');
  process.exit(2);
}
