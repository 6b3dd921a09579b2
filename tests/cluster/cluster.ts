// The real single-node cluster that scripts/cluster/up.sh started, as the suites see it: kubectl with
// its kubeconfig, commands inside the node's network namespace (where ClusterIPs and NodePorts route
// through kube-proxy), HTTP from there, and one polling helper.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { KubeObject } from '../support/kube-apiserver.js';
import { sleep } from '../support/processes.js';
import { run, tool, toolsEnv, type RunOptions, type RunResult } from '../support/tools.js';

export const CLUSTER_DIR = process.env.PYTHON_API_CLUSTER_DIR ?? '/var/tmp/python-api-cluster';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  json<T = unknown>(): T;
}

export interface RealCluster {
  /** The cluster's state directory (cluster.env, images.tsv). */
  readonly dir: string;
  readonly kubeconfig: string;
  readonly nodeIp: string;
  /** Runs a program on the host with the cluster's KUBECONFIG. */
  run(file: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** kubectl; throws with its stderr when it fails. */
  kubectl(args: readonly string[], input?: string): Promise<string>;
  json<T>(args: readonly string[]): Promise<T>;
  /** Server-side apply, as Argo CD and bootstrap.sh do. */
  apply(objects: readonly KubeObject[]): Promise<void>;
  /** Runs a program inside the node's network namespace. */
  inNode(file: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** One HTTP request from the node (curl in its network namespace). */
  http(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<HttpAnswer>;
  /** Gives an image in the node's containerd a second name (what pushing a new tag does). */
  tagImage(source: string, target: string): Promise<void>;
  /** Polls until `check` returns a truthy value; on timeout the error names what was awaited and `details()`. */
  until<T>(
    what: string,
    check: () => Promise<T | undefined | false>,
    timeoutMs?: number,
    details?: () => Promise<string> | string,
  ): Promise<T>;
}

function readEnvFile(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`no running cluster: ${file} is missing (start one with \`sudo bash scripts/cluster/up.sh\`)`);
  }
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) values[match[1]!] = match[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  return values;
}

export function connectCluster(dir = CLUSTER_DIR): RealCluster {
  const values = readEnvFile(path.join(dir, 'cluster.env'));
  const need = (key: string) => {
    const value = values[key];
    if (!value) throw new Error(`${dir}/cluster.env has no ${key}`);
    return value;
  };
  const kubeconfig = need('KUBECONFIG');
  const nodeIp = need('NODE_IP');
  // A command prefix that runs a program in the node's network namespace: scripts/cluster/node-exec.sh
  // here, `docker exec -i <node>` on kind.
  const nodeExec = need('NODE_EXEC').split(' ');
  const containerd = need('CONTAINERD_ADDRESS');
  const env = toolsEnv({ KUBECONFIG: kubeconfig });

  const runHere = (file: string, args: readonly string[], options: RunOptions = {}) =>
    run(file, args, { env, timeoutMs: 180_000, ...options });
  const kubectl = async (args: readonly string[], input?: string) => {
    const result = await runHere(tool('kubectl'), args, input === undefined ? {} : { input });
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
    return result.stdout;
  };
  const inNode = (file: string, args: readonly string[], options: RunOptions = {}) =>
    runHere(nodeExec[0]!, [...nodeExec.slice(1), file, ...args], options);

  async function http(
    method: string,
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<HttpAnswer> {
    const args = ['-sS', '--max-time', '10', '-X', method, '-D', '-', '-o', '-', url];
    for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
    if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', '@-');
    const result = await inNode('curl', args, body === undefined ? {} : { input: JSON.stringify(body) });
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

  async function until<T>(
    what: string,
    check: () => Promise<T | undefined | false>,
    timeoutMs = 180_000,
    details?: () => Promise<string> | string,
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
        const more = details ? await details() : '';
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `\nlast error: ${lastError}` : ''}\n${more}`,
        );
      }
      await sleep(1_000);
    }
  }

  return {
    dir,
    kubeconfig,
    nodeIp,
    run: runHere,
    kubectl,
    json: async <T>(args: readonly string[]) => JSON.parse(await kubectl([...args, '-o', 'json'])) as T,
    apply: async (objects) => {
      if (objects.length === 0) return;
      const input = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects });
      await kubectl(
        ['apply', '--server-side', '--force-conflicts', '--field-manager=python-api-tests', '-f', '-'],
        input,
      );
    },
    inNode,
    http,
    until,
    tagImage: async (source, target) => {
      // Kubernetes names an image without a registry docker.io/library/<name>; containerd stores that.
      const full = (name: string) => (name.includes('/') ? name : `docker.io/library/${name}`);
      const result = await runHere('ctr', [
        '--address',
        containerd,
        '--namespace',
        'k8s.io',
        'images',
        'tag',
        '--force',
        full(source),
        full(target),
      ]);
      if (result.code !== 0) throw new Error(`ctr images tag ${source} ${target} failed:\n${result.stderr}`);
    },
  };
}
