// Proves the Tiltfile without a cluster: the pinned tilt evaluates it (`tilt alpha
// tiltfile-result`, the Tiltfile loader `tilt up` uses) against a kubeconfig whose `minikube`
// context points nowhere, and the JSON it prints is checked: images and live-update steps,
// every object of the dev overlay, resources, dependencies, port forwards and buttons.
// The dev secrets are re-created in a copy of the repository with an ephemeral age key
// (tests/support/overlays.ts), so the decryption really runs.
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { prepareRenderTree, type RenderTree } from '../support/overlays.js';
import type { KubeObject } from '../support/kube-apiserver.js';
import { REPO_ROOT, run, tool, toolsEnv, type RunResult } from '../support/tools.js';
import { parseDockerfile } from './lib/dockerfile.js';
import {
  imageTargets,
  k8sObjects,
  labels,
  links,
  liveUpdate,
  localResources,
  manifestNames,
  portForwards,
  resourceDeps,
  type TiltfileResult,
} from './lib/tilt.js';
import { KSOPS_TITLE } from '../support/notes.js';

jest.setTimeout(300_000);

let tree: RenderTree;
let home: string;
let result: TiltfileResult;
let overlay: KubeObject[];

/** The repository's Tilt-relevant files, in the copy whose dev secrets the test can decrypt. */
async function addWorkspace(dir: string): Promise<void> {
  for (const file of ['Tiltfile', 'Dockerfile', '.dockerignore'])
    await cp(path.join(REPO_ROOT, file), path.join(dir, file));
  await cp(path.join(REPO_ROOT, 'scripts', 'dev'), path.join(dir, 'scripts', 'dev'), { recursive: true });
  for (const entry of [
    'apps',
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'tsconfig.build.json',
    'prisma.config.ts',
  ]) {
    await symlink(path.join(REPO_ROOT, entry), path.join(dir, entry));
  }
}

async function kubeconfig(context: string): Promise<string> {
  const file = path.join(home, `kubeconfig-${context}`);
  // A cluster nobody listens on: loading a Tiltfile must not need one.
  await writeFile(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      `current-context: ${context}`,
      'clusters:',
      `- name: ${context}`,
      '  cluster:',
      '    server: https://127.0.0.1:1',
      'contexts:',
      `- name: ${context}`,
      '  context:',
      `    cluster: ${context}`,
      `    user: ${context}`,
      'users:',
      `- name: ${context}`,
      '  user:',
      '    token: not-a-real-token',
      '',
    ].join('\n'),
  );
  return file;
}

async function tiltfileResult(
  options: { context?: string; keyDir?: string; tiltfile?: string; args?: string[] } = {},
): Promise<RunResult> {
  const tiltfile = options.tiltfile ?? path.join(tree.dir, 'Tiltfile');
  return run(tool('tilt'), ['alpha', 'tiltfile-result', '--file', tiltfile, ...(options.args ?? [])], {
    cwd: path.dirname(tiltfile),
    env: toolsEnv({
      HOME: home,
      KUBECONFIG: await kubeconfig(options.context ?? 'minikube'),
      SOPS_AGE_KEY_DIR: options.keyDir ?? tree.keyDir,
      TILT_DISABLE_ANALYTICS: '1',
    }),
    timeoutMs: 180_000,
  });
}

const key = (o: KubeObject) => `${o.kind}/${o.metadata.name}`;

/** The one object the Tiltfile adds to the dev overlay: the API pods' egress to the npm registry. */
const NPM_EGRESS = 'NetworkPolicy/allow-api-egress-to-npm-registry';
interface NetworkPolicy {
  metadata: { namespace: string };
  spec: { egress: unknown[] };
}
/** The api container of the Deployment Tilt applies. */
function apiContainer(r: TiltfileResult): { env?: { name: string; value: string }[] } {
  const deployment = k8sObjects(r).find((o) => key(o) === 'Deployment/python-api') as unknown as {
    spec: { template: { spec: { containers: { name: string; env?: { name: string; value: string }[] }[] } } };
  };
  return deployment.spec.template.spec.containers.find((c) => c.name === 'api')!;
}

/** Tilt re-serialises objects through the typed API (a Namespace gains `spec: {}`); empty
 * maps, lists and nulls mean the same to the API server, so they are dropped before comparing. */
