import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
// A CommonJS module whose d.ts declares `export default`; it sets `.default` on itself.
import dockerignoreModule from '@balena/dockerignore';
import { REPO_ROOT } from '../../support/tools.js';

/** The .dockerignore of this checkout, with Docker's matching rules (balena's port of the engine's). */
export const dockerignore = dockerignoreModule
  .default()
  .add(readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8'));

export const inContext = (file: string): boolean => !dockerignore.ignores(file);

/** Files of this checkout, tracked or not (but not git-ignored): what a build starts from. */
export function repoFiles(): string[] {
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);
}

/** The files `docker build .` would send to the builder. */
export function contextFiles(): string[] {
  return repoFiles().filter(inContext);
}

/** Does a COPY source (a file, a folder or a filepath.Match glob) cover this file? */
export function covers(source: string, file: string): boolean {
  const clean = source.replace(/^\.\//, '').replace(/\/$/, '');
  if (!/[*?[]/.test(clean)) return file === clean || file.startsWith(`${clean}/`);
  const pattern = clean
    .replace(/[.+^${}()|\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${pattern}(/.*)?$`).test(file);
}
