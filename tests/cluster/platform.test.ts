// The platform under the product: a running single-node cluster from scripts/cluster/up.sh
// (read from $PYTHON_API_CLUSTER_DIR/cluster.env) schedules and runs real pods, routes Services
// through kube-proxy, resolves names through its DNS, provisions volumes, serves resource metrics
// and enforces NetworkPolicies. Every check uses real pods from the local busybox image.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { RealCluster } from '../support/real-cluster.js';
import { REPO_ROOT } from '../support/tools.js';

jest.setTimeout(240_000);

interface Condition {
  type: string;
  status: string;
}
interface Pod {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status: { phase: string; podIP?: string; conditions?: Condition[]; containerStatuses?: { restartCount: number }[] };
}
interface Service {
  spec: { clusterIP: string; ports: { nodePort?: number }[] };
}
interface MetricsList {
  items: {
    metadata: { name: string };
    usage?: { cpu: string; memory: string };
    containers?: { name: string; usage: { cpu: string; memory: string } }[];
  }[];
}

const pinnedKubernetes = /^KUBERNETES_VERSION=(\S+)$/m.exec(
  readFileSync(path.join(REPO_ROOT, 'tools/versions.env'), 'utf8'),
)?.[1];
const ns = `platform-${randomBytes(3).toString('hex')}`;
let cluster: RealCluster;

const restricted = {
  runAsNonRoot: true,
  runAsUser: 65534,
  runAsGroup: 65534,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};
const small = { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '200m', memory: '32Mi' } };

/** A busybox container running `script` with the restricted security context. */
function container(name: string, script: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    image: cluster.env.busyboxImage,
    imagePullPolicy: 'Never',
    command: ['/bin/sh', '-c', script],
    securityContext: restricted,
    resources: small,
    ...extra,
  };
}

/** A long-running client pod the tests exec wget/nslookup in. */
function clientPod(name: string, role: string) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { role } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [container('client', 'exec sleep 3600')],
    },
  };
}

const ready = (pod: Pod) => pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

async function pods(selector: string): Promise<Pod[]> {
  return (await cluster.json<{ items: Pod[] }>(['get', 'pods', '-n', ns, '-l', selector])).items;
}

/**
 * GET url from a client pod; the response body, or null when the request failed. HTTP/1.0 over
 * busybox nc: Debian 12's static busybox wget segfaults (exit 139) on every request.
 */
async function fetchFrom(pod: string, url: string, timeoutSeconds = 3): Promise<string | null> {
  const { hostname, port, pathname } = new URL(url);
  const request = `printf 'GET ${pathname} HTTP/1.0\\r\\n\\r\\n' | nc -w ${timeoutSeconds} ${hostname} ${port || 80}`;
  const result = await cluster.exec(ns, pod, ['sh', '-c', request]);
  const [head = '', ...body] = result.stdout.split('\r\n\r\n');
  return result.code === 0 && head.startsWith('HTTP/1.1 200') ? body.join('\r\n\r\n').trim() : null;
}

beforeAll(async () => {
  cluster = new RealCluster();
  await cluster.kubectl(['create', 'namespace', ns]);
  await cluster.until(
    'the default ServiceAccount',
    async () => (await cluster.kubectlResult(['get', 'serviceaccount', 'default', '-n', ns])).code === 0,
  );
  await cluster.apply([
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: ns },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              container('httpd', 'echo "$HOSTNAME" > /www/index.html && exec httpd -f -p 8080 -h /www', {
                ports: [{ name: 'http', containerPort: 8080 }],
                readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 2 },
                volumeMounts: [{ name: 'www', mountPath: '/www' }],
              }),
            ],
            volumes: [{ name: 'www', emptyDir: { sizeLimit: '1Mi' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: ns },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web-nodeport', namespace: ns },
      spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] },
    },
    clientPod('client-allowed', 'allowed'),
    clientPod('client-other', 'other'),
  ]);
  await cluster.until(
    'the web pods and both clients Ready',
    async () => {
      const all = await pods('app=web');
      const clients = await pods('role');
      return all.length === 2 && all.every(ready) && clients.length === 2 && clients.every(ready);
    },
    180_000,
    () => cluster.explain(ns),
  );
});

afterAll(async () => {
  await cluster?.kubectlResult(['delete', 'namespace', ns, '--wait=false']);
});