function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .map(([k, v]) => [k, normalize(v)] as const)
      .filter(([, v]) => v !== null && v !== undefined && !(typeof v === 'object' && Object.keys(v).length === 0));
    return Object.fromEntries(entries);
  }
  return value;
}

beforeAll(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'tiltfile-test-'));
  tree = await prepareRenderTree();
  await addWorkspace(tree.dir);
  const out = await tiltfileResult();
  expect({ code: out.code, stderr: out.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
  result = JSON.parse(out.stdout) as TiltfileResult;
  // What Argo CD deploys for dev: the overlay rendered with the KSOPS flags.
  overlay = await tree.objects('dev');
});

afterAll(async () => {
  await tree?.cleanup();
  if (home) await rm(home, { recursive: true, force: true });
});

describe('Tiltfile images', () => {
  it('builds python-api from the Dockerfile stage dev and python-api-migrate from migrate, stages that exist', () => {
    const images = imageTargets(result);
    const stages = parseDockerfile().stages.map((s) => s.name);
    expect(images.map((i) => [i.ref, i.target]).sort()).toEqual([
      ['python-api', 'dev'],
      ['python-api-migrate', 'migrate'],
    ]);
    for (const image of images) expect(stages).toContain(image.target);
  });

  it('live-updates the dev image: syncs sources, reinstalls on a new lockfile, regenerates on a new schema', () => {
    const update = liveUpdate(result, 'python-api');
    expect(update.syncs).toEqual(
      expect.arrayContaining([
        { local: 'apps/api/src', container: '/app/apps/api/src' },
        { local: 'apps/api/prisma', container: '/app/apps/api/prisma' },
        { local: 'package.json', container: '/app/package.json' },
        { local: 'package-lock.json', container: '/app/package-lock.json' },
      ]),
    );
    expect(update.runs).toEqual(
      expect.arrayContaining([
        { command: ['sh', '-c', 'npm ci'], triggers: ['package.json', 'package-lock.json'] },
        { command: ['sh', '-c', 'npm run generate'], triggers: ['apps/api/prisma/schema.prisma', 'prisma.config.ts'] },
      ]),
    );
    expect(update.fallBackOn).toEqual(expect.arrayContaining(['Dockerfile', '.dockerignore']));
  });

  it('gives the migrate image only the Prisma files, so code edits never rerun the migration', () => {
    const migrate = imageTargets(result).find((i) => i.ref === 'python-api-migrate');
    expect(migrate?.only.sort()).toEqual(['apps/api/prisma', 'package-lock.json', 'package.json', 'prisma.config.ts']);
    expect(liveUpdate(result, 'python-api-migrate').syncs).toEqual([]);
  });
});

