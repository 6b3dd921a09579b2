/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, or `BENCH_CPU_PROF=<dir> npm run bench`):
 * busy time by library, charging Node core and native frames (syscalls, GC aside) to the
 * nearest library on the stack, then the functions with the most self time.
 *
 *   node --import tsx apps/api/bench/profile-summary.ts <file.cpuprofile> [top]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile-summary.ts <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parents = new Map<number, number>();
for (const n of profile.nodes) for (const child of n.children ?? []) parents.set(child, n.id);

const selfTime = new Map<number, number>();
profile.samples.forEach((id, i) => selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

/** The package a script belongs to, `app:<file>` for our compiled code, undefined for Node core/native. */
function library(url: string): string | undefined {
  if (!url || url.startsWith('node:')) return undefined;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  const app = url.split('/dist/apps/api/src/')[1];
  return app ? `app:${app}` : url;
}

const byLibrary = new Map<string, number>();
const byFunction = new Map<string, number>();
let busy = 0;
let idle = 0;
for (const [id, time] of selfTime) {
  const frame = nodes.get(id)!.callFrame;
  if (frame.functionName === '(idle)') {
    idle += time;
    continue;
  }
  busy += time;
  let owner: string | undefined;
  for (let cur: number | undefined = id; cur !== undefined && !owner; cur = parents.get(cur)) {
    owner = library(nodes.get(cur)!.callFrame.url);
  }
  owner ??= ['(garbage collector)', '(program)'].includes(frame.functionName) ? frame.functionName : 'node core';
  byLibrary.set(owner, (byLibrary.get(owner) ?? 0) + time);
  const name = `${frame.functionName || '(anonymous)'} ${library(frame.url) ?? 'node'}:${frame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + time);
}

const print = (title: string, entries: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [name, time] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * time) / busy).toFixed(1).padStart(6)} %  ${name}`);
  }
};
console.log(`busy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`);
print('busy time by library (Node core and native frames charged to their caller)', byLibrary);
print('self time by function', byFunction);
