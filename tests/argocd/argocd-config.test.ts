// Argo CD's own configuration, as rendered from argocd/: the pinned upstream install, KSOPS in
// the repo-server, the settings the Applications rely on, and the single repository URL.
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseObjects, type KubeObject } from '../support/kube-apiserver.js';
import { KUSTOMIZE_BUILD_FLAGS } from '../support/overlays.js';
import { ASSETS_DIR, REPO_ROOT, runOk, tool } from '../support/tools.js';
import { quantity, type Container, type PodSpec } from '../k8s/helpers.js';
import { ENVIRONMENTS, find, isApplication, render, repository, sourcesOf, versions } from './helpers.js';

const workloadsOf = (objects: KubeObject[]) =>
  objects
    .filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(o.kind))
    .map((object) => ({
      object,
      spec: (object as KubeObject & { spec: { template: { spec: PodSpec } } }).spec.template.spec,
    }));

const repoServerSpec = (objects: KubeObject[]) =>
  (find(objects, 'Deployment', 'argocd-repo-server') as KubeObject & { spec: { template: { spec: PodSpec } } }).spec
    .template.spec;

describe('the vendored Argo CD install', () => {
  it('is the upstream manifest of ARGOCD_VERSION: every Argo CD image carries that tag', () => {
    const { ARGOCD_VERSION } = versions();
    const text = readFileSync(path.join(REPO_ROOT, 'argocd/upstream/install.yaml'), 'utf8');
    const images = [...text.matchAll(/image: (\S*argoproj\/argocd):(\S+)/g)];
    expect(images.length).toBeGreaterThan(3);
    for (const [, , tag] of images) expect(tag).toBe(ARGOCD_VERSION);
  });

  it('is byte-identical to the copy the tools installer took from the Go module', () => {
    const fromModule = path.join(ASSETS_DIR, 'argocd', 'install.yaml');
    // A missing asset is a failed prerequisite, not a pass.
    if (!existsSync(fromModule))
      throw new Error(`${fromModule} is missing: run \`bash scripts/install-tools.sh argocd\``);
    expect(readFileSync(path.join(REPO_ROOT, 'argocd/upstream/install.yaml'), 'utf8')).toBe(
      readFileSync(fromModule, 'utf8'),
    );
  });
});

describe('resources of the upstream containers', () => {
  it('every Argo CD container and init container has CPU and memory requests and limits, requests within limits', async () => {
    const problems = workloadsOf(await render('argocd')).flatMap(({ object, spec }) =>
      [...(spec.initContainers ?? []), ...spec.containers].flatMap((container) => {
        const where = `${object.kind}/${object.metadata.name} ${container.name}`;
        const { requests = {}, limits = {} } = container.resources ?? {};
        return ['cpu', 'memory'].flatMap((resource) => {
          const request = requests[resource];
          const limit = limits[resource];
          if (request === undefined || limit === undefined) return [`${where}: ${resource} request and limit`];
          return quantity(request) > quantity(limit) ? [`${where}: ${resource} request above limit`] : [];
        });
      }),
    );
    expect(problems).toEqual([]);
  });
});

