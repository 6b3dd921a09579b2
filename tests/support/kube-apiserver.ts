// A real Kubernetes control plane for tests: etcd + kube-apiserver (the pinned builds in
// .tools/bin) on free loopback ports, in a private temp dir, torn down by stop().
// No scheduler or controllers run: objects are validated, admitted and stored, nothing more.
// Typical use, one instance per test file (start-up is a few seconds):
//
//   const server = await startKubeApiServer();
//   await server.installCrds(crdFiles('cert-manager'));
//   await server.apply(namespace);                     // real
//   const result = await server.applyDryRun(object);   // server-side apply, dry run, strict
//   await server.stop();
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { freePorts, spawnLogged, stopProcess, tail } from './processes.js';
import { waitFor } from './wait.js';
import { ASSETS_DIR, tool } from './tools.js';

/** The subset of a Kubernetes object the harness needs to route it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface ApplyResult {
  /** HTTP status of the apply request (200/201 when accepted). */
  status: number;
  accepted: boolean;
  /** The error message of a rejected object, '' when accepted. */
  message: string;
  /** Warning headers (e.g. Pod Security "would violate" warnings, deprecated APIs). */
  warnings: string[];
  /** The object as the server returned it (defaults applied) when accepted. */
  body: unknown;
}

export interface KubeApiServer {
  /** https://127.0.0.1:<port> */
  readonly url: string;
  /** A kubeconfig file for kubectl (cluster-admin through a static token). */
  readonly kubeconfig: string;
  /** Raw authenticated request; body is sent as JSON unless it is a string. */
  request(
    method: string,
    urlPath: string,
    body?: unknown,
    contentType?: string,
  ): Promise<{ status: number; body: unknown; warnings: string[] }>;
  /** Server-side apply for real. Throws when the server rejects the object. */
  apply(object: KubeObject): Promise<ApplyResult>;
  /** Server-side apply with dryRun=All and fieldValidation=Strict: nothing is stored. */
  applyDryRun(object: KubeObject): Promise<ApplyResult>;
  /** Applies CustomResourceDefinitions for real and waits until the API serves them. */
  installCrds(files: readonly string[]): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Milliseconds to wait for /readyz. */
  readyTimeoutMs?: number;
}

const FIELD_MANAGER = 'python-api-tests';

/** The CRD files of an asset installed by scripts/install-tools.sh (argocd, prometheus-operator, cert-manager). */
export function crdFiles(asset: string): string[] {
  const dir = path.join(ASSETS_DIR, asset, 'crds');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new Error(`${dir} is missing: run \`bash scripts/install-tools.sh ${asset}\``);
  }
  return names
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}

/** Parses a multi-document YAML stream into objects, skipping empty documents. */
export function parseObjects(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]?.message}`);
      return doc.toJS() as KubeObject | null;
    })
    .filter((object): object is KubeObject => object !== null && typeof object === 'object');
}

/** The object of that kind and name; throws when it is missing. */
export function find<T extends KubeObject = KubeObject>(objects: KubeObject[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} is not in the rendered output`);
  return found as T;
}

interface ResourceInfo {
  name: string;
  namespaced: boolean;
}

export async function startKubeApiServer(options: StartOptions = {}): Promise<KubeApiServer> {
  // A port can be taken between probing and binding; one retry covers that race.
  try {
    return await startOnce(options);
  } catch (error) {
    if (!(error instanceof PortRaceError)) throw error;
    return startOnce(options);
  }
}

class PortRaceError extends Error {}

