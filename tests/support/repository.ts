// Reading this repository's files the way the suites need them: kustomize renderings, YAML files,
// tools/versions.env. Shared by the Argo CD, monitoring and workflow suites.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { parseObjects, type KubeObject } from './kube-apiserver.js';
import { REPO_ROOT, runOk, tool } from './tools.js';

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
