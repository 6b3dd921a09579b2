// Lookups over rendered manifests shared by the k8s suites.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { find, type KubeObject } from '../support/kube-apiserver.js';
import type { RenderTree } from '../support/overlays.js';

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: unknown[];
  envFrom?: unknown[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[]; add?: string[] } };
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: unknown } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface Probe {
  httpGet?: { path: string; port: string | number };
  exec?: { command: string[] };
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: Record<string, unknown>;
  volumes?: {
    name: string;
    configMap?: { name: string };
    secret?: { secretName: string };
    emptyDir?: unknown;
    persistentVolumeClaim?: { claimName: string };
  }[];
  restartPolicy?: string;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds?: number;
  [key: string]: unknown;
}

export interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'Job', 'DaemonSet', 'CronJob'];

/** Workloads with their pod template. */
export function workloads(objects: KubeObject[]): { object: KubeObject; template: PodTemplate }[] {
  return objects
    .filter((o) => WORKLOAD_KINDS.includes(o.kind))
    .map((object) => {
      const spec = object.spec as { template?: PodTemplate; jobTemplate?: { spec: { template: PodTemplate } } };
      const template = spec.template ?? spec.jobTemplate?.spec.template;
      if (!template) throw new Error(`${object.kind}/${object.metadata.name} has no pod template`);
      return { object, template };
    });
}

export const id = (o: KubeObject) => `${o.kind}/${o.metadata.name}`;

/** Every container of every pod template, with where it lives. */
export function allContainers(objects: KubeObject[]) {
  return workloads(objects).flatMap(({ object, template }) => [
    ...template.spec.containers.map((container) => ({ owner: object, template, container, init: false })),
    ...(template.spec.initContainers ?? []).map((container) => ({ owner: object, template, container, init: true })),
  ]);
}

/** Containers whose image is not pinned as tag@sha256 (what a moved tag could change). */
export function unpinnedImages(objects: KubeObject[]): string[] {
  return allContainers(objects)
    .map(({ owner, container }) => `${id(owner)} ${container.name}: ${container.image}`)
    .filter((line) => !/:[^/:@]+@sha256:[0-9a-f]{64}$/.test(line));
}

export { find };

/** The pod spec of the Jobs a CronJob creates. */
export function cronJobPodSpec(objects: KubeObject[], name: string): PodSpec {
  const spec = find(objects, 'CronJob', name).spec as { jobTemplate: { spec: { template: PodTemplate } } };
  return spec.jobTemplate.spec.template.spec;
}

/**
 * Staging rendered with the backups' object-store option added after the backup component, as
 * docs/backup-restore.md ("Object store") tells an operator to do (in the tree's copy of gitops/).
 */
export async function renderStagingWithObjectStore(tree: RenderTree): Promise<KubeObject[]> {
  const kustomization = path.join(tree.dir, 'gitops', 'overlays', 'staging', 'kustomization.yaml');
  const text = await readFile(kustomization, 'utf8');
  const backup = '  - ../../components/backup\n';
  if (!text.includes(backup)) throw new Error(`${kustomization} does not list ${backup.trim()}`);
  await writeFile(kustomization, text.replace(backup, `${backup}  - ../../components/backup-object-store\n`));
  return tree.objects('staging');
}

/** ConfigMaps carry a content hash suffix: find by the generator's name. */
export function findGenerated(objects: KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && new RegExp(`^${name}(-[a-z0-9]{10})?$`).test(o.metadata.name));
  if (!found) throw new Error(`${kind}/${name}(-hash) is not rendered`);
  return found;
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** Kubernetes label selector semantics (an empty selector matches everything). */
export function selects(
  selector: LabelSelector | Record<string, string> | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return false;
  const isStructured = 'matchLabels' in selector || 'matchExpressions' in selector;
  const matchLabels =
    (isStructured ? (selector as LabelSelector).matchLabels : (selector as Record<string, string>)) ?? {};
  const expressions = isStructured ? ((selector as LabelSelector).matchExpressions ?? []) : [];
  for (const [key, value] of Object.entries(matchLabels)) if (labels[key] !== value) return false;
  for (const e of expressions) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    if (e.operator === 'In' && !(has && e.values?.includes(value as string))) return false;
    if (e.operator === 'NotIn' && has && e.values?.includes(value as string)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** The decoded key/value data of a ConfigMap or Secret. */
export function dataOf(object: KubeObject): Record<string, string> {
  const out: Record<string, string> = {};
  const data = (object.data ?? {}) as Record<string, string>;
  for (const [key, value] of Object.entries(data)) {
    out[key] = object.kind === 'Secret' ? Buffer.from(value, 'base64').toString('utf8') : value;
  }
  Object.assign(out, (object.stringData ?? {}) as Record<string, string>);
  return out;
}

export function annotations(object: KubeObject): Record<string, string> {
  return (object.metadata.annotations ?? {}) as Record<string, string>;
}

export function labels(object: KubeObject): Record<string, string> {
  return (object.metadata.labels ?? {}) as Record<string, string>;
}

/** Kubernetes quantity -> number (cores for CPU, bytes for memory). */
export function quantity(value: string | number): number {
  const text = String(value);
  const match = /^([0-9.]+)([a-zA-Z]*)$/.exec(text);
  if (!match) throw new Error(`not a quantity: ${text}`);
  const factors: Record<string, number> = {
    '': 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
  };
  const factor = factors[match[2] ?? ''];
  if (factor === undefined) throw new Error(`unknown unit in ${text}`);
  return Number(match[1]) * factor;
}
