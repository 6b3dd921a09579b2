// The Argo CD suites' view of Applications and AppProjects, and the lookups they share.
import type { KubeObject } from '../support/kube-apiserver.js';
import { readYaml } from '../support/repository.js';

export { find } from '../support/kube-apiserver.js';
export { ENVIRONMENTS } from '../support/overlays.js';
export { readYaml, render, versions } from '../support/repository.js';

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
