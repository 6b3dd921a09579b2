// A real OCI registry (distribution, tool `registry`) on 127.0.0.1 for tests that resolve image
// tags to digests. Docker Hub cannot be reached here, so `dockerHubConfig` is a regctl
// configuration that sends docker.io's requests to this registry instead: a stand-in for Docker
// Hub, which the tests that use it name in their titles.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { note } from './notes.js';
import { freePort, spawnLogged, stopProcess, tail } from './processes.js';
import { runOk, tool } from './tools.js';
import { waitFor } from './wait.js';

export interface Registry {
  /** host:port */
  address: string;
  /** REGCTL_CONFIG for a client that should find docker.io's images here. */
  dockerHubConfig: string;
  /** Creates an image (one empty layer) as repository:tag; resolves with its manifest digest as served. */
  createImage(repository: string, tag: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startRegistry(): Promise<Registry> {
  note({
    kind: 'stand-in',
    what: "Docker Hub: a distribution registry on 127.0.0.1 answered for docker.io (regctl's hostname mapping)",
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'registry-'));
  const address = `127.0.0.1:${await freePort()}`;
  const config = path.join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'storage:',
      `  filesystem: { rootdirectory: ${path.join(dir, 'data')} }`,
      `http: { addr: "${address}" }`,
      'log: { level: warn }',
      '',
    ].join('\n'),
  );
  const dockerHubConfig = path.join(dir, 'regctl.json');
  await writeFile(
    dockerHubConfig,
    JSON.stringify({
      hosts: { [address]: { tls: 'disabled' }, 'docker.io': { hostname: address, tls: 'disabled' } },
    }),
  );
  const log = path.join(dir, 'registry.log');
  let child: ChildProcess | undefined = spawnLogged(tool('registry'), ['serve', config], log);
  const stop = async () => {
    await stopProcess(child);
    child = undefined;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('the registry to answer /v2/', async () => (await fetch(`http://${address}/v2/`)).ok, {
      timeoutMs: 30_000,
      abortIf: () => (child && child.exitCode !== null ? `registry exited: ${tail(log)}` : undefined),
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    address,
    dockerHubConfig,
    async createImage(repository, tag) {
      await runOk(tool('regctl'), ['image', 'create', `${address}/${repository}:${tag}`], {
        env: { ...process.env, REGCTL_CONFIG: dockerHubConfig },
      });
      // The digest as the registry itself reports it, not as the client under test computes it.
      const response = await fetch(`http://${address}/v2/${repository}/manifests/${tag}`, {
        method: 'HEAD',
        headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
      });
      const digest = response.headers.get('docker-content-digest');
      if (!response.ok || !digest)
        throw new Error(`registry has no manifest for ${repository}:${tag}: ${response.status}`);
      return digest;
    },
    stop,
  };
}
