// Rendering and lookups shared by the Argo CD and monitoring suites.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { parseObjects, type KubeObject } from '../support/kube-apiserver.js';
import { REPO_ROOT, runOk, tool } from '../support/tools.js';

export { find } from '../support/kube-apiserver.js';
export { ENVIRONMENTS } from '../support/overlays.js';

const rendered = new Map<string, Promise<KubeObject[]>>();

/**
 * `kustomize build` of a folder of this repository (no plugins: nothing here uses KSOPS).
 * Cached per test file: argocd/ alone is 2 MB of upstream YAML. Callers must not mutate.
 */
export function render(dir: string): Promise<KubeObject[]> {
  let objects = rendered.get(dir);
  if (!objects) {
    objects = runOk(tool('kustomize'), ['build', path.resolve(REPO_ROOT, dir)]).then(parseObjects);
    rendered.set(dir, objects);
  }
  return objects;
}

/** tools/versions.env as a map. */
export function versions(): Record<string, string> {
  const text = readFileSync(path.join(REPO_ROOT, 'tools', 'versions.env'), 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .map((line) => /^([A-Z0-9_]+)=(\S+)/.exec(line.trim()))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => [match[1], match[2]]),
  ) as Record<string, string>;
}

export function readYaml<T = unknown>(file: string): T {
  return parse(readFileSync(path.join(REPO_ROOT, file), 'utf8')) as T;
}

export interface ApplicationSource {
  repoURL: string;
  targetRevision: string;
  path?: string;
  chart?: string;
  ref?: string;
  helm?: { releaseName?: string; valueFiles?: string[]; valuesObject?: unknown };
}

export interface Application extends KubeObject {
  spec: {
    project: string;
    source?: ApplicationSource;
    sources?: ApplicationSource[];
    destination: { server?: string; name?: string; namespace: string };
    syncPolicy?: {
      automated?: { prune?: boolean; selfHeal?: boolean };
      syncOptions?: string[];
    };
    ignoreDifferences?: { group?: string; kind: string; name?: string; jsonPointers?: string[] }[];
    info?: { name: string; value: string }[];
  };
}

export interface AppProject extends KubeObject {
  spec: {
    sourceRepos?: string[];
    destinations?: { server?: string; name?: string; namespace: string }[];
    clusterResourceWhitelist?: { group: string; kind: string }[];
    namespaceResourceWhitelist?: { group: string; kind: string }[];
  };
}

export const isApplication = (object: KubeObject): object is Application => object.kind === 'Application';

/** Every source of an Application, single- or multi-source. */
export function sourcesOf(app: Application): ApplicationSource[] {
  return app.spec.sources ?? (app.spec.source ? [app.spec.source] : []);
}

/** The repository URL and revision every Application takes from argocd/repository. */
export function repository(): { url: string; revision: string } {
  const config = readYaml<{ data: { url: string; revision: string } }>('argocd/repository/repository.yaml');
  return config.data;
}

export function wave(object: KubeObject): number {
  const annotations = (object.metadata.annotations ?? {}) as Record<string, string>;
  return Number(annotations['argocd.argoproj.io/sync-wave'] ?? '0');
}
