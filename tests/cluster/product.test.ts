// The product on a real cluster: Argo CD syncs the dev overlay from a Git server on loopback onto the
// single-node cluster of scripts/cluster/up.sh (real kubelet, containerd, kube-proxy, CoreDNS,
// local-path-provisioner, metrics-server, kube-router), and real pods run the images that
// scripts/cluster/images.sh built from the Dockerfile. What stands in for what is in deploy.ts
// (STAND_INS), printed by the suite's summary. The tests run in order on one deployment.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RealCluster } from '../support/real-cluster.js';
import { NS, deployDev, postgresSql, type DevDeployment } from './deploy.js';

jest.setTimeout(600_000);

const LOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'load.mjs');
const API_SELECTOR = 'app.kubernetes.io/name=python-api,app.kubernetes.io/component=api';

interface Condition {
  type: string;
  status: string;
}
interface Pod {
  metadata: { name: string; uid: string; labels?: Record<string, string> };
  status: {
    phase?: string;
    conditions?: Condition[];
    containerStatuses?: { name: string; restartCount: number; ready: boolean }[];
  };
}
interface Item {
  id: number;
  name: string;
  description: string | null;
}

let cluster: RealCluster;
let deployment: DevDeployment;
let clusterIp = '';
let nodePort = 0;

const isReady = (pod: Pod) => (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const apiPods = async () => (await cluster.json<{ items: Pod[] }>(['-n', NS, 'get', 'pods', '-l', API_SELECTOR])).items;
const details = async () =>
  `application: ${JSON.stringify(await deployment.application(), null, 1)}\n` +
  `pods:\n${(await cluster.run('kubectl', ['-n', NS, 'get', 'pods', '-o', 'wide'])).stdout}\n` +
  `events:\n${(await cluster.run('kubectl', ['-n', NS, 'get', 'events', '--sort-by=.lastTimestamp'])).stdout.split('\n').slice(-25).join('\n')}\n` +
  deployment.logs(15);
const api = (pathname: string) => `http://${clusterIp}${pathname}`;
const SERVICE_URL = `http://app-service.${NS}.svc.cluster.local`;
let apiImage = '';

/**
 * Runs a Node.js script (ESM) to completion in a pod of the API's image, restricted like every pod
 * of the namespace, and returns how it ended and what it printed. The pod is removed afterwards.
 */
async function runInPod(
  namespace: string,
  name: string,
  script: string,
  options: { env?: Record<string, string>; labels?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ phase: string; output: string }> {
  await cluster.apply([
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, labels: { 'app.kubernetes.io/name': name, ...options.labels } },
      spec: {
        restartPolicy: 'Never',
        securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'main',
            image: apiImage,
            imagePullPolicy: 'IfNotPresent',
            command: ['node', '--input-type=module', '-e', script],
            env: Object.entries(options.env ?? {}).map(([key, value]) => ({ name: key, value })),
            securityContext: {
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              capabilities: { drop: ['ALL'] },
            },
            resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } },
          },
        ],
      },
    },
  ]);
  try {
    const phase = await cluster.until(
      `pod ${namespace}/${name} to finish`,
      async () => {
        const pod = await cluster.json<Pod>(['-n', namespace, 'get', 'pod', name]);
        return pod.status.phase === 'Succeeded' || pod.status.phase === 'Failed' ? pod.status.phase : false;
      },
      options.timeoutMs ?? 120_000,
      details,
    );
    return { phase, output: await cluster.kubectl(['-n', namespace, 'logs', name]) };
  } finally {
    await cluster.kubectl(['-n', namespace, 'delete', 'pod', name, '--wait=false']);
  }
}

interface LoadSummary {
  requests: number;
  failed: number;
  retried: number;
  failures: Record<string, number>;
}
async function load(name: string, url: string, seconds: number, concurrency: number, rate = 0): Promise<LoadSummary> {
  const { output } = await runInPod('default', name, await readFile(LOAD, 'utf8'), {
    env: {
      LOAD_URL: url,
      LOAD_SECONDS: String(seconds),
      LOAD_CONCURRENCY: String(concurrency),
      LOAD_RATE: String(rate),
    },
    timeoutMs: (seconds + 120) * 1000,
  });
  return JSON.parse(output.trim().split('\n').pop() ?? '{}') as LoadSummary;
}

