// Argo CD's two controllers that do the syncing (the pinned ARGOCD_RUNTIME_VERSION build), with the
// Redis they need, as local processes against the cluster of a kubeconfig: the application
// controller, and the repo-server rendering through kustomize --enable-alpha-plugins --enable-exec
// with KSOPS decrypting the secrets, as in the cluster. Used by the sync rehearsal (simulated node)
// and by the real-cluster suite (tests/cluster/).
import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { freePorts, spawnLogged, stopProcess, tail } from './processes.js';
import { run, tool } from './tools.js';

export interface ArgoCdControllersOptions {
  kubeconfig: string;
  /** Logs and the repo-server's clones go here. */
  dir: string;
  /** The process environment (PATH with kustomize and ksops first). */
  env: NodeJS.ProcessEnv;
  /** The age key the repo-server decrypts with (what the sops-age Secret gives it in the cluster). */
  ageKeyFile: string;
}

export interface ArgoCdControllers {
  /** The last lines of every component's log. */
  logs(lines?: number): string;
  stop(): Promise<void>;
}

export async function startArgoCdControllers(options: ArgoCdControllersOptions): Promise<ArgoCdControllers> {
  const processes: { name: string; child: ChildProcess; log: string }[] = [];
  const start = (name: string, file: string, args: string[], env: NodeJS.ProcessEnv) => {
    const log = path.join(options.dir, `${name}.log`);
    processes.push({ name, child: spawnLogged(file, args, log, env), log });
  };
  const scratch = path.join(options.dir, 'tmp');
  await mkdir(scratch, { recursive: true });

  const [redisPort, repoPort, repoMetrics, controllerMetrics] = (await freePorts(4)) as [
    number,
    number,
    number,
    number,
  ];
  start(
    'redis',
    tool('redis-server'),
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    process.env,
  );
  const argocdEnv = (binary: string): NodeJS.ProcessEnv => ({
    ...options.env,
    ARGOCD_BINARY_NAME: binary,
    HOME: options.dir,
    KUBECONFIG: options.kubeconfig,
    // The in-cluster destination (https://kubernetes.default.svc) is the cluster of KUBECONFIG.
    ARGOCD_FAKE_IN_CLUSTER: 'true',
    ARGOCD_GPG_ENABLED: 'false',
    SOPS_AGE_KEY_FILE: options.ageKeyFile,
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
      `--kubeconfig=${options.kubeconfig}`,
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

  return {
    logs: (lines = 25) => processes.map(({ name, log }) => `--- ${name}\n${tail(log, lines)}`).join('\n'),
    stop: async () => {
      for (const { child } of processes.reverse()) await stopProcess(child);
      // The repo-server locks its clones with mode 000 between uses; a non-root user could not delete them.
      await run('chmod', ['-R', 'u+rwx', scratch]);
    },
  };
}
