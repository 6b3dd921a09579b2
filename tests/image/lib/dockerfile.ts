import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { REPO_ROOT } from '../../support/tools.js';

export const dockerfilePath = path.join(REPO_ROOT, 'Dockerfile');

/** One build stage: its FROM line and every instruction up to the next FROM. */
export interface Stage {
  /** The name after `AS`, if any. */
  name: string | undefined;
  /** What the FROM line builds on: an image reference or an earlier stage's name. */
  base: string;
  /** True when `base` is an earlier stage of this Dockerfile rather than an image. */
  basedOnStage: boolean;
  instructions: Instruction[];
}

export interface ParsedDockerfile {
  text: string;
  stages: Stage[];
  stage(name: string): Stage;
}

/** Parses the Dockerfile with dockerfile-ast (the parser behind VS Code's Docker support). */
export function parseDockerfile(text: string = readFileSync(dockerfilePath, 'utf8')): ParsedDockerfile {
  const dockerfile = DockerfileParser.parse(text);
  const stages: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const args = instruction.getArguments().map((a) => a.getValue());
      const base = args[0] ?? '';
      const asIndex = args.findIndex((a) => a.toUpperCase() === 'AS');
      const name = asIndex >= 0 ? args[asIndex + 1] : undefined;
      const basedOnStage = stages.some((s) => s.name === base);
      stages.push({ name, base, basedOnStage, instructions: [] });
    } else {
      const current = stages.at(-1);
      if (!current) throw new Error(`${instruction.getKeyword()} before the first FROM`);
      current.instructions.push(instruction);
    }
  }
  return {
    text,
    stages,
    stage(name: string): Stage {
      const found = stages.find((s) => s.name === name);
      if (!found) throw new Error(`Dockerfile has no stage named "${name}"`);
      return found;
    },
  };
}

/** The chain of stages `name` builds on, itself first, ending at the stage FROM an image. */
export function lineage(df: ParsedDockerfile, name: string): Stage[] {
  const chain: Stage[] = [];
  let stage: Stage | undefined = df.stage(name);
  while (stage) {
    chain.push(stage);
    stage = stage.basedOnStage ? df.stage(stage.base) : undefined;
  }
  return chain;
}

/** Instructions in effect for a stage: inherited ones first (USER, ENV, ... carry over). */
export function effectiveInstructions(df: ParsedDockerfile, name: string): Instruction[] {
  return lineage(df, name)
    .reverse()
    .flatMap((s) => s.instructions);
}

export const keyword = (i: Instruction) => i.getKeyword().toUpperCase();
export const args = (i: Instruction) => i.getArguments().map((a) => a.getValue());

/** The raw text after the keyword, with line continuations joined. */
export function content(i: Instruction): string {
  return (i.getRawArgumentsContent() ?? '')
    .replace(/\\\r?\n/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** ENTRYPOINT/CMD in exec (JSON) form, as an argv array; undefined for the shell form. */
export function execForm(i: Instruction): string[] | undefined {
  const raw = content(i);
  if (!raw.startsWith('[')) return undefined;
  return JSON.parse(raw) as string[];
}

/** The flags of a COPY/ADD/RUN instruction (`--from=build` -> { from: 'build' }). */
export function flags(i: Instruction): Record<string, string> {
  const result: Record<string, string> = {};
  const getFlags = (i as unknown as { getFlags?: () => { getName(): string; getValue(): string | null }[] }).getFlags;
  for (const flag of getFlags ? getFlags.call(i) : []) result[flag.getName()] = flag.getValue() ?? '';
  return result;
}

/** COPY/ADD sources and destination, flags removed. */
export function copyParts(i: Instruction): { sources: string[]; destination: string } {
  const parts = args(i).filter((a) => !a.startsWith('--'));
  const destination = parts.pop() ?? '';
  return { sources: parts, destination };
}

/** The last value an instruction of this keyword set, following the stage's lineage. */
export function lastOf(df: ParsedDockerfile, stageName: string, kw: string): Instruction | undefined {
  return effectiveInstructions(df, stageName)
    .filter((i) => keyword(i) === kw)
    .at(-1);
}

/** ENV values in effect for a stage (both `ENV A=1 B=2` and `ENV A 1`). */
export function envOf(df: ParsedDockerfile, stageName: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of effectiveInstructions(df, stageName).filter((x) => keyword(x) === 'ENV')) {
    const props = (
      i as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }
    ).getProperties();
    for (const p of props) env[p.getName()] = p.getValue() ?? '';
  }
  return env;
}

/** LABEL keys and values set in a stage's lineage. */
export function labelsOf(df: ParsedDockerfile, stageName: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const i of effectiveInstructions(df, stageName).filter((x) => keyword(x) === 'LABEL')) {
    const props = (
      i as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }
    ).getProperties();
    for (const p of props) labels[p.getName()] = p.getValue() ?? '';
  }
  return labels;
}

/** The shell command of a RUN instruction (flags such as --mount removed). */
export function runCommand(i: Instruction): string {
  return content(i)
    .replace(/^(--[a-z-]+=\S+\s+)+/, '')
    .trim();
}
