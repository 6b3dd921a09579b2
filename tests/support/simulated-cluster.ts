// A whole Kubernetes control plane with simulated nodes: the kube-apiserver harness plus the
// real kube-controller-manager and kube-scheduler (the pinned builds), and kwok playing the
// kubelet of one Minikube-sized node (pods are scheduled, then reported Running and Ready; pods
// of a Job complete). Deployments roll out, StatefulSets bind their claims, Jobs finish, the
// garbage collector cascades deletions, all by the real controllers. No container ever runs.
//
// What a Minikube cluster has and this one does not: a storage provisioner (the caller creates
// PersistentVolumes), an ingress controller, metrics-server, cert-manager. Tests that need the
// status those write say so and write it themselves.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startKubeApiServer, type KubeApiServer } from './kube-apiserver.js';
import { spawnLogged, stopProcess, tail } from './processes.js';
import { ASSETS_DIR, tool } from './tools.js';
import { waitFor } from './wait.js';

export interface SimulatedCluster {
  readonly server: KubeApiServer;
  /** The one node: by default 4 CPUs, 8 GiB, as `minikube start --cpus=4 --memory=8g` gives. */
  readonly nodeName: string;
  /** The last lines of a component's log (kube-controller-manager, kube-scheduler, kwok). */
  log(component: string, lines?: number): string;
  stop(): Promise<void>;
}

export interface NodeSize {
  cpu: string;
  memory: string;
}

export interface SimulatedClusterOptions {
  /** kube-controller-manager controllers to leave off, e.g. 'horizontal-pod-autoscaler-controller'. */
  disabledControllers?: readonly string[];
  /** The node's capacity; Minikube's (`--cpus=4 --memory=8g`) when omitted. */
  node?: NodeSize;
}

export const NODE_NAME = 'minikube';

export async function startSimulatedCluster(options: SimulatedClusterOptions = {}): Promise<SimulatedCluster> {
  const server = await startKubeApiServer();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'simulated-cluster-'));
  const children: ChildProcess[] = [];
  const logFile = (component: string) => path.join(dir, `${component}.log`);
  const launch = (component: string, args: string[]) => {
    children.push(spawnLogged(tool(component), args, logFile(component)));
  };
  const log = (component: string, lines = 40) => tail(logFile(component), lines);

  const disabled = (options.disabledControllers ?? []).map((name) => `,-${name}`).join('');
  launch('kube-controller-manager', [
    `--kubeconfig=${server.kubeconfig}`,
    '--leader-elect=false',
    // No HTTPS endpoint: nothing scrapes or probes it here.
    '--secure-port=0',
    `--controllers=*${disabled}`,
    // Kubernetes' own defaults assume a cloud; one node needs no CIDR allocation.
    '--allocate-node-cidrs=false',
    '--v=1',
  ]);
  launch('kube-scheduler', [`--kubeconfig=${server.kubeconfig}`, '--leader-elect=false', '--secure-port=0', '--v=1']);
  // kwok with the stages kwokctl uses (.tools/assets/kwok-stages): the node heartbeats through a
  // Lease, a scheduled pod is Running and Ready at once, a Job's pod then Succeeded, a deleted pod
  // goes away. Naming the file also keeps a ~/.kwok/kwok.yaml on the machine out of it.
  launch('kwok', [
    `--kubeconfig=${server.kubeconfig}`,
    '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
    '--node-ip=10.0.2.15',
    '--cidr=10.244.0.0/24',
    `--config=${path.join(ASSETS_DIR, 'kwok-stages', 'stages.yaml')}`,
    '--node-lease-duration-seconds=40',
  ]);

  const { cpu, memory } = options.node ?? { cpu: '4', memory: '8Gi' };
  await server.apply({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: NODE_NAME,
      annotations: { 'kwok.x-k8s.io/node': 'fake' },
      labels: {
        'kubernetes.io/hostname': NODE_NAME,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/control-plane': '',
      },
    },
    spec: {},
    status: {
      capacity: { cpu, memory, pods: '110', 'ephemeral-storage': '30Gi' },
      allocatable: { cpu, memory, pods: '110', 'ephemeral-storage': '30Gi' },
    },
  });

  const stop = async () => {
    await Promise.all(children.map(stopProcess));
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };

  // Ready when kwok reports the node Ready (the scheduler ignores NotReady nodes).
  try {
    await waitFor(
      `kwok to report node ${NODE_NAME} Ready`,
      async () => {
        const node = await server.request('GET', `/api/v1/nodes/${NODE_NAME}`);
        const conditions =
          (node.body as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions ?? [];
        return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
      },
      {
        timeoutMs: 60_000,
        explain: () => log('kwok'),
        abortIf() {
          const exited = children.find((child) => child.exitCode !== null);
          if (!exited) return undefined;
          const name = path.basename(String(exited.spawnfile));
          return `${name} exited with ${exited.exitCode}:\n${log(name)}`;
        },
      },
    );
  } catch (error) {
    await stop();
    throw error;
  }

  return { server, nodeName: NODE_NAME, log, stop };
}
