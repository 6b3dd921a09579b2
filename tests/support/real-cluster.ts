// The real single-node cluster that scripts/cluster/up.sh leaves running, as a test sees it: the
// values of its cluster.env, kubectl with its KUBECONFIG, commands in pods, NodePorts exposed on
// host loopback, and a polling helper whose timeout message says what was awaited.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sleep } from './processes.js';
import { run, runOk, tool, toolsEnv, type RunResult } from './tools.js';

export const CLUSTER_DIR = process.env.PYTHON_API_CLUSTER_DIR ?? '/var/tmp/python-api-cluster';

/** What up.sh writes into cluster.env (the interface is documented at the top of up.sh). */
export interface ClusterEnv {
  dir: string;
  kubeconfig: string;
  apiserverUrl: string;
  containerdAddress: string;
  nodePid: string;
  nodeExec: string;
  nodeExpose: string;
  nodeName: string;
  nodeIp: string;
  podCidr: string;
  serviceCidr: string;
  clusterDns: string;
  storageClass: string;
  busyboxImage: string;
}

const KEYS: Record<keyof Omit<ClusterEnv, 'dir'>, string> = {
  kubeconfig: 'KUBECONFIG',
  apiserverUrl: 'APISERVER_URL',
  containerdAddress: 'CONTAINERD_ADDRESS',
  nodePid: 'NODE_PID',
  nodeExec: 'NODE_EXEC',
  nodeExpose: 'NODE_EXPOSE',
  nodeName: 'NODE_NAME',
  nodeIp: 'NODE_IP',
  podCidr: 'POD_CIDR',
  serviceCidr: 'SERVICE_CIDR',
  clusterDns: 'CLUSTER_DNS',
  storageClass: 'STORAGE_CLASS',
  busyboxImage: 'BUSYBOX_IMAGE',
};

/** Reads $PYTHON_API_CLUSTER_DIR/cluster.env; throws, saying how to start a cluster, when there is none. */
export function readClusterEnv(dir = CLUSTER_DIR): ClusterEnv {
  const file = path.join(dir, 'cluster.env');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`no running cluster: ${file} is missing (start one as root with \`scripts/cluster/up.sh\`)`);
  }
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) values.set(match[1]!, match[2]!);
  }
  const env = { dir } as ClusterEnv;
  for (const [field, key] of Object.entries(KEYS) as [keyof typeof KEYS, string][]) {
    const value = values.get(key);
    if (!value) throw new Error(`${file} has no ${key}: was it written by an older scripts/cluster/up.sh?`);
    env[field] = value;
  }
  return env;
}

export class RealCluster {
  readonly env: ClusterEnv;
  private readonly processEnv: NodeJS.ProcessEnv;

  constructor(env: ClusterEnv = readClusterEnv()) {
    this.env = env;
    this.processEnv = toolsEnv({ KUBECONFIG: env.kubeconfig });
  }

  /** kubectl with the cluster's KUBECONFIG; never throws for a non-zero exit (assert on `code`). */
  kubectlResult(args: readonly string[], input?: string): Promise<RunResult> {
    return run(tool('kubectl'), args, { env: this.processEnv, input, timeoutMs: 120_000 });
  }

  /** kubectl; throws with its stderr when it fails. */
  kubectl(args: readonly string[], input?: string): Promise<string> {
    return runOk(tool('kubectl'), args, { env: this.processEnv, input, timeoutMs: 120_000 });
  }

  async json<T>(args: readonly string[]): Promise<T> {
    return JSON.parse(await this.kubectl([...args, '-o', 'json'])) as T;
  }

  /** Creates or updates objects (server-side apply). */
  async apply(objects: readonly object[]): Promise<void> {
    await this.kubectl(
      ['apply', '--server-side', '--field-manager=python-api-tests', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: objects,
      }),
    );
  }

  /** A command in a running pod's container. */
  exec(namespace: string, pod: string, command: readonly string[]): Promise<RunResult> {
    return this.kubectlResult(['exec', '-n', namespace, pod, '--', ...command]);
  }

  /** Forwards 127.0.0.1:<free port> on the host to NODE_IP:nodePort; returns "127.0.0.1:<port>". */
  async exposeNodePort(nodePort: number): Promise<string> {
    return (await runOk(this.env.nodeExpose, [String(nodePort)], { env: this.processEnv })).trim();
  }

  /** Polls `check` every second until it returns a truthy value. */
  async until<T>(
    what: string,
    check: () => Promise<T | undefined | false | null>,
    timeoutMs = 120_000,
    details?: () => Promise<string>,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError = '';
    for (;;) {
      try {
        const value = await check();
        if (value) return value;
      } catch (error) {
        lastError = (error as Error).message;
      }
      if (Date.now() > deadline) {
        const more = details ? await details().catch((error: Error) => error.message) : '';
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `\nlast error: ${lastError}` : ''}\n${more}`,
        );
      }
      await sleep(1_000);
    }
  }

  /** `kubectl describe` and the events of a namespace: what a timeout message should show. */
  async explain(namespace: string, kind = 'pods'): Promise<string> {
    const describe = await this.kubectlResult(['describe', kind, '-n', namespace]);
    const events = await this.kubectlResult(['get', 'events', '-n', namespace, '--sort-by=.lastTimestamp']);
    return `${describe.stdout.slice(-4000)}\n${events.stdout.slice(-3000)}`;
  }
}