/** A TCP connection attempt from a pod: prints open, timeout or the error code. */
const TCP_PROBE = `import net from 'node:net';
const socket = net.connect(Number(process.env.PORT), process.env.HOST);
socket.setTimeout(5000, () => { console.log('timeout'); process.exit(0); });
socket.on('connect', () => { console.log('open'); process.exit(0); });
socket.on('error', (e) => { console.log(e.code); process.exit(0); });`;

async function converged(): Promise<boolean> {
  const status = await deployment.application();
  return status.sync?.status === 'Synced' && status.health?.status === 'Healthy';
}

beforeAll(async () => {
  cluster = new RealCluster();
  deployment = await deployDev(cluster);
}, 300_000);

afterAll(async () => {
  await deployment?.stop();
});

describe('the dev environment on a real cluster, deployed by Argo CD from Git', () => {
  it('first sync on an empty cluster converges: Synced/Healthy, postgres-0 Ready on a Bound claim, the migration Job Complete with the items table, 3 API pods Ready', async () => {
    await cluster.until('python-api-dev to be Synced and Healthy', converged, 480_000, details);

    // What the later tests address (read first, so that one failed check below does not fail them all).
    const service = await cluster.json<{ spec: { clusterIP: string; ports: { name: string; nodePort?: number }[] } }>([
      '-n',
      NS,
      'get',
      'service',
      'app-service',
    ]);
    clusterIp = service.spec.clusterIP;
    apiImage = (
      await cluster.json<{ spec: { template: { spec: { containers: { image: string }[] } } } }>([
        ...['-n', NS, 'get', 'deployment', 'python-api'],
      ])
    ).spec.template.spec.containers[0]!.image;
    nodePort = service.spec.ports.find((p) => p.name === 'http')?.nodePort ?? 0;
    expect(nodePort).toBeGreaterThan(0);

    const postgres = await cluster.json<Pod>(['-n', NS, 'get', 'pod', 'postgres-0']);
    expect(isReady(postgres)).toBe(true);
    const claim = await cluster.json<{
      status: { phase: string };
      spec: { resources: { requests: { storage: string } } };
    }>(['-n', NS, 'get', 'pvc', 'data-postgres-0']);
    expect({ phase: claim.status.phase, size: claim.spec.resources.requests.storage }).toEqual({
      phase: 'Bound',
      size: '5Gi',
    });

    const job = await cluster.json<{ status: { conditions?: Condition[]; succeeded?: number } }>([
      '-n',
      NS,
      'get',
      'job',
      'python-api-migrate',
    ]);
    expect((job.status.conditions ?? []).some((c) => c.type === 'Complete' && c.status === 'True')).toBe(true);
    expect(await postgresSql(cluster, "select to_regclass('public.items')")).toBe('items');

    const pods = await apiPods();
    expect(pods.filter(isReady)).toHaveLength(3);
  });

  it('app-service answers create, read, list, update and delete through its ClusterIP and its NodePort (kube-proxy)', async () => {
    const viaNodePort = (pathname: string) => `http://${cluster.nodeIp}:${nodePort}${pathname}`;

    const created = await cluster.http('POST', api('/api/items'), {
      name: 'first real item',
      description: 'via ClusterIP',
    });
    expect(created.status).toBe(201);
    const item = created.json<Item>();
    expect(created.headers.location).toBe(`/api/items/${item.id}`);

    const read = await cluster.http('GET', viaNodePort(`/api/items/${item.id}`));
    expect(read.status).toBe(200);
    expect(read.json<Item>()).toMatchObject({ id: item.id, name: 'first real item', description: 'via ClusterIP' });

    const updated = await cluster.http('PUT', viaNodePort(`/api/items/${item.id}`), {
      name: 'renamed',
      description: null,
    });
    expect(updated.status).toBe(200);
    const listed = await cluster.http('GET', api('/api/items?limit=1000'));
    expect(listed.status).toBe(200);
    expect(listed.json<Item[]>().find((i) => i.id === item.id)).toMatchObject({ name: 'renamed', description: null });

    expect((await cluster.http('DELETE', api(`/api/items/${item.id}`))).status).toBe(204);
    expect((await cluster.http('GET', viaNodePort(`/api/items/${item.id}`))).status).toBe(404);
  });

  it('/health/ready answers 200, and the metrics port serves Prometheus text to a scraper in the monitoring namespace', async () => {
    const ready = await cluster.http('GET', api('/health/ready'));
    expect(ready.status).toBe(200);
    // The monitoring namespace is where the NetworkPolicy lets scrapers in (as the monitoring Application creates it).
    await cluster.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'monitoring' } }]);
    const scrape = await runInPod(
      'monitoring',
      'scraper',
      // kube-router admits a new namespace's pods a moment after they start: retry, as a scraper does.
      `for (let attempt = 1; ; attempt++) {
  try {
    const answer = await fetch(process.env.URL, { signal: AbortSignal.timeout(3000) });
    console.log(JSON.stringify({ status: answer.status, type: answer.headers.get('content-type'), body: await answer.text() }));
    break;
  } catch (error) {
    if (attempt === 30) throw error;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}`,
      { env: { URL: `${SERVICE_URL}:9464/metrics` } },
    );
    const metrics = JSON.parse(scrape.output.trim()) as { status: number; type: string; body: string };
    expect(metrics.status).toBe(200);
    expect(metrics.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metrics.body).toMatch(/^# TYPE http_request_duration_seconds histogram$/m);
    expect(metrics.body).toMatch(/^process_cpu_seconds_total \d/m);
  });

  it('items survive losing postgres-0: the StatefulSet recreates it on the same claim and every item reads back', async () => {
    const written: Item[] = [];
    for (let n = 0; n < 20; n++) {
      const answer = await cluster.http('POST', api('/api/items'), { name: `durable ${n}`, description: `#${n}` });
      expect(answer.status).toBe(201);
      written.push(answer.json<Item>());
    }
    const before = await cluster.json<Pod>(['-n', NS, 'get', 'pod', 'postgres-0']);

    await cluster.kubectl(['-n', NS, 'delete', 'pod', 'postgres-0', '--wait=true']);
    await cluster.until(
      'a new postgres-0 to be Ready',
      async () => {
        const pod = await cluster.json<Pod>(['-n', NS, 'get', 'pod', 'postgres-0']);
        return pod.metadata.uid !== before.metadata.uid && isReady(pod);
      },
      180_000,
      details,
    );
    await cluster.until(
      'the API to be ready again',
      async () => (await cluster.http('GET', api('/health/ready'))).status === 200,
    );

    for (const item of written) {
      const answer = await cluster.http('GET', api(`/api/items/${item.id}`));
      expect({ status: answer.status, item: answer.json<Item>() }).toMatchObject({ status: 200, item });
    }
  });

  it('NetworkPolicies: a pod outside the allowed set cannot open postgres-service:5432 or the metrics port; an API pod can reach PostgreSQL', async () => {
    const [apiPod] = (await apiPods()).filter(isReady);
    const fromApi = await cluster.run('kubectl', [
      ...['-n', NS, 'exec', apiPod!.metadata.name, '-c', 'api', '--'],
      ...['env', 'HOST=postgres-service', 'PORT=5432', 'node', '--input-type=module', '-e', TCP_PROBE],
    ]);
    expect(fromApi.stdout.trim()).toBe('open');

    // Same image, same namespace, restricted like every pod here, but not labelled as a client.
    // Blocked is a dropped connection (timeout) or one the firewall rejects (kube-router answers with a reset);
    // anything else (open, a DNS failure) is not what the policy should produce.
    const BLOCKED = /^(timeout|ECONNREFUSED)$/;
    const outsider = await runInPod(NS, 'outsider', TCP_PROBE, { env: { HOST: 'postgres-service', PORT: '5432' } });
    expect(outsider.output.trim()).toMatch(BLOCKED);
    // From another namespace: the metrics port only admits the monitoring namespace.
    const stranger = await runInPod('default', 'stranger', TCP_PROBE, {
      env: { HOST: `app-service.${NS}.svc.cluster.local`, PORT: '9464' },
    });
    expect(stranger.output.trim()).toMatch(BLOCKED);
  });

  it('the PodDisruptionBudget lets one API pod go and refuses a second eviction until it is back', async () => {
    const pods = (await apiPods()).filter(isReady);
    expect(pods.length).toBeGreaterThanOrEqual(2);
    const evict = (name: string) =>
      cluster.run('kubectl', ['create', '--raw', `/api/v1/namespaces/${NS}/pods/${name}/eviction`, '-f', '-'], {
        input: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: NS } }),
      });
    const first = await evict(pods[0]!.metadata.name);
    expect(first.code).toBe(0);
    const second = await evict(pods[1]!.metadata.name);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/disruption budget/i);
    const third = await cluster.until(
      'the evicted pod to be replaced, after which an eviction is allowed again',
      async () => {
        const ready = (await apiPods()).filter(isReady);
        if (ready.length < pods.length) return false;
        const result = await evict(ready.find((p) => p.metadata.name !== pods[0]!.metadata.name)!.metadata.name);
        return result.code === 0 ? result : false;
      },
      180_000,
      details,
    );
    expect(third.code).toBe(0);
    await cluster.until(
      'all API pods Ready again',
      async () => (await apiPods()).filter(isReady).length >= pods.length,
    );
  });

  it('a database outage turns the API pods NotReady within 10 s without restarting them, and Ready within 30 s of PostgreSQL being back', async () => {
    // Argo CD's self-heal would scale PostgreSQL straight back: the operator's first step is to pause it.
    await deployment.setAutoSync(false);
    try {
      const before = await apiPods();
      const restarts = (pods: Pod[]) =>
        pods.flatMap((p) => p.status.containerStatuses ?? []).reduce((sum, c) => sum + c.restartCount, 0);
      await cluster.kubectl(['-n', NS, 'scale', 'statefulset', 'postgres', '--replicas=0']);
      const started = Date.now();
      await cluster.until(
        'the postgres pod to be gone',
        async () => (await cluster.run('kubectl', ['-n', NS, 'get', 'pod', 'postgres-0'])).code !== 0,
      );
      await cluster.until(
        'every API pod to turn NotReady',
        async () => (await apiPods()).every((p) => !isReady(p)),
        60_000,
      );
      const notReadyAfter = Date.now() - started;

      await cluster.kubectl(['-n', NS, 'scale', 'statefulset', 'postgres', '--replicas=1']);
      await cluster.until(
        'postgres-0 Ready',
        async () => isReady(await cluster.json<Pod>(['-n', NS, 'get', 'pod', 'postgres-0'])),
        180_000,
        details,
      );
      const back = Date.now();
      await cluster.until('every API pod Ready again', async () => (await apiPods()).every(isReady), 120_000);
      const readyAfter = Date.now() - back;

      console.log(
        `database outage: API NotReady ${notReadyAfter} ms after the scale-down, Ready ${readyAfter} ms after postgres-0 was Ready again`,
      );
      expect(notReadyAfter).toBeLessThanOrEqual(10_000);
      expect(readyAfter).toBeLessThanOrEqual(30_000);
      expect(restarts(await apiPods())).toBe(restarts(before));
    } finally {
      await deployment.setAutoSync(true);
    }
  });

  it('the HPA reads real CPU from metrics-server and scales the API up under load', async () => {
    const start = await cluster.json<{ spec: { replicas: number } }>(['-n', NS, 'get', 'deployment', 'python-api']);
    await cluster.until(
      'the HPA to report a CPU utilisation from metrics-server',
      async () => {
        const hpa = await cluster.json<{
          status: { currentMetrics?: { resource?: { name: string; current: { averageUtilization?: number } } }[] };
        }>(['-n', NS, 'get', 'hpa', 'python-api']);
        return hpa.status.currentMetrics?.some(
          (m) => m.resource?.name === 'cpu' && m.resource.current.averageUtilization !== undefined,
        );
      },
      180_000,
      details,
    );
    const traffic = load('hpa-load', `${SERVICE_URL}/api/items?limit=50`, 180, 16);
    const scaled = await cluster.until(
      'the HPA to add API pods',
      async () => {
        const d = await cluster.json<{ spec: { replicas: number } }>(['-n', NS, 'get', 'deployment', 'python-api']);
        return d.spec.replicas > start.spec.replicas ? d.spec.replicas : false;
      },
      240_000,
      details,
    );
    console.log(`HPA: ${start.spec.replicas} -> ${scaled} replicas under load`);
    expect(scaled).toBeGreaterThan(start.spec.replicas);
    // The HPA owns the replica count: Argo CD neither reverts it nor reports drift (ignoreDifferences).
    await new Promise((resolve) => setTimeout(resolve, 15_000));
    const after = await cluster.json<{ spec: { replicas: number } }>(['-n', NS, 'get', 'deployment', 'python-api']);
    expect(after.spec.replicas).toBeGreaterThan(start.spec.replicas);
    expect((await deployment.application()).sync?.status).toBe('Synced');
    await traffic;
  });

  it('a release committed to Git rolls out under steady load with zero failed requests and never fewer than 75% of the pods Ready', async () => {
    const { id } = (await cluster.http('POST', api('/api/items'), { name: 'read during the release' })).json<Item>();
    const release = path.join(deployment.fork.dir, 'gitops/overlays/dev/release/kustomization.yaml');
    const text = await readFile(release, 'utf8');
    const current = /newTag: "([^"]+)"/.exec(text)?.[1];
    expect(current).toBeDefined();
    const next = `${current}-release`;
    // The new image: what CI would push under the new tag (same content, new name in containerd).
    for (const name of ['python-api', deployment.migrateImage]) {
      await cluster.tagImage(`${name}:${current}`, `${name}:${next}`);
    }

    // Steady, not saturating: 4 clients at 4 requests/s each stay under the rate limit (600/min per
    // client and pod) and the HPA's CPU target, so the replica count is the rollout's alone.
    const traffic = load('release-load', `${SERVICE_URL}/api/items/${id}`, 150, 4, 4);
    await new Promise((resolve) => setTimeout(resolve, 15_000));
    await writeFile(release, text.replaceAll(`newTag: "${current}"`, `newTag: "${next}"`));
    await deployment.git(
      '-c',
      'user.name=test',
      '-c',
      'user.email=test@example.invalid',
      'commit',
      '-qam',
      `release ${next}`,
    );

    let lowest = Number.POSITIVE_INFINITY;
    await cluster.until(
      `the Deployment to run ${next} on every pod`,
      async () => {
        const d = await cluster.json<{
          spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
          status: { readyReplicas?: number; updatedReplicas?: number; replicas?: number };
        }>(['-n', NS, 'get', 'deployment', 'python-api']);
        lowest = Math.min(lowest, (d.status.readyReplicas ?? 0) / d.spec.replicas);
        return (
          d.spec.template.spec.containers[0]!.image.endsWith(`:${next}`) &&
          d.status.updatedReplicas === d.spec.replicas &&
          d.status.replicas === d.spec.replicas &&
          d.status.readyReplicas === d.spec.replicas
        );
      },
      240_000,
      details,
    );
    const summary = await traffic;
    console.log(`release under load: ${JSON.stringify(summary)}, lowest Ready share ${lowest}`);
    expect(summary.requests).toBeGreaterThan(100);
    expect({ failed: summary.failed, failures: summary.failures }).toEqual({ failed: 0, failures: {} });
    expect(lowest).toBeGreaterThanOrEqual(0.75);
    await cluster.until('Argo CD to report the release Synced and Healthy', converged, 120_000, details);
  });

  it('drift is healed: a Service deleted by hand is recreated by Argo CD and routes again', async () => {
    const before = await cluster.json<{ metadata: { uid: string } }>(['-n', NS, 'get', 'service', 'app-service']);
    await cluster.kubectl(['-n', NS, 'delete', 'service', 'app-service']);
    const healed = await cluster.until(
      'Argo CD to recreate app-service',
      async () => {
        const result = await cluster.run('kubectl', ['-n', NS, 'get', 'service', 'app-service', '-o', 'json']);
        if (result.code !== 0) return false;
        const service = JSON.parse(result.stdout) as { metadata: { uid: string }; spec: { clusterIP: string } };
        return service.metadata.uid !== before.metadata.uid ? service : false;
      },
      120_000,
      details,
    );
    clusterIp = healed.spec.clusterIP;
    await cluster.until(
      'the recreated Service to route',
      async () => (await cluster.http('GET', api('/health/ready'))).status === 200,
    );
    await cluster.until('Argo CD to report Synced and Healthy', converged, 120_000, details);
  });
});
