// The push-to-deploy and promotion workflows: valid for GitHub Actions (actionlint), running the
// same checks as .ci/run, pushing to the registry the repository variables name, and editing the
// release pins the way a person would. Their shell steps are run here, on a copy of the overlays.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT, run, runOk, tool, toolsEnv } from '../support/tools.js';
import { readYaml } from '../support/repository.js';
import { prepareRenderTree } from '../support/overlays.js';
import { startRegistry } from '../support/registry.js';
import { unpinnedImages } from '../k8s/helpers.js';

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, { needs?: string | string[]; steps: Step[]; permissions?: Record<string, string> }>;
}

const workflow = (name: string) => readYaml<Workflow>(`.github/workflows/${name}`);
const step = (wf: Workflow, job: string, name: string) => {
  const found = wf.jobs[job]?.steps.find((s) => s.name === name);
  if (!found?.run) throw new Error(`no run step "${name}" in job ${job}`);
  return found;
};
const RELEASE = (env: string) => `gitops/overlays/${env}/release/kustomization.yaml`;
const DEV_PIN_STEP = 'Write the tags and digests into gitops/overlays/dev/release/kustomization.yaml';
const digest = (c: string) => `sha256:${c.repeat(64)}`;
/** What the image job hands the pin step: the tag and the two digests build-push-action reports. */
const built = (tag: string) => ({
  TAG: tag,
  REPOSITORY: 'registry.example.test/team',
  RUNTIME_DIGEST: digest('a'),
  MIGRATE_DIGEST: digest('b'),
});

/** Runs a workflow step's shell in a copy of the overlays, with .tools/bin as the runner's .tools/bin. */
async function runStep(script: string, env: Record<string, string>, dir: string) {
  return run('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd: dir, env: toolsEnv(env) });
}

async function overlayCopy(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'workflow-'));
  await cp(path.join(REPO_ROOT, 'gitops/overlays'), path.join(dir, 'gitops/overlays'), { recursive: true });
  // The steps call .tools/bin/yq, as on the runner after scripts/install-tools.sh yq.
  await symlink(path.join(REPO_ROOT, '.tools'), path.join(dir, '.tools'));
  // A checkout, as on the runner: the steps show their change with git diff.
  await runOk('git', ['init', '-q'], { cwd: dir });
  await runOk('git', ['add', 'gitops'], { cwd: dir });
  return dir;
}

