// Every rendered object of every overlay goes through a real kube-apiserver: server-side
// apply, dry run, strict field validation, admission (Pod Security "restricted" included),
// after the CRDs the manifests use are installed and the namespace exists for real.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { parse } from 'yaml';
import { crdFiles, startKubeApiServer, type KubeApiServer, type KubeObject } from '../support/kube-apiserver.js';
import { ENVIRONMENTS, prepareRenderTree, type Environment, type RenderTree } from '../support/overlays.js';
import { runOk } from '../support/tools.js';
import { find, id, workloads, type PodSpec } from './helpers.js';
import { KSOPS_TITLE } from '../support/notes.js';

let server: KubeApiServer;
let tree: RenderTree;
let rendered = new Map<Environment, KubeObject[]>();

beforeAll(async () => {
  [server, tree] = await Promise.all([startKubeApiServer(), prepareRenderTree()]);
  rendered = await tree.objectsByEnvironment();
  // Only the cert-manager kinds (Certificate, Issuer) are custom resources here.
  await server.installCrds(crdFiles('cert-manager'));
  const dev = rendered.get('dev') ?? [];
  await server.apply(find(dev, 'Namespace', 'python-api-ns'));
  // Pods are admitted only when their ServiceAccount exists.
  for (const account of dev.filter((o) => o.kind === 'ServiceAccount')) await server.apply(account);
}, 180_000);

afterAll(async () => {
  await Promise.all([server?.stop(), tree?.cleanup()]);
});

/** A Pod as its controller would create it from the template (a StatefulSet adds its claims as volumes). */
function podFrom(
  owner: KubeObject,
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec },
): KubeObject {
  const spec = structuredClone(template.spec);
  const claims = (owner.spec as { volumeClaimTemplates?: { metadata: { name: string } }[] }).volumeClaimTemplates ?? [];
  spec.volumes = [
    ...(spec.volumes ?? []),
    ...claims.map((claim) => ({
      name: claim.metadata.name,
      persistentVolumeClaim: { claimName: `${claim.metadata.name}-${owner.metadata.name}-0` },
    })),
  ];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${owner.metadata.name}-dry-run`,
      namespace: owner.metadata.namespace as string,
      labels: template.metadata.labels,
    },
    spec,
  };
}

describe.each(ENVIRONMENTS)(`overlay %s on a real kube-apiserver${KSOPS_TITLE}`, (environment) => {
  const objects = () => rendered.get(environment) ?? [];

  it('accepts every object (server-side apply, dry run, strict field validation) without a warning', async () => {
    expect(objects().length).toBeGreaterThan(20);
    const problems: string[] = [];
    for (const object of objects()) {
      const result = await server.applyDryRun(object);
      if (!result.accepted) problems.push(`${id(object)}: ${result.status} ${result.message}`);
      for (const warning of result.warnings) problems.push(`${id(object)}: warning: ${warning}`);
    }
    expect(problems).toEqual([]);
  });

  it("admits the pod of every workload under the namespace's restricted Pod Security Standard", async () => {
    const problems: string[] = [];
    for (const { object, template } of workloads(objects())) {
      const result = await server.applyDryRun(podFrom(object, template));
      if (!result.accepted) problems.push(`${id(object)}: ${result.message}`);
      for (const warning of result.warnings) problems.push(`${id(object)}: warning: ${warning}`);
    }
    expect(problems).toEqual([]);
  });
});

describe('the checks can fail', () => {
  it('strict field validation rejects an unknown field', async () => {
    const deployment = structuredClone(find(rendered.get('dev') ?? [], 'Deployment', 'python-api')) as KubeObject & {
      spec: Record<string, unknown>;
    };
    deployment.spec.replica = 3;
    const result = await server.applyDryRun(deployment);
    expect(result.accepted).toBe(false);
    expect(result.message).toMatch(/\.spec\.replica: field not declared in schema/);
  });

  it('Pod Security admission rejects a pod that runs as root with privilege escalation', async () => {
    const [api] = workloads(rendered.get('dev') ?? []).filter(({ object }) => object.kind === 'Deployment');
    const template = structuredClone(api!.template);
    template.spec.securityContext = {};
    template.spec.containers[0]!.securityContext = { allowPrivilegeEscalation: true };
    const result = await server.applyDryRun(podFrom(api!.object, template));
    expect(result.accepted).toBe(false);
    expect(result.message).toMatch(/violates PodSecurity "restricted/);
  });
});

describe("Argo CD's decryption key", () => {
  it('the sops-age Secret from scripts/secrets/argocd-key.sh is valid for the argocd namespace', async () => {
    await server.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'argocd' } });
    const manifest = await runOk(
      'bash',
      [path.join(tree.dir, 'scripts', 'secrets', 'argocd-key.sh'), '--print', 'prod'],
      {
        cwd: tree.dir,
        env: tree.env(),
      },
    );
    const result = await server.applyDryRun(parse(manifest) as KubeObject);
    expect({ accepted: result.accepted, message: result.message }).toEqual({ accepted: true, message: '' });
  });
});