async function startOnce(options: StartOptions): Promise<KubeApiServer> {
  const etcdBin = tool('etcd');
  const apiserverBin = tool('kube-apiserver');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-apiserver-'));
  const [clientPort, peerPort, securePort] = (await freePorts(3)) as [number, number, number];
  const token = randomBytes(24).toString('hex');

  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(path.join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await writeFile(path.join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  // token,user,uid,"groups": system:masters is cluster-admin without any RBAC object.
  await writeFile(path.join(dir, 'tokens.csv'), `${token},admin,admin,"system:masters"\n`);

  const etcd = spawnLogged(
    etcdBin,
    [
      '--name=test',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${clientPort}`,
      `--advertise-client-urls=http://127.0.0.1:${clientPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=test=http://127.0.0.1:${peerPort}`,
      // Throw-away data: no fsync keeps two cores free for the API server.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
    path.join(dir, 'etcd.log'),
  );

  const apiserver = spawnLogged(
    apiserverBin,
    [
      `--etcd-servers=http://127.0.0.1:${clientPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${securePort}`,
      `--cert-dir=${path.join(dir, 'certs')}`,
      `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      '--service-cluster-ip-range=10.96.0.0/16',
      // No nodes or controllers: nothing to reconcile the kubernetes Service endpoints against.
      '--endpoint-reconciler-type=none',
      '--enable-priority-and-fairness=false',
      '--profiling=false',
      '--v=1',
    ],
    path.join(dir, 'kube-apiserver.log'),
  );

  const url = `https://127.0.0.1:${securePort}`;
  const agent = new https.Agent({ rejectUnauthorized: false, keepAlive: true });
  let stopped = false;

  const request: KubeApiServer['request'] = (method, urlPath, body, contentType = 'application/json') =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const req = https.request(
        `${url}${urlPath}`,
        {
          method,
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json',
            ...(payload === undefined
              ? {}
              : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              /* plain-text answers (e.g. /readyz) stay strings */
            }
            const warnings: string[] = [];
            for (let i = 0; i < res.rawHeaders.length; i += 2) {
              if (res.rawHeaders[i]?.toLowerCase() === 'warning') {
                // RFC 7234 form: 299 - "text"
                warnings.push((res.rawHeaders[i + 1] ?? '').replace(/^\d{3} - "?/, '').replace(/"$/, ''));
              }
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, warnings });
          });
        },
      );
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
      if (payload !== undefined) req.write(payload);
      req.end();
    });

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    agent.destroy();
    await stopProcess(apiserver);
    await stopProcess(etcd);
    await rm(dir, { recursive: true, force: true });
  };

  // Wait for /readyz (etcd up, CRD/RBAC bootstrap done).
  let exitLog: string | undefined;
  try {
    await waitFor('kube-apiserver /readyz', async () => (await request('GET', '/readyz')).status === 200, {
      timeoutMs: options.readyTimeoutMs ?? 90_000,
      explain: () => tail(path.join(dir, 'kube-apiserver.log')),
      abortIf() {
        const processes = [['etcd', etcd] as const, ['kube-apiserver', apiserver] as const];
        const [name, child] = processes.find(([, child]) => child.exitCode !== null) ?? [];
        if (!name || !child) return undefined;
        exitLog = tail(path.join(dir, `${name}.log`));
        return `${name} exited with ${child.exitCode} before the API server was ready:\n${exitLog}`;
      },
    });
  } catch (error) {
    await stop();
    if (exitLog !== undefined && /address already in use/.test(exitLog)) throw new PortRaceError(exitLog);
    throw error;
  }

  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'admin', user: { token } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'admin' } }],
      'current-context': 'test',
    }),
  );

  // Discovery: apiVersion + kind -> resource name and scope, refreshed after CRDs arrive.
  const discovered = new Map<string, Map<string, ResourceInfo>>();
  async function resourceFor(apiVersion: string, kind: string): Promise<ResourceInfo> {
    let kinds = discovered.get(apiVersion);
    if (!kinds) {
      const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      // A group whose CRD was just established can take a moment to appear in discovery.
      const answer = await waitFor(
        `${apiVersion} to appear in discovery`,
        async () => {
          const found = await request('GET', base);
          return found.status !== 404 && found;
        },
        { timeoutMs: 5_000 },
      ).catch((error: Error) => {
        throw new Error(`the API server does not serve ${apiVersion}: ${error.message}`);
      });
      if (answer.status !== 200) throw new Error(`the API server does not serve ${apiVersion} (HTTP ${answer.status})`);
      kinds = new Map();
      const list =
        (answer.body as { resources?: { name: string; kind: string; namespaced: boolean }[] }).resources ?? [];
      for (const r of list) if (!r.name.includes('/')) kinds.set(r.kind, { name: r.name, namespaced: r.namespaced });
      discovered.set(apiVersion, kinds);
    }
    const info = kinds.get(kind);
    if (!info) throw new Error(`the API server serves no kind ${kind} in ${apiVersion}`);
    return info;
  }

  async function serverSideApply(object: KubeObject, dryRun: boolean): Promise<ApplyResult> {
    let info: ResourceInfo;
    try {
      info = await resourceFor(object.apiVersion, object.kind);
    } catch (error) {
      return { status: 404, accepted: false, message: (error as Error).message, warnings: [], body: undefined };
    }
    const base = object.apiVersion.includes('/') ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`;
    const namespace = object.metadata.namespace;
    if (info.namespaced && !namespace) {
      return {
        status: 400,
        accepted: false,
        message: `${object.kind}/${object.metadata.name} has no namespace`,
        warnings: [],
        body: undefined,
      };
    }
    const scope = info.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? '')}` : '';
    const query = new URLSearchParams({ fieldManager: FIELD_MANAGER, fieldValidation: 'Strict', force: 'true' });
    if (dryRun) query.set('dryRun', 'All');
    const answer = await request(
      'PATCH',
      `${base}${scope}/${info.name}/${encodeURIComponent(object.metadata.name)}?${query}`,
      object,
      'application/apply-patch+yaml',
    );
    const accepted = answer.status >= 200 && answer.status < 300;
    const message = accepted ? '' : String((answer.body as { message?: string })?.message ?? answer.body);
    return { status: answer.status, accepted, message, warnings: answer.warnings, body: answer.body };
  }

  async function apply(object: KubeObject): Promise<ApplyResult> {
    const result = await serverSideApply(object, false);
    if (!result.accepted) throw new Error(`${object.kind}/${object.metadata.name} rejected: ${result.message}`);
    return result;
  }

  async function installCrds(files: readonly string[]): Promise<void> {
    const crds = files
      .flatMap((file) => parseObjects(readFileSync(file, 'utf8')))
      .filter((o) => o.kind === 'CustomResourceDefinition');
    await Promise.all(crds.map((crd) => apply(crd)));
    for (const crd of crds) {
      await waitFor(
        `CRD ${crd.metadata.name} to be established`,
        async () => {
          const answer = await request(
            'GET',
            `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
          );
          const conditions =
            (answer.body as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions ?? [];
          return conditions.some((c) => c.type === 'Established' && c.status === 'True');
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
    }
    // New kinds appear in discovery: drop the cache.
    discovered.clear();
  }

  return {
    url,
    kubeconfig,
    request,
    apply,
    applyDryRun: (object) => serverSideApply(object, true),
    installCrds,
    stop,
  };
}