describe(`Tiltfile manifests${KSOPS_TITLE}`, () => {
  it('deploys every object of the dev overlay (plus the npm registry egress), secrets decrypted, cert-manager objects only with --tls', () => {
    const deployed = k8sObjects(result).map(key).sort();
    const expected = [
      ...overlay.filter((o) => !['Certificate', 'Issuer', 'ClusterIssuer'].includes(o.kind)).map(key),
      NPM_EGRESS,
    ].sort();
    expect(deployed).toEqual(expected);
    const secret = k8sObjects(result).find((o) => key(o) === 'Secret/app-secret');
    const rendered = overlay.find((o) => key(o) === 'Secret/app-secret');
    expect(secret?.stringData).toEqual(rendered?.stringData);
    expect(JSON.stringify(secret)).toContain('postgresql://');
  });

  it('changes only what live update needs: the API container, and the HPA held at 3 replicas; nothing else', () => {
    const byKey = new Map(k8sObjects(result).map((o) => [key(o), o]));
    for (const original of overlay.filter((o) => !['Certificate', 'Issuer'].includes(o.kind))) {
      const deployed = byKey.get(key(original));
      if (!['Deployment/python-api', 'HorizontalPodAutoscaler/python-api'].includes(key(original))) {
        expect({ object: key(original), deployed: normalize(deployed) }).toEqual({
          object: key(original),
          deployed: normalize(original),
        });
      }
    }
    // The Deployment: the original with exactly the three live-update changes to the api container.
    type Container = {
      name: string;
      securityContext: Record<string, unknown>;
      resources: { limits: Record<string, string> };
    };
    const expected = structuredClone(overlay.find((o) => key(o) === 'Deployment/python-api')) as unknown as {
      spec: { template: { spec: { containers: Container[] } } };
    };
    const api = expected.spec.template.spec.containers.find((c) => c.name === 'api')!;
    api.securityContext.readOnlyRootFilesystem = false;
    api.resources.limits.memory = '1Gi';
    api.resources.limits['ephemeral-storage'] = '2Gi';
    expect(normalize(byKey.get('Deployment/python-api'))).toEqual(normalize(expected));
    // The HPA keeps the Deployment's 3 replicas under Tilt: a live update's CPU burst must not add pods.
    const hpa = structuredClone(overlay.find((o) => key(o) === 'HorizontalPodAutoscaler/python-api')) as unknown as {
      spec: { minReplicas: number; maxReplicas: number };
    };
    expect(hpa.spec).toEqual(expect.objectContaining({ minReplicas: 2, maxReplicas: 10 }));
    hpa.spec.minReplicas = 3;
    hpa.spec.maxReplicas = 3;
    expect(normalize(byKey.get('HorizontalPodAutoscaler/python-api'))).toEqual(normalize(hpa));
  });

  it("lets the API pods reach npm's registry (TCP 443) for live update's `npm ci`, through the namespace's default-deny egress", () => {
    const policy = k8sObjects(result).find((o) => key(o) === NPM_EGRESS) as unknown as NetworkPolicy;
    expect(policy.metadata.namespace).toBe('python-api-ns');
    expect(policy.spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'python-api', 'app.kubernetes.io/component': 'api' } },
      policyTypes: ['Egress'],
      // A host name: any address, that port only.
      egress: [{ ports: [{ protocol: 'TCP', port: 443 }] }],
    });
    expect(k8sObjects(result, 'cluster-setup').map(key)).toContain(NPM_EGRESS);
    expect(apiContainer(result).env ?? []).toEqual([]);
  });

  it("`-- --npm-registry URL` points the API container's npm at a mirror and opens only its address and port", async () => {
    const out = await tiltfileResult({ args: ['--', '--npm-registry', 'http://198.18.0.1:4873/'] });
    expect({ code: out.code, stderr: out.code === 0 ? '' : out.stderr }).toEqual({ code: 0, stderr: '' });
    const mirrored = JSON.parse(out.stdout) as TiltfileResult;
    expect(apiContainer(mirrored).env).toEqual([{ name: 'NPM_CONFIG_REGISTRY', value: 'http://198.18.0.1:4873/' }]);
    const policy = k8sObjects(mirrored).find((o) => key(o) === NPM_EGRESS) as unknown as NetworkPolicy;
    expect(policy.spec.egress).toEqual([
      { to: [{ ipBlock: { cidr: '198.18.0.1/32' } }], ports: [{ protocol: 'TCP', port: 4873 }] },
    ]);
    // A host name with its port: any address, that port.
    const named = await tiltfileResult({
      args: ['--', '--npm-registry', 'https://npm.example.com:8443/repository/npm/'],
    });
    expect(named.code).toBe(0);
    const namedPolicy = k8sObjects(JSON.parse(named.stdout) as TiltfileResult).find(
      (o) => key(o) === NPM_EGRESS,
    ) as unknown as NetworkPolicy;
    expect(namedPolicy.spec.egress).toEqual([{ ports: [{ protocol: 'TCP', port: 8443 }] }]);
    const wrong = await tiltfileResult({ args: ['--', '--npm-registry', 'npm.example.com'] });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('--npm-registry wants an http(s) URL');
  });
});