describe('the repo-server runs KSOPS', () => {
  it('copies ksops from the pinned KSOPS image with `ksops install`, and nothing else', async () => {
    const spec = repoServerSpec(await render('argocd'));
    const init = spec.initContainers?.find((c) => c.name === 'install-ksops') as Container & {
      command?: string[];
      args?: string[];
    };
    expect(init).toBeDefined();
    // Docker Hub short name, tag = the pin in tools/versions.env.
    expect(init.image).toBe(`viaductoss/ksops:${versions().KSOPS_VERSION}`);
    expect([...(init.command ?? []), ...(init.args ?? [])]).toEqual([
      '/usr/local/bin/ksops',
      'install',
      '/custom-tools',
    ]);
    expect(init.volumeMounts).toEqual([{ name: 'custom-tools', mountPath: '/custom-tools' }]);
  });

  it('puts ksops on PATH but leaves Argo CD its own kustomize', async () => {
    const spec = repoServerSpec(await render('argocd'));
    const main = spec.containers.find((c) => c.name === 'argocd-repo-server')!;
    const mounts = main.volumeMounts as { name: string; mountPath: string; subPath?: string }[];
    expect(mounts).toContainEqual({ name: 'custom-tools', mountPath: '/usr/local/bin/ksops', subPath: 'ksops' });
    expect(mounts.map((m) => m.mountPath)).not.toContain('/usr/local/bin/kustomize');
    expect(spec.volumes).toContainEqual({ name: 'custom-tools', emptyDir: { sizeLimit: '256Mi' } });
  });

  it('reads the age key from the sops-age Secret through SOPS_AGE_KEY_FILE', async () => {
    const spec = repoServerSpec(await render('argocd'));
    const main = spec.containers.find((c) => c.name === 'argocd-repo-server')!;
    const keyFile = (main.env as { name: string; value?: string }[]).find((e) => e.name === 'SOPS_AGE_KEY_FILE')?.value;
    const mount = (main.volumeMounts as { name: string; mountPath: string }[]).find((m) => m.name === 'sops-age');
    const volume = spec.volumes?.find((v) => v.name === 'sops-age') as { secret?: { secretName: string } };
    expect(volume.secret?.secretName).toBe('sops-age');
    // scripts/secrets/argocd-key.sh writes the key under this file name.
    expect(keyFile).toBe(`${mount?.mountPath}/keys.txt`);
    expect(readFileSync(path.join(REPO_ROOT, 'scripts/secrets/argocd-key.sh'), 'utf8')).toMatch(/keys\.txt: /);
  });

  it('matches how the overlays call KSOPS: an exec function found on PATH, built with the flags argocd-cm passes', async () => {
    const cm = find(await render('argocd'), 'ConfigMap', 'argocd-cm') as KubeObject & { data: Record<string, string> };
    expect(cm.data['kustomize.buildOptions']).toBe(KUSTOMIZE_BUILD_FLAGS.join(' '));
    for (const env of ENVIRONMENTS) {
      const dir = path.join(REPO_ROOT, 'gitops/overlays', env);
      const generators = readdirSync(dir)
        .filter((f) => f.endsWith('.yaml'))
        .flatMap((f) => parseObjects(readFileSync(path.join(dir, f), 'utf8')))
        .filter((o) => o.kind === 'ksops');
      expect(generators.length).toBeGreaterThan(0);
      for (const generator of generators) {
        const fn = (generator.metadata.annotations as Record<string, string>)['config.kubernetes.io/function'];
        expect(fn).toMatch(/exec:\s*\n\s*path: ksops\s*$/);
      }
    }
  });

  it('keeps upstream Argo CD configuration and adds the Application health check', async () => {
    const cm = find(await render('argocd'), 'ConfigMap', 'argocd-cm') as KubeObject & { data: Record<string, string> };
    expect(cm.data['resource.exclusions']).toBeDefined(); // merged into, not replaced
    expect(cm.data['resource.customizations.health.argoproj.io_Application']).toMatch(/obj\.status\.health\.status/);
  });
});

describe('the Git repository URL', () => {
  const files = (dir: string): string[] =>
    readdirSync(path.join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.(ya?ml|sh|md)$/.test(f))
      .map((f) => path.join(dir, f));

  it('is written in one file only', () => {
    const { url } = repository();
    expect(url).toMatch(/^https:\/\//);
    const holders = ['argocd', 'gitops/apps', 'gitops/monitoring']
      .flatMap(files)
      .filter((f) => readFileSync(path.join(REPO_ROOT, f), 'utf8').includes(url));
    expect(holders).toEqual(['argocd/repository/repository.yaml']);
  });

  it('reaches every Application and AppProject that deploys from this repository', async () => {
    const { url, revision } = repository();
    for (const dir of ['argocd', ...ENVIRONMENTS.map((e) => `gitops/apps/${e}`)]) {
      const objects = await render(dir);
      expect(JSON.stringify(objects)).not.toMatch(/REPLACED-BY/);
      for (const app of objects.filter(isApplication)) {
        // A chart with inline values (cert-manager) has no source in this repository.
        const own = sourcesOf(app).filter((s) => !s.chart);
        for (const source of own)
          expect([app.metadata.name, source.repoURL, source.targetRevision]).toEqual([
            app.metadata.name,
            url,
            revision,
          ]);
      }
      for (const project of objects.filter((o) => o.kind === 'AppProject' && o.metadata.name !== 'default')) {
        expect((project.spec as { sourceRepos: string[] }).sourceRepos[0]).toBe(url);
      }
    }
  });

  it('changes everywhere when a fork edits that one file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'argocd-fork-'));
    try {
      for (const part of ['argocd', 'gitops/apps', 'gitops/monitoring']) {
        await cp(path.join(REPO_ROOT, part), path.join(dir, part), { recursive: true });
      }
      const file = path.join(dir, 'argocd/repository/repository.yaml');
      const fork = 'https://git.example.org/someone/python-api-fork.git';
      await writeFile(
        file,
        readFileSync(file, 'utf8')
          .replace(/url: .*/, `url: ${fork}`)
          .replace(/revision: .*/, 'revision: release'),
      );
      const out = await runOk(tool('kustomize'), ['build', path.join(dir, 'gitops/apps/dev')]);
      const apps = parseObjects(out).filter(isApplication);
      const own = apps.flatMap((app) => sourcesOf(app).filter((s) => !s.chart));
      expect(own.length).toBeGreaterThan(5);
      for (const source of own) expect(source).toMatchObject({ repoURL: fork, targetRevision: 'release' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
