// kube-score over every rendered overlay: every check passes or is skipped. The only
// skips allowed beyond kube-score's own (optional checks, single replicas) are the
// exceptions below; each is declared with a `kube-score/ignore` annotation on the object,
// with the reason in a comment there. A new ignore must be added here too, on purpose.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseObjects, type KubeObject } from '../support/kube-apiserver.js';
import { ENVIRONMENTS, prepareRenderTree, type Environment, type RenderTree } from '../support/overlays.js';
import { run, tool } from '../support/tools.js';
import { annotations, id } from './helpers.js';
import { KSOPS_TITLE } from '../support/notes.js';

/** Object -> checks it may skip, and why (the same reasons stand next to the annotations). */
const EXCEPTIONS: Record<Environment, Record<string, Record<string, string>>> = Object.fromEntries(
  ENVIRONMENTS.map((environment) => {
    const common: Record<string, Record<string, string>> = {
      'StatefulSet/postgres': {
        'container-security-context-user-group-id':
          'the official image runs as uid/gid 999, owner of the data directory',
        'container-image-pull-policy': 'exact pinned tags never change; IfNotPresent works offline on Minikube',
      },
      'Deployment/python-api': {
        'deployment-targeted-by-hpa-does-not-have-replicas-configured':
          'the plan sizes the Deployment (3); Argo CD ignores /spec/replicas so the HPA owns it',
        'container-image-pull-policy': 'pinned tags; Minikube/Tilt images exist only in the node cache',
      },
      'Job/python-api-migrate': {
        'container-image-pull-policy': 'pinned tags; Minikube/Tilt images exist only in the node cache',
      },
      // The backup, restore and drill pods run the server's own image as its postgres user.
      ...Object.fromEntries(
        ['postgres-backup', 'postgres-restore', 'postgres-restore-drill'].map((name) => [
          `CronJob/${name}`,
          {
            'container-security-context-user-group-id':
              'the official image runs as uid/gid 999; the drill initdb needs that passwd entry',
            'container-image-pull-policy': 'exact pinned tags never change; IfNotPresent works offline on Minikube',
          },
        ]),
      ),
    };
    if (environment === 'dev') {
      common['Service/app-service'] = {
        'service-type': 'NodePort is how Minikube reaches the API without the Ingress',
      };
    } else {
      common['NetworkPolicy/allow-acme-solver'] = {
        'networkpolicy-targets-pod': 'solver pods exist only during an ACME challenge',
      };
    }
    return [environment, common];
  }),
) as Record<Environment, Record<string, Record<string, string>>>;

const OPTIONAL_CHECKS = ['container-seccomp-profile', 'container-ports-check'];

interface ScoredObject {
  object_meta: { name: string };
  type_meta: { kind: string };
  checks: {
    check: { id: string; name: string };
    grade: number;
    skipped: boolean;
    comments: { summary: string; description: string }[] | null;
  }[];
}

let tree: RenderTree;
const rendered = new Map<Environment, { objects: KubeObject[]; scored: ScoredObject[] }>();

beforeAll(async () => {
  tree = await prepareRenderTree();
  for (const environment of ENVIRONMENTS) {
    const yaml = await tree.build(environment);
    const args = [
      'score',
      '-',
      '--output-format',
      'json',
      ...OPTIONAL_CHECKS.flatMap((c) => ['--enable-optional-test', c]),
    ];
    // kube-score exits 1 when a check fails; the JSON says which, so read it either way.
    const out = await run(tool('kube-score'), args, { input: yaml });
    rendered.set(environment, { objects: parseObjects(yaml), scored: JSON.parse(out.stdout) as ScoredObject[] });
  }
}, 120_000);

afterAll(async () => {
  await tree?.cleanup();
});

describe.each(ENVIRONMENTS)(`kube-score on overlay %s${KSOPS_TITLE}`, (environment) => {
  it('scores every rendered object', () => {
    const { objects, scored } = rendered.get(environment)!;
    const names = new Set(scored.map((s) => `${s.type_meta.kind}/${s.object_meta.name}`));
    for (const object of objects.filter(
      (o) =>
        ![
          'Namespace',
          'ConfigMap',
          'Secret',
          'ServiceAccount',
          'Role',
          'RoleBinding',
          'Certificate',
          'Issuer',
          // kube-score has no checks for claims.
          'PersistentVolumeClaim',
        ].includes(o.kind),
    )) {
      expect(names).toContain(id(object));
    }
  });

  it('passes every check it does not skip', () => {
    const failures = rendered
      .get(environment)!
      .scored.flatMap((s) =>
        s.checks
          .filter((c) => !c.skipped && c.grade < 10)
          .map(
            (c) =>
              `${s.type_meta.kind}/${s.object_meta.name} ${c.check.id}: ${(c.comments ?? []).map((m) => m.summary).join('; ')}`,
          ),
      );
    expect(failures).toEqual([]);
  });

  it('skips checks by annotation only where this file documents why', () => {
    const ignored: Record<string, Record<string, string>> = {};
    for (const object of rendered.get(environment)!.objects) {
      const list = annotations(object)['kube-score/ignore'];
      if (!list) continue;
      ignored[id(object)] = Object.fromEntries(
        list
          .split(',')
          .map((check) => [check.trim(), EXCEPTIONS[environment][id(object)]?.[check.trim()] ?? 'UNDOCUMENTED']),
      );
    }
    expect(ignored).toEqual(EXCEPTIONS[environment]);
  });
});
