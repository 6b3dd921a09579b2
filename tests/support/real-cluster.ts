// The real single-node cluster that scripts/cluster/up.sh leaves running, as a test sees it: the
// values of its cluster.env, kubectl with its KUBECONFIG, commands in pods, NodePorts exposed on
// host loopback, and a polling helper whose timeout message says what was awaited.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from './wait.js';
import { run, runOk, tool, toolsEnv, type RunOptions, type RunResult } from './tools.js';

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
    // The product suite runs on kind too (scripts/cluster/kind/up.sh), which has only these.
    if (!value && PROVIDER_KEYS.has(key)) {
      throw new Error(`${file} has no ${key}: was it written by an older scripts/cluster/up.sh?`);
    }
    env[field] = value ?? '';
  }
  return env;
}

/** What every cluster provider writes; the rest is this machine's node only ('' elsewhere). */
const PROVIDER_KEYS = new Set(['KUBECONFIG', 'NODE_NAME', 'NODE_IP', 'NODE_EXEC', 'CONTAINERD_ADDRESS']);

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  json<T = unknown>(): T;
}

export class RealCluster {
  readonly env: ClusterEnv;
  private readonly processEnv: NodeJS.ProcessEnv;

  constructor(env: ClusterEnv = readClusterEnv()) {
    this.env = env;
    this.processEnv = toolsEnv({ KUBECONFIG: env.kubeconfig });
  }

  /** The cluster's state directory (cluster.env, images.tsv). */
  get dir(): string {
    return this.env.dir;
  }

  get kubeconfig(): string {
    return this.env.kubeconfig;
  }

  get nodeIp(): string {
    return this.env.nodeIp;
  }

  /** Runs a program on the host with the cluster's KUBECONFIG; never throws for a non-zero exit. */
  run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return run(file, args, { env: this.processEnv, timeoutMs: 180_000, ...options });
  }

  /**
   * Runs a program in the node's network namespace, where ClusterIPs and NodePorts route through
   * kube-proxy: NODE_EXEC is scripts/cluster/node-exec.sh here, `docker exec -i <node>` on kind.
   */
  inNode(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const [command, ...prefix] = this.env.nodeExec.split(' ');
    return this.run(command!, [...prefix, file, ...args], options);
  }

  /** One HTTP request from the node (curl in its network namespace). */
  async http(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const args = ['-sS', '--max-time', '10', '-X', method, '-D', '-', '-o', '-', url];
    for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
    if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', '@-');
    const result = await this.inNode('curl', args, body === undefined ? {} : { input: JSON.stringify(body) });
    if (result.code !== 0) throw new Error(`curl ${method} ${url} failed (exit ${result.code}): ${result.stderr}`);
    const split = result.stdout.indexOf('\r\n\r\n');
    const head = result.stdout.slice(0, split).split('\r\n');
    const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(head[0] ?? '')?.[1]);
    const parsed: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) parsed[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const text = result.stdout.slice(split + 4);
    return { status, headers: parsed, body: text, json: <T>() => JSON.parse(text) as T };
  }

  /** Gives an image in the node's containerd a second name (what pushing a new tag does). */
  async tagImage(source: string, target: string): Promise<void> {
    // Kubernetes names an image without a registry docker.io/library/<name>; containerd stores that.
    const full = (name: string) => (name.includes('/') ? name : `docker.io/library/${name}`);
    const result = await this.inNode('ctr', [
      ...['--address', this.env.containerdAddress, '--namespace', 'k8s.io'],
      ...['images', 'tag', '--force', full(source), full(target)],
    ]);
    if (result.code !== 0) throw new Error(`ctr images tag ${source} ${target} failed:\n${result.stderr}`);
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

  /** Polls `check` every second until it returns a truthy value (tests/support/wait.ts). */
  until<T>(
    what: string,
    check: () => Promise<T | undefined | false | null>,
    timeoutMs = 120_000,
    details?: () => Promise<string> | string,
  ): Promise<T> {
    return waitFor(what, check, { timeoutMs, intervalMs: 1_000, explain: details });
  }

  /** `kubectl describe` and the events of a namespace: what a timeout message should show. */
  async explain(namespace: string, kind = 'pods'): Promise<string> {
    const describe = await this.kubectlResult(['describe', kind, '-n', namespace]);
    const events = await this.kubectlResult(['get', 'events', '-n', namespace, '--sort-by=.lastTimestamp']);
    return `${describe.stdout.slice(-4000)}\n${events.stdout.slice(-3000)}`;
  }
}
