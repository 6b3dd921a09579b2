// Renders the gitops overlays the way Argo CD's repo-server does (kustomize build
// --enable-alpha-plugins --enable-exec, KSOPS decrypting the secrets), without the team's
// private keys: the overlays are copied into a temp dir, an ephemeral age key per
// environment replaces the recipients, and the project's own scripts/secrets create
// fresh encrypted secrets there. Everything else is byte-for-byte the committed tree.
import { afterAll, beforeAll } from '@jest/globals';
import { chmod, cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseObjects, type KubeObject } from './kube-apiserver.js';
import { KSOPS_NOTE, KSOPS_STAND_IN_IN_USE, note } from './notes.js';
import { REPO_ROOT, TOOLS_BIN, runOk, tool, toolsEnv } from './tools.js';

export const ENVIRONMENTS = ['dev', 'staging', 'prod'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

/** The flags Argo CD's repo-server passes to kustomize for KSOPS (kustomize.buildOptions). */
export const KUSTOMIZE_BUILD_FLAGS = ['--enable-alpha-plugins', '--enable-exec'] as const;

export interface RenderTree {
  /** Root of the copy: gitops/, scripts/secrets/, .sops.yaml. */
  readonly dir: string;
  /** Where the ephemeral age keys are (SOPS_AGE_KEY_DIR for scripts/secrets). */
  readonly keyDir: string;
  /** Environment for running scripts/secrets and sops inside the copy. */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** `kustomize build` output of an overlay of the copy. */
  build(environment: Environment): Promise<string>;
  /** The same, parsed. */
  objects(environment: Environment): Promise<KubeObject[]>;
  /** Every environment's objects. */
  objectsByEnvironment(): Promise<Map<Environment, KubeObject[]>>;
  cleanup(): Promise<void>;
}

const KSOPS_STAND_IN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ksops-exec.mjs');

export async function prepareRenderTree(): Promise<RenderTree> {
  tool('kustomize');
  tool('sops');
  tool('age-keygen');
  tool('yq');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gitops-render-'));
  const keyDir = path.join(dir, 'keys');
  const binDir = path.join(dir, 'bin');
  await cp(path.join(REPO_ROOT, 'gitops'), path.join(dir, 'gitops'), { recursive: true });
  await cp(path.join(REPO_ROOT, 'scripts', 'secrets'), path.join(dir, 'scripts', 'secrets'), { recursive: true });
  await cp(path.join(REPO_ROOT, '.sops.yaml'), path.join(dir, '.sops.yaml'));

  // ksops on PATH, as in the repo-server: the real binary when installed, else the stand-in.
  if (KSOPS_STAND_IN_IN_USE) {
    note(KSOPS_NOTE);
    await cp(KSOPS_STAND_IN, path.join(binDir, 'ksops-exec.mjs'));
    await writeFile(
      path.join(binDir, 'ksops'),
      `#!/bin/sh\nNODE_PATH='${path.join(REPO_ROOT, 'node_modules')}' exec '${process.execPath}' '${KSOPS_STAND_IN}' "$@"\n`,
    );
    await chmod(path.join(binDir, 'ksops'), 0o755);
  }

  const env = (extra: NodeJS.ProcessEnv = {}) =>
    toolsEnv({
      SOPS_AGE_KEY_DIR: keyDir,
      ...extra,
      PATH: `${binDir}${path.delimiter}${TOOLS_BIN}${path.delimiter}${process.env.PATH ?? ''}`,
    });

  const script = (name: string) => path.join(dir, 'scripts', 'secrets', name);
  for (const environment of ENVIRONMENTS) {
    // The committed files are encrypted to keys this machine does not have.
    for (const name of ['postgres-secret', 'app-secret']) {
      await rm(path.join(dir, 'gitops', 'overlays', environment, 'secrets', `${name}.sops.yaml`), { force: true });
    }
    await runOk('bash', [script('set-recipients.sh'), environment], { cwd: dir, env: env() });
    await runOk('bash', [script('new-secrets.sh'), environment], { cwd: dir, env: env() });
  }

  const build = (environment: Environment) =>
    runOk(tool('kustomize'), ['build', ...KUSTOMIZE_BUILD_FLAGS, path.join(dir, 'gitops', 'overlays', environment)], {
      cwd: dir,
      env: env({ SOPS_AGE_KEY_FILE: path.join(keyDir, `python-api-${environment}.agekey`) }),
    });

  return {
    dir,
    keyDir,
    env,
    build,
    objects: async (environment) => parseObjects(await build(environment)),
    objectsByEnvironment: async () =>
      new Map(await Promise.all(ENVIRONMENTS.map(async (e) => [e, parseObjects(await build(e))] as const))),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * For a test file that reads every overlay: renders them once before its tests (beforeAll) and
 * removes the copy after them. `objectsOf(env)` is what that overlay rendered; `tree()` the copy.
 */
export function renderEveryOverlayOnce() {
  let tree: RenderTree | undefined;
  let rendered = new Map<Environment, KubeObject[]>();
  beforeAll(async () => {
    tree = await prepareRenderTree();
    rendered = await tree.objectsByEnvironment();
  }, 120_000);
  afterAll(async () => {
    await tree?.cleanup();
  });
  return {
    objectsOf: (environment: Environment) => rendered.get(environment) ?? [],
    tree: () => {
      if (!tree) throw new Error('the overlays are rendered in beforeAll: read them inside a test');
      return tree;
    },
  };
}