describe('the workflows', () => {
  it('pass actionlint', async () => {
    const result = await run(tool('actionlint'), [
      '-no-color',
      '.github/workflows/deploy.yaml',
      '.github/workflows/promote.yaml',
    ]);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('deploy on a push to main: checks first (.ci/run), then the images, then the dev pin', () => {
    const wf = workflow('deploy.yaml');
    expect(wf.on.push).toEqual({ branches: ['main'] });
    expect(wf.jobs.checks!.steps.some((s) => s.run === 'bash .ci/run')).toBe(true);
    // tests/k8s/secrets.test.ts runs gitleaks over the whole history: a depth-1 checkout would hide it.
    const checkout = wf.jobs.checks!.steps.find((s) => s.uses?.startsWith('actions/checkout'));
    expect(checkout?.with?.['fetch-depth']).toBe(0);
    expect(wf.jobs.image!.needs).toBe('checks');
    expect(wf.jobs['deploy-dev']!.needs).toBe('image');
    // Least privilege: only the job that commits may write.
    expect(wf.permissions).toEqual({ contents: 'read' });
    expect(wf.jobs['deploy-dev']!.permissions).toEqual({ contents: 'write' });
  });

  it('name no registry host: the registry comes from repository variables', () => {
    const text = readFileSync(path.join(REPO_ROOT, '.github/workflows/deploy.yaml'), 'utf8');
    const code = text
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .join('\n');
    expect(code).not.toMatch(/docker\.io|ghcr\.io|quay\.io|gcr\.io|amazonaws\.com|azurecr\.io|pkg\.dev/);
    expect(code).toContain('${{ vars.IMAGE_REGISTRY }}');
    const builds = workflow('deploy.yaml').jobs.image!.steps.filter((s) =>
      s.uses?.startsWith('docker/build-push-action'),
    );
    expect(builds.map((s) => s.with?.target)).toEqual(['runtime', 'migrate']);
  });

  it('write the dev pin file named at the top of docs/kubernetes.md', () => {
    const docs = readFileSync(path.join(REPO_ROOT, 'docs/kubernetes.md'), 'utf8');
    expect(docs.split('\n').slice(0, 5).join('\n')).toContain('gitops/overlays/<env>/release/kustomization.yaml');
    expect(
      step(
        workflow('deploy.yaml'),
        'deploy-dev',
        'Write the tags and digests into gitops/overlays/dev/release/kustomization.yaml',
      ).run,
    ).toContain(RELEASE('dev'));
  });
});

describe('the dev pin step', () => {
  it('changes exactly the image names, tags and digests of both images, and keeps the comments', async () => {
    const dir = await overlayCopy();
    try {
      const before = await readFile(path.join(dir, RELEASE('dev')), 'utf8');
      const result = await runStep(
        step(
          workflow('deploy.yaml'),
          'deploy-dev',
          'Write the tags and digests into gitops/overlays/dev/release/kustomization.yaml',
        ).run!,
        built('sha-0123456789ab'),
        dir,
      );
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const after = await readFile(path.join(dir, RELEASE('dev')), 'utf8');
      const images = (parse(after) as { images: { name: string; newName: string; newTag: string }[] }).images;
      expect(images).toEqual([
        {
          name: 'python-api',
          newName: 'registry.example.test/team/python-api',
          newTag: 'sha-0123456789ab',
          digest: digest('a'),
        },
        {
          name: 'python-api-migrate',
          newName: 'registry.example.test/team/python-api-migrate',
          newTag: 'sha-0123456789ab',
          digest: digest('b'),
        },
      ]);
      // Only the image lines differ; the comment explaining the file stays.
      const comments = (text: string) => text.split('\n').filter((l) => l.startsWith('#'));
      expect(comments(after)).toEqual(comments(before));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the dev pin step refuses', () => {
  it('a build without a digest: nothing is written', async () => {
    const dir = await overlayCopy();
    try {
      const before = await readFile(path.join(dir, RELEASE('dev')), 'utf8');
      const result = await runStep(
        step(workflow('deploy.yaml'), 'deploy-dev', DEV_PIN_STEP).run!,
        { ...built('sha-0123456789ab'), MIGRATE_DIGEST: '' },
        dir,
      );
      expect(result.code).not.toBe(0);
      expect(result.stdout).toContain('::error::no image digest for python-api-migrate');
      expect(await readFile(path.join(dir, RELEASE('dev')), 'utf8')).toBe(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('and the image job hands it the digests build-push-action reports', () => {
    const image = workflow('deploy.yaml').jobs.image! as unknown as {
      outputs: Record<string, string>;
      steps: Step[];
    };
    expect(image.outputs['runtime-digest']).toBe('${{ steps.build-runtime.outputs.digest }}');
    expect(image.outputs['migrate-digest']).toBe('${{ steps.build-migrate.outputs.digest }}');
    const ids = image.steps
      .filter((s) => s.uses?.startsWith('docker/build-push-action'))
      .map((s) => (s as { id?: string }).id);
    expect(ids).toEqual(['build-runtime', 'build-migrate']);
  });
});

describe('promotion', () => {
  it('refuses a source pin without a digest (a release not built and pushed by CI)', async () => {
    const dir = await overlayCopy();
    try {
      const result = await runStep(
        step(workflow('promote.yaml'), 'pull-request', 'Copy the image pins').run!,
        { TO: 'staging', GITHUB_OUTPUT: path.join(dir, 'github-output') },
        dir,
      );
      expect(result.code).not.toBe(0);
      expect(result.stdout).toContain('pins python-api without a digest');
      expect(await readFile(path.join(dir, RELEASE('staging')), 'utf8')).toBe(
        readFileSync(path.join(REPO_ROOT, RELEASE('staging')), 'utf8'),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is a pull request that copies the pins of the previous environment', async () => {
    const wf = workflow('promote.yaml');
    expect(Object.keys(wf.on)).toEqual(['workflow_dispatch']);
    expect(wf.jobs['pull-request']!.steps.some((s) => s.run?.includes('gh pr create'))).toBe(true);

    const dir = await overlayCopy();
    try {
      // dev runs a CI-built image; staging still runs the committed release.
      await runStep(
        step(
          workflow('deploy.yaml'),
          'deploy-dev',
          'Write the tags and digests into gitops/overlays/dev/release/kustomization.yaml',
        ).run!,
        built('sha-feedfacecafe'),
        dir,
      );
      const output = path.join(dir, 'github-output');
      const result = await runStep(
        step(wf, 'pull-request', 'Copy the image pins').run!,
        { TO: 'staging', GITHUB_OUTPUT: output },
        dir,
      );
      expect(result.code).toBe(0);
      const staging = (parse(await readFile(path.join(dir, RELEASE('staging')), 'utf8')) as { images: unknown[] })
        .images;
      expect(staging).toEqual([
        {
          name: 'python-api',
          newTag: 'sha-feedfacecafe',
          digest: digest('a'),
          newName: 'registry.example.test/team/python-api',
        },
        {
          name: 'python-api-migrate',
          newTag: 'sha-feedfacecafe',
          digest: digest('b'),
          newName: 'registry.example.test/team/python-api-migrate',
        },
        // Resolved from the registry by the next step, which needs it (not run here).
        { name: 'postgres', newTag: '17.10-bookworm' },
        { name: 'prometheuscommunity/postgres-exporter', newTag: 'v0.18.1' },
      ]);
      expect(await readFile(output, 'utf8')).toBe('from=dev\ntag=sha-feedfacecafe\n');
      // prod is untouched until its own promotion.
      expect(await readFile(path.join(dir, RELEASE('prod')), 'utf8')).toBe(
        readFileSync(path.join(REPO_ROOT, RELEASE('prod')), 'utf8'),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('promotion against a registry [stand-in: a distribution registry on loopback answers for docker.io]', () => {
  it('leaves staging pinning every workload image by digest: ours copied from dev, PostgreSQL and its exporter resolved from the registry', async () => {
    const wf = workflow('promote.yaml');
    const [registry, tree] = await Promise.all([startRegistry(), prepareRenderTree()]);
    try {
      // What Docker Hub holds for the tags staging names.
      const postgres = await registry.createImage('library/postgres', '17.10-bookworm');
      const exporter = await registry.createImage('prometheuscommunity/postgres-exporter', 'v0.18.1');
      // The steps run in the render tree (base, components, secrets), as in a checkout.
      await symlink(path.join(REPO_ROOT, '.tools'), path.join(tree.dir, '.tools'));
      await runOk('git', ['init', '-q'], { cwd: tree.dir });
      await runOk('git', ['add', 'gitops'], { cwd: tree.dir });
      const dev = await runStep(
        step(workflow('deploy.yaml'), 'deploy-dev', DEV_PIN_STEP).run!,
        built('sha-c0ffee'),
        tree.dir,
      );
      expect(dev.code).toBe(0);
      const env = { TO: 'staging', GITHUB_OUTPUT: path.join(tree.dir, 'github-output') };
      const copy = await runStep(step(wf, 'pull-request', 'Copy the image pins').run!, env, tree.dir);
      expect(copy.code).toBe(0);
      const pin = await runStep(
        step(wf, 'pull-request', 'Pin the third-party images by digest').run!,
        {
          ...env,
          REGCTL_CONFIG: registry.dockerHubConfig,
        },
        tree.dir,
      );
      expect({ code: pin.code, output: pin.code === 0 ? '' : pin.stdout + pin.stderr }).toEqual({
        code: 0,
        output: '',
      });

      const release = parse(await readFile(path.join(tree.dir, RELEASE('staging')), 'utf8')) as {
        images: { name: string; digest?: string }[];
      };
      expect(release.images.map(({ name, digest }) => [name, digest])).toEqual([
        ['python-api', digest('a')],
        ['python-api-migrate', digest('b')],
        ['postgres', postgres],
        ['prometheuscommunity/postgres-exporter', exporter],
      ]);
      const staging = await tree.objects('staging');
      expect(unpinnedImages(staging)).toEqual([]);
      expect(JSON.stringify(staging)).toContain(`postgres:17.10-bookworm@${postgres}`);
    } finally {
      await Promise.all([registry.stop(), tree.cleanup()]);
    }
  }, 120_000);

  it('refuses a third-party tag the registry does not hold: nothing is pinned, and the run fails', async () => {
    const registry = await startRegistry();
    const dir = await overlayCopy();
    try {
      await registry.createImage('library/postgres', '17.10-bookworm'); // the exporter is missing
      const before = await readFile(path.join(dir, RELEASE('staging')), 'utf8');
      const result = await runStep(
        step(workflow('promote.yaml'), 'pull-request', 'Pin the third-party images by digest').run!,
        { TO: 'staging', REGCTL_CONFIG: registry.dockerHubConfig },
        dir,
      );
      expect(result.code).not.toBe(0);
      expect(result.stdout).toContain('could not resolve prometheuscommunity/postgres-exporter:v0.18.1 to a digest');
      const after = parse(await readFile(path.join(dir, RELEASE('staging')), 'utf8')) as {
        images: { name: string; digest?: string }[];
      };
      // The loop stops at the first image it cannot resolve; the pull request is never opened.
      expect(after.images.find((i) => i.name === 'prometheuscommunity/postgres-exporter')?.digest).toBeUndefined();
      expect(before).toContain('prometheuscommunity/postgres-exporter');
    } finally {
      await Promise.all([registry.stop(), rm(dir, { recursive: true, force: true })]);
    }
  }, 60_000);
});