describe('Tiltfile resources', () => {
  it('names the resources and orders them: setup, postgres, db-migrate, then api', () => {
    expect(manifestNames(result).sort()).toEqual([
      'api',
      'cluster-setup',
      'db-migrate',
      'postgres',
      'postgres-backup',
      'postgres-restore',
      'postgres-restore-drill',
      'reseed',
      'tests',
    ]);
    expect(resourceDeps(result, 'postgres')).toEqual(['cluster-setup']);
    expect(resourceDeps(result, 'db-migrate')).toEqual(['postgres']);
    expect(resourceDeps(result, 'api').sort()).toEqual(['db-migrate', 'postgres']);
    expect(k8sObjects(result, 'postgres').map(key).sort()).toEqual([
      'Service/postgres-headless',
      'Service/postgres-service',
      'StatefulSet/postgres',
    ]);
    expect(k8sObjects(result, 'db-migrate').map(key)).toEqual(['Job/python-api-migrate']);
    expect(k8sObjects(result, 'api').map(key).sort()).toEqual([
      'Deployment/python-api',
      'HorizontalPodAutoscaler/python-api',
      'Ingress/python-api',
      'PodDisruptionBudget/python-api',
      'Service/app-service',
    ]);
    const setup = k8sObjects(result, 'cluster-setup').map(key);
    expect(setup).toEqual(
      expect.arrayContaining(['Namespace/python-api-ns', 'Secret/app-secret', 'Secret/postgres-secret']),
    );
    expect(new Set(k8sObjects(result, 'cluster-setup').map((o) => o.kind))).toEqual(
      new Set(['Namespace', 'ServiceAccount', 'Role', 'RoleBinding', 'ConfigMap', 'Secret', 'NetworkPolicy']),
    );
    for (const backup of ['postgres-backup', 'postgres-restore', 'postgres-restore-drill']) {
      expect({ backup, deps: resourceDeps(result, backup) }).toEqual({ backup, deps: ['postgres'] });
      expect({ backup, labels: labels(result, backup) }).toEqual({ backup, labels: ['backup'] });
    }
    expect(k8sObjects(result, 'postgres-backup').map(key).sort()).toEqual([
      'CronJob/postgres-backup',
      'PersistentVolumeClaim/postgres-backups',
    ]);
    expect(labels(result, 'api')).toEqual(['app']);
    expect(labels(result, 'postgres')).toEqual(['database']);
  });

  it('forwards the API (5000), metrics (9464) and PostgreSQL (5432), and links /docs and /health', () => {
    expect(portForwards(result, 'api')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ local: 5000, container: 5000, path: '/docs' }),
        expect.objectContaining({ local: 9464, container: 9464, path: '/metrics' }),
      ]),
    );
    expect(portForwards(result, 'postgres')).toEqual([expect.objectContaining({ local: 5432, container: 5432 })]);
    expect(links(result, 'api')).toEqual(expect.arrayContaining(['http://localhost:5000/health']));
  });

  it('offers the test suite and the demo-data reseed as manual buttons', () => {
    const buttons = localResources(result);
    expect(buttons.tests).toEqual(expect.objectContaining({ command: ['sh', '-c', 'npm test'], manual: true }));
    expect(buttons.reseed?.manual).toBe(true);
    expect(buttons.reseed?.command).toEqual(
      expect.arrayContaining([
        'kubectl',
        '--context',
        'minikube',
        'exec',
        'deploy/python-api',
        'npm',
        'run',
        'db:seed',
      ]),
    );
    expect(resourceDeps(result, 'reseed')).toEqual(['api']);
  });

  it('applies the cert-manager Issuer and Certificate with `-- --tls`', async () => {
    const out = await tiltfileResult({ args: ['--', '--tls'] });
    expect(out.code).toBe(0);
    const kinds = k8sObjects(JSON.parse(out.stdout) as TiltfileResult).map(key);
    expect(kinds).toEqual(expect.arrayContaining(['Certificate/api-tls', 'Issuer/api-issuer']));
  });
});

describe('Tiltfile refusals', () => {
  it('refuses any context but a local cluster, saying how to switch', async () => {
    const out = await tiltfileResult({ context: 'prod-cluster' });
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain('Tilt only deploys to a local cluster');
    expect(out.stderr).toContain('kubectl config use-context minikube');
  });

  it('accepts kind and Docker Desktop clusters', async () => {
    for (const context of ['kind-kind', 'docker-desktop']) {
      expect((await tiltfileResult({ context })).code).toBe(0);
    }
  });

  it('stops with the exact set-up command when no dev age key is set up', async () => {
    const emptyKeys = path.join(home, 'no-keys');
    await mkdir(emptyKeys, { recursive: true });
    const out = await tiltfileResult({ keyDir: emptyKeys });
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(`no age key for 'dev' at ${emptyKeys}/python-api-dev.agekey`);
    expect(out.stderr).toContain('scripts/dev/setup-secrets.sh dev');
  });

  it('fails on a broken Tiltfile', async () => {
    const broken = path.join(tree.dir, 'Tiltfile.broken');
    await writeFile(
      broken,
      (await readFile(path.join(tree.dir, 'Tiltfile'), 'utf8')).replace("target='dev'", "target=dev'"),
    );
    const out = await tiltfileResult({ tiltfile: broken });
    expect(out.code).not.toBe(0);
  });
});
