// Test stand-in for KSOPS (github.com/viaduct-ai/kustomize-sops), used only when no real
// `ksops` binary is installed: the Go module proxy refuses KSOPS, so it cannot be built
// here. It speaks the same contract as KSOPS's exec KRM function: kustomize (with
// --enable-alpha-plugins --enable-exec) writes a ResourceList whose functionConfig is the
// overlay's `kind: ksops` generator to stdin; every file in `files:` is decrypted by the
// real, pinned sops, and the decrypted resources are written back as a ResourceList.
// Only `files:` is supported; anything else is an error rather than silently ignored.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

function fail(message) {
  process.stderr.write(`ksops (test stand-in): ${message}\n`);
  process.exit(1);
}

const input = parseAllDocuments(readFileSync(0, 'utf8'))[0]?.toJS() ?? {};
if (input.kind !== 'ResourceList') fail('stdin is not a ResourceList');
const config = input.functionConfig ?? {};
if (config.apiVersion !== 'viaduct.ai/v1' || config.kind !== 'ksops') {
  fail(`functionConfig must be viaduct.ai/v1 ksops, got ${config.apiVersion} ${config.kind}`);
}
const unsupported = Object.keys(config).filter((key) => !['apiVersion', 'kind', 'metadata', 'files'].includes(key));
if (unsupported.length > 0) fail(`unsupported fields: ${unsupported.join(', ')}`);
if (!Array.isArray(config.files) || config.files.length === 0) fail('`files` must list at least one file');

const items = [...(input.items ?? [])];
for (const file of config.files) {
  // Like KSOPS: paths are relative to the kustomization, which is the working directory.
  const absolute = path.resolve(process.cwd(), file);
  let decrypted;
  try {
    decrypted = execFileSync('sops', ['decrypt', '--input-type', 'yaml', '--output-type', 'yaml', absolute], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    fail(`cannot decrypt ${file}: ${error.stderr || error.message}`);
  }
  for (const doc of parseAllDocuments(decrypted)) {
    const object = doc.toJS();
    if (object) items.push(object);
  }
}

process.stdout.write(stringify({ apiVersion: 'config.kubernetes.io/v1', kind: 'ResourceList', items }));
