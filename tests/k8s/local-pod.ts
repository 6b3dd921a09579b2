// Runs the containers of a rendered pod on this machine, the way the kubelet starts them but without
// their images: each container's command, args and env exactly as rendered, with every volume's
// mount path replaced by a host directory that plays the volume, and the programs taken from
// .tools/bin (the pinned releases of what the images carry: pg_dump, rclone, ...). Init containers
// run first, one after another, and the first one that fails ends the pod (restartPolicy: Never):
// the app containers then never start. As root, everything runs as the unprivileged postgres user,
// standing in for the pods' uid 999. Not enforced here: readOnly mounts, resource limits, the
// network policy.
import { execFile, execFileSync } from 'node:child_process';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { KubeObject } from '../support/kube-apiserver.js';
import { TOOLS_BIN } from '../support/tools.js';
import type { Container, PodSpec } from './helpers.js';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { configMapKeyRef?: { name: string; key: string } };
}

export interface ContainerResult {
  name: string;
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

export interface LocalPodOptions {
  /** The rendered objects the pod refers to: ConfigMaps for configMap volumes and env. */
  objects: KubeObject[];
  /**
   * Host directories playing volumes (claims and Secrets must be given; configMap volumes are
   * written from the rendered ConfigMap and emptyDirs start empty when not given).
   */
  volumes?: Record<string, string>;
  /** Env values that differ on this machine, e.g. a Service's name and port (PGHOST, PGPORT). */
  env?: Record<string, string>;
}

/** The user the scripts run as: as root, the unprivileged postgres user (initdb refuses root). */
export const RUN_AS: { uid: number; gid: number } | undefined =
  os.userInfo().uid === 0
    ? {
        uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
        gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
      }
    : undefined;

/** A directory the pod's user owns. */
export async function userDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  if (RUN_AS) await chown(dir, RUN_AS.uid, RUN_AS.gid);
  return dir;
}

/** Writes files into a directory, owned by the pod's user and readable by it only. */
export async function writeUserFiles(dir: string, files: Record<string, string>): Promise<string> {
  await userDir(dir);
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dir, name);
    await writeFile(file, text, { mode: 0o600 });
    if (RUN_AS) await chown(file, RUN_AS.uid, RUN_AS.gid);
  }
  return dir;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class LocalPod {
  private readonly volumes = new Map<string, string>();
  private workDir: string | undefined;

  constructor(
    readonly spec: PodSpec,
    private readonly options: LocalPodOptions,
  ) {
    for (const [name, dir] of Object.entries(options.volumes ?? {})) this.volumes.set(name, dir);
  }

  /** The host directory playing a volume (created on first use for configMap and emptyDir volumes). */
  async volumeDir(name: string): Promise<string> {
    const given = this.volumes.get(name);
    if (given) return given;
    const volume = this.spec.volumes?.find((v) => v.name === name);
    if (!volume) throw new Error(`the pod has no volume ${name}`);
    this.workDir ??= await userDir(await mkdtemp(path.join(os.tmpdir(), 'local-pod-')));
    const dir = path.join(this.workDir, name);
    if (volume.configMap) {
      const configMap = this.options.objects.find(
        (o) => o.kind === 'ConfigMap' && o.metadata.name === volume.configMap?.name,
      );
      if (!configMap) throw new Error(`volume ${name}: ConfigMap ${volume.configMap.name} is not rendered`);
      await writeUserFiles(dir, (configMap.data ?? {}) as Record<string, string>);
    } else if (volume.emptyDir !== undefined) {
      await userDir(dir);
    } else {
      throw new Error(`volume ${name} (${JSON.stringify(volume)}) needs a host directory: pass it in options.volumes`);
    }
    this.volumes.set(name, dir);
    return dir;
  }

  /** Runs one container (init or app) to completion. */
  async run(name: string): Promise<ContainerResult> {
    const container = [...(this.spec.initContainers ?? []), ...this.spec.containers].find((c) => c.name === name);
    if (!container) throw new Error(`the pod has no container ${name}`);
    const argv = [...(container.command ?? []), ...(container.args ?? [])];
    if (argv.length === 0) throw new Error(`container ${name} has no command: the image's entrypoint cannot run here`);
    const hostPath = await this.pathMapper(container);
    const env: NodeJS.ProcessEnv = { PATH: `${TOOLS_BIN}${path.delimiter}${process.env.PATH ?? ''}` };
    for (const variable of (container.env ?? []) as EnvVar[]) {
      env[variable.name] = this.options.env?.[variable.name] ?? hostPath(this.envValue(name, variable));
    }
    const [file, ...args] = argv.map(hostPath);
    const started = Date.now();
    return new Promise((resolve) => {
      execFile(
        file as string,
        args,
        { ...RUN_AS, env, cwd: os.tmpdir(), timeout: 300_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
        (error, stdout, stderr) =>
          resolve({
            name,
            code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
            stdout,
            stderr: error && typeof error.code !== 'number' ? `${stderr}\n${error.message}` : stderr,
            seconds: (Date.now() - started) / 1000,
          }),
      );
    });
  }

  /**
   * The pod: its init containers in order, stopping at the first that fails, then its app
   * containers together. The results of the containers that ran, in that order.
   */
  async runAll(): Promise<ContainerResult[]> {
    const results: ContainerResult[] = [];
    for (const container of this.spec.initContainers ?? []) {
      const result = await this.run(container.name);
      results.push(result);
      if (result.code !== 0) return results;
    }
    results.push(...(await Promise.all(this.spec.containers.map((c) => this.run(c.name)))));
    return results;
  }

  async cleanup(): Promise<void> {
    if (this.workDir) await rm(this.workDir, { recursive: true, force: true });
  }

  private envValue(container: string, variable: EnvVar): string {
    if (variable.value !== undefined) return variable.value;
    const ref = variable.valueFrom?.configMapKeyRef;
    const configMap = ref && this.options.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === ref.name);
    const value = ref && (configMap?.data as Record<string, string> | undefined)?.[ref.key];
    if (value === undefined)
      throw new Error(`${container}: env ${variable.name} (${JSON.stringify(variable.valueFrom)}) cannot be resolved`);
    return value;
  }

  /**
   * Replaces each mount path, where it starts a word, by its volume's host directory (one pass, so
   * a host directory is never mapped again: /backups -> /tmp/x/backups stays clear of /tmp).
   */
  private async pathMapper(container: Container): Promise<(text: string) => string> {
    const mounts = [...(container.volumeMounts ?? [])].sort((a, b) => b.mountPath.length - a.mountPath.length);
    if (mounts.length === 0) return (text) => text;
    const dirs = new Map<string, string>();
    for (const mount of mounts) dirs.set(mount.mountPath, await this.volumeDir(mount.name));
    const pattern = new RegExp(
      `(?<=^|[\\s"'=])(${mounts.map((m) => escape(m.mountPath)).join('|')})(?=$|[/\\s"'])`,
      'g',
    );
    return (text) => text.replace(pattern, (mountPath) => dirs.get(mountPath) as string);
  }
}