describe('the real single-node cluster', () => {
  it('has its one node Ready, running the pinned kubelet', async () => {
    const node = await cluster.json<{
      status: {
        conditions: Condition[];
        nodeInfo: { kubeletVersion: string };
        addresses: { type: string; address: string }[];
      };
    }>(['get', 'node', cluster.env.nodeName]);
    expect(node.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(node.status.nodeInfo.kubeletVersion).toBe(pinnedKubernetes);
    expect(node.status.addresses).toContainEqual({ type: 'InternalIP', address: cluster.env.nodeIp });
  });

  it("runs a Deployment's pods: Running, Ready, with pod addresses from the pod range", async () => {
    const web = await pods('app=web');
    expect(web).toHaveLength(2);
    for (const pod of web) {
      expect(pod.status.phase).toBe('Running');
      expect(ready(pod)).toBe(true);
      expect(pod.spec.nodeName).toBe(cluster.env.nodeName);
      expect(pod.status.podIP).toMatch(/^198\.18\.1\.\d+$/);
    }
    const deployment = await cluster.json<{ status: { availableReplicas: number } }>([
      'get',
      'deployment',
      'web',
      '-n',
      ns,
    ]);
    expect(deployment.status.availableReplicas).toBe(2);
  });

  it('routes a ClusterIP Service to its pods through kube-proxy, from a pod', async () => {
    const service = await cluster.json<Service>(['get', 'service', 'web', '-n', ns]);
    expect(service.spec.clusterIP).toMatch(/^198\.19\./);
    const names = (await pods('app=web')).map((pod) => pod.metadata.name);
    const answers = new Set<string>();
    // kube-proxy spreads connections at random: both endpoints answer within a few tries.
    for (let i = 0; i < 30 && answers.size < 2; i++) {
      const body = await fetchFrom('client-allowed', `http://${service.spec.clusterIP}/`);
      expect(body).not.toBeNull();
      answers.add(body!);
    }
    expect([...answers].sort()).toEqual(names.sort());
  });

  it('routes a NodePort on the node IP, from a pod and from the host through the loopback forwarder', async () => {
    const service = await cluster.json<Service>(['get', 'service', 'web-nodeport', '-n', ns]);
    const nodePort = service.spec.ports[0]!.nodePort!;
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    const names = (await pods('app=web')).map((pod) => pod.metadata.name);

    expect(names).toContain(await fetchFrom('client-allowed', `http://${cluster.env.nodeIp}:${nodePort}/`));

    const hostAddress = await cluster.exposeNodePort(nodePort);
    expect(hostAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    const response = await fetch(`http://${hostAddress}/`, { signal: AbortSignal.timeout(10_000) });
    expect(response.status).toBe(200);
    expect(names).toContain((await response.text()).trim());
  });

  it("resolves a Service's name through the cluster DNS, and only names the cluster knows", async () => {
    const service = await cluster.json<Service>(['get', 'service', 'web', '-n', ns]);
    const lookup = await cluster.exec(ns, 'client-allowed', ['nslookup', `web.${ns}.svc.cluster.local`]);
    expect(lookup.code).toBe(0);
    expect(lookup.stdout).toContain(`Server:\t\t${cluster.env.clusterDns}`);
    expect(lookup.stdout).toMatch(new RegExp(`Address: ${service.spec.clusterIP.replaceAll('.', '\\.')}\\b`));
    // The pod's search path completes the short name, as the API's DATABASE_URL relies on.
    expect(await fetchFrom('client-allowed', 'http://web/')).not.toBeNull();
    const unknown = await cluster.exec(ns, 'client-allowed', ['nslookup', `missing.${ns}.svc.cluster.local`]);
    expect(unknown.code).not.toBe(0);
  });

  it('binds a 5Gi claim dynamically through local-path-provisioner; data written by one pod is read by the next', async () => {
    const classes = await cluster.json<{
      items: { metadata: { name: string; annotations?: Record<string, string> }; provisioner: string }[];
    }>(['get', 'storageclass']);
    const defaults = classes.items.filter(
      (c) => c.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true',
    );
    expect(defaults.map((c) => [c.metadata.name, c.provisioner])).toEqual([
      [cluster.env.storageClass, 'rancher.io/local-path'],
    ]);

    const token = randomBytes(8).toString('hex');
    const podUsing = (name: string, script: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns },
      spec: {
        restartPolicy: 'Never',
        containers: [container('main', script, { volumeMounts: [{ name: 'data', mountPath: '/data' }] })],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }],
      },
    });
    // Like the StatefulSet's claim template: no storageClassName, so the default class serves it.
    await cluster.apply([
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'data', namespace: ns },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } } },
      },
      podUsing('writer', `echo ${token} > /data/token`),
    ]);
    const phaseOf = async (pod: string) => (await cluster.json<Pod>(['get', 'pod', pod, '-n', ns])).status.phase;
    await cluster.until(
      'the writer pod to succeed',
      async () => (await phaseOf('writer')) === 'Succeeded',
      180_000,
      () => cluster.explain(ns),
    );

    const claim = await cluster.json<{
      spec: { volumeName: string; storageClassName: string };
      status: { phase: string; capacity: { storage: string } };
    }>(['get', 'pvc', 'data', '-n', ns]);
    expect(claim.status.phase).toBe('Bound');
    expect(claim.spec.storageClassName).toBe(cluster.env.storageClass);
    expect(claim.status.capacity.storage).toBe('5Gi');
    const volume = await cluster.json<{ metadata: { annotations: Record<string, string> } }>([
      'get',
      'pv',
      claim.spec.volumeName,
    ]);
    expect(volume.metadata.annotations['pv.kubernetes.io/provisioned-by']).toBe('rancher.io/local-path');

    await cluster.kubectl(['delete', 'pod', 'writer', '-n', ns, '--wait=true']);
    await cluster.apply([podUsing('reader', 'cat /data/token')]);
    await cluster.until(
      'the reader pod to succeed',
      async () => (await phaseOf('reader')) === 'Succeeded',
      120_000,
      () => cluster.explain(ns),
    );
    expect((await cluster.kubectl(['logs', 'reader', '-n', ns])).trim()).toBe(token);
  });

  it('serves node and pod metrics through metrics.k8s.io (metrics-server behind the aggregation layer)', async () => {
    const nodes = await cluster.until(
      'node metrics',
      async () => {
        const list = JSON.parse(
          await cluster.kubectl(['get', '--raw', '/apis/metrics.k8s.io/v1beta1/nodes']),
        ) as MetricsList;
        return list.items.length > 0 ? list : null;
      },
      120_000,
    );
    expect(nodes.items.map((item) => item.metadata.name)).toEqual([cluster.env.nodeName]);
    expect(nodes.items[0]!.usage!.cpu).toMatch(/^\d+n?$/);
    expect(nodes.items[0]!.usage!.memory).toMatch(/^\d+Ki$/);

    const webPods = (await pods('app=web')).map((pod) => pod.metadata.name).sort();
    const podMetrics = await cluster.until(
      'pod metrics for both web pods',
      async () => {
        const list = JSON.parse(
          await cluster.kubectl(['get', '--raw', `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods`]),
        ) as MetricsList;
        const names = list.items.map((item) => item.metadata.name);
        return webPods.every((name) => names.includes(name)) ? list : null;
      },
      150_000,
    );
    for (const item of podMetrics.items.filter((i) => webPods.includes(i.metadata.name))) {
      expect(item.containers?.map((c) => c.name)).toEqual(['httpd']);
      expect(item.containers![0]!.usage.memory).toMatch(/^\d+Ki$/);
    }
  });

  it('enforces NetworkPolicies (kube-router): default deny blocks a pod from a Service, an allow policy lets another through', async () => {
    const { spec } = await cluster.json<Service>(['get', 'service', 'web', '-n', ns]);
    const url = `http://${spec.clusterIP}/`;
    // Both clients reach the Service before any policy exists.
    expect(await fetchFrom('client-other', url)).not.toBeNull();
    expect(await fetchFrom('client-allowed', url)).not.toBeNull();

    await cluster.apply([
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'default-deny', namespace: ns },
        spec: { podSelector: {}, policyTypes: ['Ingress'] },
      },
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'web-from-allowed', namespace: ns },
        spec: {
          podSelector: { matchLabels: { app: 'web' } },
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ podSelector: { matchLabels: { role: 'allowed' } } }], ports: [{ port: 8080 }] }],
        },
      },
    ]);
    await cluster.until(
      'the default-deny policy to block client-other',
      async () => (await fetchFrom('client-other', url, 2)) === null,
      60_000,
    );
    // Several tries: each may land on either web pod, and every one must be blocked / allowed.
    for (let i = 0; i < 4; i++) {
      expect(await fetchFrom('client-other', url, 2)).toBeNull();
      expect(await fetchFrom('client-allowed', url)).not.toBeNull();
    }
  });
});
