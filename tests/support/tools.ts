// Paths to the pinned tools (scripts/install-tools.sh) and a promise-based process runner.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TOOLS_BIN = path.join(REPO_ROOT, '.tools', 'bin');
export const ASSETS_DIR = path.join(REPO_ROOT, '.tools', 'assets');

/** Absolute path of a pinned tool; a clear error (with the fix) when it is not installed. */
export function tool(name: string): string {
  const file = path.join(TOOLS_BIN, name);
  if (!existsSync(file)) {
    throw new Error(`${name} is not installed in .tools/bin: run \`bash scripts/install-tools.sh ${name}\``);
  }
  return file;
}

/** The process environment with .tools/bin first on PATH. */
export function toolsEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...extra, PATH: `${TOOLS_BIN}${path.delimiter}${extra.PATH ?? process.env.PATH ?? ''}` };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
}

/** Runs a program to completion; never rejects on a non-zero exit (callers assert on `code`). */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        cwd: options.cwd ?? REPO_ROOT,
        env: options.env ?? toolsEnv(),
        maxBuffer: 64 * 1024 * 1024,
        timeout: options.timeoutMs ?? 120_000,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`${path.basename(file)} ${args.join(' ')}: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Like run(), but throws with the tool's stderr when it fails. */
export async function runOk(file: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const result = await run(file, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${path.basename(file)} ${args.join(' ')} exited ${result.code}:\n${result.stderr || result.stdout}`,
    );
  }
  return result.stdout;
}
