// argocd/bootstrap.sh, run for real against a real kube-apiserver (no nodes, so --no-wait skips
// the steps that wait for running pods). It runs in a copy of the repository whose origin and
// age key are made up for the test.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startKubeApiServer, type KubeApiServer } from '../support/kube-apiserver.js';
import { REPO_ROOT, run, runOk, tool, toolsEnv } from '../support/tools.js';

jest.setTimeout(300_000);

const FORK_SSH = 'git@git.example.org:team/python-api.git';
const FORK_HTTPS = 'https://git.example.org/team/python-api.git';

let server: KubeApiServer;
let dir = '';
let keyDir = '';

const bootstrap = (args: string[] = []) =>
  run('bash', ['argocd/bootstrap.sh', '--no-wait', ...args], {
    cwd: dir,
    timeoutMs: 240_000,
    env: toolsEnv({ KUBECONFIG: server.kubeconfig, SOPS_AGE_KEY_DIR: keyDir, HOME: dir }),
  });

const get = async <T>(urlPath: string) => {
  const answer = await server.request('GET', urlPath);
  return { status: answer.status, body: answer.body as T };
};
const decode = (value: string) => Buffer.from(value, 'base64').toString('utf8');

beforeAll(async () => {
  tool('kubectl');
  server = await startKubeApiServer();
  dir = await mkdtemp(path.join(os.tmpdir(), 'bootstrap-'));
  for (const part of ['argocd', 'gitops', 'scripts/secrets', 'tools'])
    await cp(path.join(REPO_ROOT, part), path.join(dir, part), { recursive: true });
  await symlink(path.join(REPO_ROOT, '.tools'), path.join(dir, '.tools'));
  await runOk('git', ['init', '-q', '-b', 'main'], { cwd: dir });
  await runOk('git', ['remote', 'add', 'origin', FORK_SSH], { cwd: dir });
  keyDir = path.join(dir, 'keys');
  await mkdir(keyDir);
  await runOk(tool('age-keygen'), ['-o', path.join(keyDir, 'python-api-dev.agekey')]);
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('bootstrap.sh', () => {
  it('refuses to start while the repository URL is the placeholder, and names the real remote', async () => {
    const result = await bootstrap();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('still names the placeholder repository');
    expect(result.stderr).toContain(`url: ${FORK_HTTPS}`);
    // Nothing was touched.
    expect((await get('/api/v1/namespaces/argocd')).status).toBe(404);
  });

  it('installs Argo CD, gives it the age key and applies only the root Application', async () => {
    const file = path.join(dir, 'argocd/repository/repository.yaml');
    await writeFile(file, readFileSync(file, 'utf8').replace(/url: .*/, `url: ${FORK_HTTPS}`));

    const result = await bootstrap();
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);

    // The age key, byte for byte, where the repo-server mounts it from.
    const secret = await get<{ data: Record<string, string> }>('/api/v1/namespaces/argocd/secrets/sops-age');
    expect(decode(secret.body.data['keys.txt']!)).toBe(
      readFileSync(path.join(keyDir, 'python-api-dev.agekey'), 'utf8'),
    );

    // Argo CD itself, configured.
    const repoServer = await get<{ spec: { template: { spec: { initContainers: { name: string }[] } } } }>(
      '/apis/apps/v1/namespaces/argocd/deployments/argocd-repo-server',
    );
    expect(repoServer.body.spec.template.spec.initContainers.map((c) => c.name)).toContain('install-ksops');
    const projects = await get<{ items: { metadata: { name: string }; spec: { sourceRepos?: string[] } }[] }>(
      '/apis/argoproj.io/v1alpha1/namespaces/argocd/appprojects',
    );
    expect(projects.body.items.map((p) => p.metadata.name).sort()).toEqual(['default', 'platform', 'python-api']);
    expect(projects.body.items.find((p) => p.metadata.name === 'python-api')?.spec.sourceRepos).toEqual([FORK_HTTPS]);

    // Only the root: Argo CD creates the rest in its sync waves.
    const apps = await get<{
      items: {
        metadata: { name: string };
        spec: { source: { repoURL: string; path: string; targetRevision: string } };
      }[];
    }>('/apis/argoproj.io/v1alpha1/namespaces/argocd/applications');
    expect(apps.body.items.map((a) => a.metadata.name)).toEqual(['root']);
    expect(apps.body.items[0]!.spec.source).toMatchObject({
      repoURL: FORK_HTTPS,
      path: 'gitops/apps/dev',
      targetRevision: 'main',
    });

    // How to get in, printed at the end.
    expect(result.stdout).toContain('kubectl -n argocd port-forward svc/argocd-server 8080:443');
    expect(result.stdout).toContain('kubectl -n monitoring port-forward svc/kube-prometheus-stack-grafana 3000:80');
    expect(result.stdout).toMatch(/Healthy looks like/);
  });

  it('creates a random Grafana password once and keeps it on every later run', async () => {
    const before = await get<{ data: Record<string, string> }>('/api/v1/namespaces/monitoring/secrets/grafana-admin');
    expect(decode(before.body.data['admin-user']!)).toBe('admin');
    const password = decode(before.body.data['admin-password']!);
    expect(password).toMatch(/^[A-Za-z0-9]{24}$/);

    const again = await bootstrap();
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`password: ${password}`);
    const after = await get<{ data: Record<string, string> }>('/api/v1/namespaces/monitoring/secrets/grafana-admin');
    expect(decode(after.body.data['admin-password']!)).toBe(password);
  });

  it('fails clearly without the environment age key', async () => {
    const result = await bootstrap(['--env', 'prod']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/no age key for 'prod'/);
  });

  it('rejects an unknown environment before touching the cluster', async () => {
    const result = await bootstrap(['--env', 'qa']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("unknown environment 'qa'");
  });
});
