// Secrets never exist in plain text in git, the committed files are encrypted the way
// .sops.yaml says, and the scripts in scripts/secrets work end to end (on ephemeral keys).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { ENVIRONMENTS, prepareRenderTree, type RenderTree } from '../support/overlays.js';
import { REPO_ROOT, run, runOk, tool } from '../support/tools.js';
import { KSOPS_TITLE } from '../support/notes.js';

const ENC_VALUE = /^ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,type:[a-z]+\]$/;

interface SopsFile {
  kind?: string;
  metadata?: { name?: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  sops?: { mac?: string; age?: { recipient: string; enc: string }[]; encrypted_regex?: string; lastmodified?: string };
}

interface CreationRule {
  path_regex: string;
  encrypted_regex?: string;
  age?: string;
}

const trackedFiles = () =>
  execFileSync('git', ['ls-files', '-z'], { cwd: REPO_ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => /\.ya?ml$/.test(f));

const creationRules = async (root = REPO_ROOT) =>
  (parse(await readFile(path.join(root, '.sops.yaml'), 'utf8')) as { creation_rules: CreationRule[] }).creation_rules;

const recipientsOf = (rule: CreationRule | undefined) =>
  (rule?.age ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean)
    .sort();

describe('secrets committed to git', () => {
  it('every Secret with a value in any tracked YAML file is SOPS-encrypted', async () => {
    const plain: string[] = [];
    for (const file of trackedFiles()) {
      const text = await readFile(path.join(REPO_ROOT, file), 'utf8');
      if (!/kind:\s*Secret\b/.test(text)) continue;
      for (const doc of parseAllDocuments(text)) {
        const object = doc.toJS() as SopsFile | null;
        if (object?.kind !== 'Secret') continue;
        const values = Object.values({ ...(object.data ?? {}), ...(object.stringData ?? {}) }).filter(
          (v) => String(v) !== '',
        );
        if (values.length > 0 && (!object.sops || values.some((v) => !ENC_VALUE.test(String(v)))))
          plain.push(`${file}: ${object.metadata?.name}`);
      }
    }
    expect(plain).toEqual([]);
  });

  describe.each(ENVIRONMENTS)('overlay %s', (environment) => {
    const dir = `gitops/overlays/${environment}/secrets`;
    const files = () => trackedFiles().filter((f) => f.startsWith(`${dir}/`));

    it('holds postgres-secret and app-secret, both listed in the KSOPS generator', async () => {
      expect(files().sort()).toEqual([`${dir}/app-secret.sops.yaml`, `${dir}/postgres-secret.sops.yaml`]);
      const generator = parse(
        await readFile(path.join(REPO_ROOT, `gitops/overlays/${environment}/secret-generator.yaml`), 'utf8'),
      ) as {
        apiVersion: string;
        kind: string;
        files: string[];
      };
      expect([generator.apiVersion, generator.kind]).toEqual(['viaduct.ai/v1', 'ksops']);
      expect(generator.files.map((f) => path.posix.join(`gitops/overlays/${environment}`, f)).sort()).toEqual(
        files().sort(),
      );
    });

    it('encrypts every value (ENC[...]), keeps a MAC and encrypts only data/stringData', async () => {
      for (const file of files()) {
        const object = parse(await readFile(path.join(REPO_ROOT, file), 'utf8')) as SopsFile;
        const values = Object.values({ ...(object.data ?? {}), ...(object.stringData ?? {}) });
        expect(values.length).toBeGreaterThan(0);
        for (const value of values) expect(value).toMatch(ENC_VALUE);
        expect(object.sops?.mac).toMatch(ENC_VALUE);
        expect(object.sops?.encrypted_regex).toBe('^(data|stringData)$');
        expect(object.metadata?.name).toBe(path.basename(file, '.sops.yaml'));
      }
    });

    it('is encrypted to exactly the recipients .sops.yaml lists for the environment', async () => {
      const rules = await creationRules();
      for (const file of files()) {
        const matching = rules.filter((r) => new RegExp(r.path_regex).test(file));
        expect(matching).toHaveLength(1);
        expect(matching[0]?.encrypted_regex).toBe('^(data|stringData)$');
        const object = parse(await readFile(path.join(REPO_ROOT, file), 'utf8')) as SopsFile;
        const recipients = (object.sops?.age ?? []).map((a) => a.recipient).sort();
        expect(recipients).toEqual(recipientsOf(matching[0]));
        for (const r of recipients) expect(r).toMatch(/^age1[0-9a-z]{58}$/);
      }
    });
  });

  it('each environment has its own recipients', async () => {
    const rules = await creationRules();
    const perEnvironment = ENVIRONMENTS.map((e) =>
      recipientsOf(rules.find((r) => r.path_regex.includes(`overlays/${e}/`))).join(','),
    );
    expect(new Set(perEnvironment).size).toBe(ENVIRONMENTS.length);
  });

  it('no age private key is tracked', async () => {
    // git grep exits 1 when nothing matches.
    // (A key is the prefix plus 58 bech32 characters; mentioning the prefix in docs is fine.)
    const result = await run('git', ['grep', '-l', '-I', '-E', 'AGE-SECRET-KEY-1[0-9A-Z]{58}', '--', '.']);
    expect({ code: result.code, files: result.stdout.trim() }).toEqual({ code: 1, files: '' });
  });
});

describe('gitleaks', () => {
  it('finds nothing in the git history', async () => {
    // A shallow clone (CI's default checkout depth is 1) would scan one commit, not the history.
    const shallow = (await runOk('git', ['rev-parse', '--is-shallow-repository'], { cwd: REPO_ROOT })).trim();
    expect({ shallowClone: shallow }).toEqual({ shallowClone: 'false' });
    const result = await run(tool('gitleaks'), ['git', '--no-banner', '--redact', '--exit-code', '1', REPO_ROOT]);
    expect({ code: result.code, output: result.code === 0 ? '' : result.stdout + result.stderr }).toEqual({
      code: 0,
      output: '',
    });
  }, 120_000);

  it('does find a private age key committed to a repository (the scan is live)', async () => {
    const repo = await mkdtemp(path.join(os.tmpdir(), 'gitleaks-control-'));
    try {
      const key = (await runOk(tool('age-keygen'), []))
        .split('\n')
        .find((l) => l.startsWith('AGE-SECRET-KEY-1')) as string;
      await writeFile(path.join(repo, 'leak.txt'), `${key}\n`);
      const git = (...args: string[]) =>
        runOk('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: repo });
      await git('init', '-q');
      await git('add', 'leak.txt');
      await git('commit', '-q', '-m', 'leak');
      const result = await run(tool('gitleaks'), ['git', '--no-banner', '--redact', '--exit-code', '1', repo]);
      expect(result.code).toBe(1);
    } finally {
      await rm(repo, { recursive: true, force: true });
    }
  }, 60_000);
});

describe(`scripts/secrets, end to end on ephemeral keys${KSOPS_TITLE}`, () => {
  let tree: RenderTree;
  const script = (name: string) => path.join(tree.dir, 'scripts', 'secrets', name);
  const secretFile = (env: string, name: string) =>
    path.join(tree.dir, 'gitops', 'overlays', env, 'secrets', `${name}.sops.yaml`);
  const keyFile = (env: string) => path.join(tree.keyDir, `python-api-${env}.agekey`);
  const decrypt = async (env: string, name: string, key = keyFile(env)) =>
    (
      parse(
        await runOk(tool('sops'), ['decrypt', secretFile(env, name)], { env: tree.env({ SOPS_AGE_KEY_FILE: key }) }),
      ) as SopsFile
    ).stringData ?? {};
  const sh = (name: string, ...args: string[]) =>
    run('bash', [script(name), ...args], { cwd: tree.dir, env: tree.env() });

  beforeAll(async () => {
    // Creates keys and secrets for every environment through age-key/set-recipients/new-secrets.
    tree = await prepareRenderTree();
  }, 120_000);

  afterAll(async () => {
    await tree?.cleanup();
  });

  it('age-key.sh keeps an existing key and prints its public key', async () => {
    const first = await sh('age-key.sh', 'dev');
    const second = await sh('age-key.sh', 'dev');
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toMatch(/^age1[0-9a-z]{58}$/);
    expect(second.stdout).toBe(first.stdout);
    expect((await runOk(tool('age-keygen'), ['-y', keyFile('dev')])).trim()).toBe(first.stdout.trim());
    // Private: readable by its owner only.
    expect((await stat(keyFile('dev'))).mode & 0o077).toBe(0);
  });

  it('rejects an unknown environment with a clear message', async () => {
    const result = await sh('new-secrets.sh', 'qa');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/unknown environment 'qa' \(expected one of: dev staging prod\)/);
  });

  it('new-secrets.sh writes a strong password that DATABASE_URL repeats, and a different one per run', async () => {
    const postgres = await decrypt('staging', 'postgres-secret');
    const app = await decrypt('staging', 'app-secret');
    expect(postgres.POSTGRES_PASSWORD).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const url = new URL(app.DATABASE_URL as string);
    expect(decodeURIComponent(url.password)).toBe(postgres.POSTGRES_PASSWORD);
    expect(decodeURIComponent(url.username)).toBe(postgres.POSTGRES_USER);
    expect(`${url.host}${url.pathname}`).toBe('postgres-service:5432/items');

    expect((await sh('new-secrets.sh', 'staging', '--force')).code).toBe(0);
    expect((await decrypt('staging', 'postgres-secret')).POSTGRES_PASSWORD).not.toBe(postgres.POSTGRES_PASSWORD);
  });

  it('new-secrets.sh refuses to replace existing secrets without --force and leaves them untouched', async () => {
    const before = await readFile(secretFile('dev', 'postgres-secret'), 'utf8');
    const result = await sh('new-secrets.sh', 'dev');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/exists; pass --force/);
    expect(await readFile(secretFile('dev', 'postgres-secret'), 'utf8')).toBe(before);
  });

  it('a given password is URL-encoded in DATABASE_URL', async () => {
    const password = 'p@ss:w/rd?#%&= with spaces';
    const result = await run('bash', [script('new-secrets.sh'), 'prod', '--force'], {
      cwd: tree.dir,
      env: tree.env({ POSTGRES_PASSWORD: password }),
    });
    expect(result.code).toBe(0);
    const app = await decrypt('prod', 'app-secret');
    expect(app.DATABASE_URL).toContain(encodeURIComponent(password));
    expect(decodeURIComponent(new URL(app.DATABASE_URL as string).password)).toBe(password);
    expect((await decrypt('prod', 'postgres-secret')).POSTGRES_PASSWORD).toBe(password);
  });

  it("another environment's key cannot decrypt an environment's secrets", async () => {
    await expect(decrypt('dev', 'postgres-secret', keyFile('prod'))).rejects.toThrow(/exited/);
  });

  it('rotate.sh replaces the data key and keeps the values', async () => {
    const before = await readFile(secretFile('dev', 'app-secret'), 'utf8');
    const valuesBefore = await decrypt('dev', 'app-secret');
    const result = await sh('rotate.sh', 'dev');
    expect(result.code).toBe(0);
    const after = await readFile(secretFile('dev', 'app-secret'), 'utf8');
    const enc = (text: string) => (parse(text) as SopsFile).stringData?.DATABASE_URL;
    expect(enc(after)).not.toBe(enc(before));
    expect(await decrypt('dev', 'app-secret')).toEqual(valuesBefore);
  });

  it('set-recipients.sh adds a recipient to .sops.yaml and re-encrypts the files for both keys', async () => {
    const other = path.join(tree.keyDir, 'teammate.agekey');
    await runOk(tool('age-keygen'), ['-o', other]);
    const teammate = (await runOk(tool('age-keygen'), ['-y', other])).trim();
    const own = (await sh('age-key.sh', 'staging')).stdout.trim();
    const result = await sh('set-recipients.sh', 'staging', own, teammate);
    expect(result.code).toBe(0);
    const rule = (await creationRules(tree.dir)).find((r) => r.path_regex.includes('overlays/staging/'));
    expect(recipientsOf(rule)).toEqual([own, teammate].sort());
    const file = parse(await readFile(secretFile('staging', 'postgres-secret'), 'utf8')) as SopsFile;
    expect((file.sops?.age ?? []).map((a) => a.recipient).sort()).toEqual([own, teammate].sort());
    expect(await decrypt('staging', 'postgres-secret', other)).toEqual(await decrypt('staging', 'postgres-secret'));
  });

  it('set-recipients.sh rejects something that is not an age public key', async () => {
    const result = await sh('set-recipients.sh', 'dev', 'ssh-ed25519 AAAA');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/is not an age public key/);
  });

  it('edit.sh opens the decrypted secret and re-encrypts what the editor saved', async () => {
    const editor = path.join(tree.dir, 'fake-editor.sh');
    // A non-interactive $EDITOR: changes the log-in user in place.
    await writeFile(editor, '#!/bin/sh\nsed -i "s/POSTGRES_USER: .*/POSTGRES_USER: edited_user/" "$1"\n');
    await chmod(editor, 0o755);
    const result = await run('bash', [script('edit.sh'), 'dev', 'postgres-secret'], {
      cwd: tree.dir,
      env: tree.env({ EDITOR: editor }),
    });
    expect(result.code).toBe(0);
    expect((await decrypt('dev', 'postgres-secret')).POSTGRES_USER).toBe('edited_user');
    const file = parse(await readFile(secretFile('dev', 'postgres-secret'), 'utf8')) as SopsFile;
    expect(file.stringData?.POSTGRES_USER).toMatch(ENC_VALUE);
  });

  it('argocd-key.sh --print emits the sops-age Secret whose keys.txt decrypts the environment', async () => {
    const result = await sh('argocd-key.sh', '--print', 'dev', 'prod');
    expect(result.code).toBe(0);
    const secret = parse(result.stdout) as {
      kind: string;
      metadata: { name: string; namespace: string };
      data: Record<string, string>;
    };
    expect([secret.kind, secret.metadata.name, secret.metadata.namespace]).toEqual(['Secret', 'sops-age', 'argocd']);
    const keys = path.join(tree.dir, 'argocd-keys.txt');
    await writeFile(keys, Buffer.from(secret.data['keys.txt'] as string, 'base64'));
    expect(await decrypt('dev', 'app-secret', keys)).toEqual(await decrypt('dev', 'app-secret'));
    expect(await decrypt('prod', 'app-secret', keys)).toEqual(await decrypt('prod', 'app-secret'));
    await expect(decrypt('staging', 'app-secret', keys)).rejects.toThrow();
  });
});
