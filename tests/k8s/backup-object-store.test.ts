// The object-store option of the backups (gitops/components/backup-object-store) and the Garage it
// ships: staging rendered with the option added, and Garage's own kustomization, are accepted by a
// real kube-apiserver (strict validation, restricted Pod Security), and the backup uploads only
// after the dump verified while restore and drill read from the bucket. Garage itself does not run
// here (its image cannot be fetched): this proves the manifests; the upload, retention and restore
// from the bucket run in backup-object-store-upload.test.ts, against a stand-in S3 server.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import {
  crdFiles,
  parseObjects,
  startKubeApiServer,
  type KubeApiServer,
  type KubeObject,
} from '../support/kube-apiserver.js';
import { prepareRenderTree, type RenderTree } from '../support/overlays.js';
import { REPO_ROOT, runOk, tool } from '../support/tools.js';
import { cronJobPodSpec, find, id, renderStagingWithObjectStore, workloads } from './helpers.js';

let server: KubeApiServer;
let tree: RenderTree;
let staging: KubeObject[] = [];
let garage: KubeObject[] = [];

const podSpec = (name: string) => cronJobPodSpec(staging, name);

beforeAll(async () => {
  [server, tree] = await Promise.all([startKubeApiServer(), prepareRenderTree()]);
  staging = await renderStagingWithObjectStore(tree);
  await server.installCrds(crdFiles('cert-manager'));
  garage = parseObjects(
    await runOk(tool('kustomize'), [
      'build',
      path.join(REPO_ROOT, 'gitops', 'components', 'backup-object-store', 'garage'),
    ]),
  );
  for (const namespace of [find(staging, 'Namespace', 'python-api-ns'), find(garage, 'Namespace', 'object-store')])
    await server.apply(namespace);
  for (const account of staging.filter((o) => o.kind === 'ServiceAccount')) await server.apply(account);
  await server.apply({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: 'default', namespace: 'object-store' },
  });
}, 180_000);

afterAll(async () => {
  await Promise.all([server?.stop(), tree?.cleanup()]);
});

async function problemsOf(objects: KubeObject[]): Promise<string[]> {
  const problems: string[] = [];
  // A Pod as its controller would create it (a StatefulSet adds its claims as volumes).
  const pods = workloads(objects).map(({ object, template }) => {
    const claims =
      (object.spec as { volumeClaimTemplates?: { metadata: { name: string } }[] }).volumeClaimTemplates ?? [];
    const volumes = [
      ...(template.spec.volumes ?? []),
      ...claims.map((c) => ({ name: c.metadata.name, persistentVolumeClaim: { claimName: `${c.metadata.name}-0` } })),
    ];
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${object.metadata.name}-dry-run`,
        namespace: object.metadata.namespace,
        labels: template.metadata.labels,
      },
      spec: { ...template.spec, volumes },
    };
  }) as KubeObject[];
  for (const object of [...objects, ...pods]) {
    const result = await server.applyDryRun(object);
    if (!result.accepted) problems.push(`${id(object)}: ${result.status} ${result.message}`);
    for (const warning of result.warnings) problems.push(`${id(object)}: warning: ${warning}`);
  }
  return problems;
}

describe('the object-store option', () => {
  it('renders staging with it into objects and pods the API server accepts without a warning', async () => {
    expect(await problemsOf(staging)).toEqual([]);
  });

  it('runs the verified dump as an init container, so the upload starts only after it succeeded', () => {
    const spec = podSpec('postgres-backup');
    expect(spec.initContainers?.map((c) => c.name)).toEqual(['backup']);
    expect(spec.containers.map((c) => c.name)).toEqual(['upload']);
    const upload = spec.containers[0]!;
    expect(upload.args?.[0]).toMatch(/^rclone copy \/backups "store:\$BUCKET"/);
    expect(upload.volumeMounts?.find((m) => m.name === 'backups')).toMatchObject({ readOnly: true });
    expect(spec.volumes?.find((v) => v.name === 'object-store')?.secret?.secretName).toBe('backup-object-store');
  });

  it('has restore and drill fetch the dumps from the bucket into a scratch volume instead of the claim', () => {
    for (const name of ['postgres-restore', 'postgres-restore-drill']) {
      const spec = podSpec(name);
      expect([name, spec.initContainers?.map((c) => c.name)]).toEqual([name, ['fetch']]);
      const backups = spec.volumes?.find((v) => v.name === 'backups');
      expect([name, backups?.persistentVolumeClaim, backups?.emptyDir]).toEqual([
        name,
        undefined,
        { sizeLimit: '6Gi' },
      ]);
    }
  });

  it('ships Garage as objects and a pod the API server accepts without a warning', async () => {
    expect(garage.map((o) => o.kind).sort()).toEqual([
      'ConfigMap',
      'Namespace',
      'NetworkPolicy',
      'Service',
      'StatefulSet',
    ]);
    expect(await problemsOf(garage)).toEqual([]);
  });
});
