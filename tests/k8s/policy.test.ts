// What every rendered overlay must satisfy beyond schema validity: hardened containers,
// selectors and ports that connect, the plan's numbers, and the Argo CD ordering.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_CONFIG_DIR, DEFAULT_SECRETS_DIR, loadConfig, type Config } from '../../apps/api/src/config/config.js';
import type { KubeObject } from '../support/kube-apiserver.js';
import { ENVIRONMENTS, renderEveryOverlayOnce, type Environment } from '../support/overlays.js';
import {
  allContainers,
  annotations,
  dataOf,
  find,
  findGenerated,
  id,
  labels,
  quantity,
  selects,
  unpinnedImages,
  workloads,
  type Container,
  type LabelSelector,
  type PodTemplate,
} from './helpers.js';
import { KSOPS_TITLE } from '../support/notes.js';
import { REPO_ROOT } from '../support/tools.js';
import { parse as parseYaml } from 'yaml';

const overlays = renderEveryOverlayOnce();

const { objectsOf } = overlays;

/** The configuration the API would load in its pod: ConfigMap and Secret files, no env. */
async function appConfigIn(objects: KubeObject[]): Promise<Config> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'app-config-'));
  try {
    for (const [sub, object] of [
      ['config', findGenerated(objects, 'ConfigMap', 'app-config')],
      ['secrets', find(objects, 'Secret', 'app-secret')],
    ] as const) {
      await mkdir(path.join(dir, sub));
      for (const [key, value] of Object.entries(dataOf(object))) await writeFile(path.join(dir, sub, key), value);
    }
    return loadConfig({ env: {}, configDir: path.join(dir, 'config'), secretsDir: path.join(dir, 'secrets') });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface PolicyPeer {
  ipBlock?: { cidr: string };
  namespaceSelector?: LabelSelector;
  podSelector?: LabelSelector;
}

/**
 * Every way a connection can reach the API pods' HTTP port (5000), as the NetworkPolicies and
 * app-service's type allow it: "ingress controller" (pods labelled ingress-nginx in the
 * ingress-nginx namespace) or a description of anything else.
 */
function waysToApiHttpPort(objects: KubeObject[]): string[] {
  const api = find(objects, 'Deployment', 'python-api').spec as { template: PodTemplate };
  const podLabels = api.template.metadata.labels;
  const httpPort = api.template.spec.containers[0]?.ports?.find((p) => p.name === 'http')?.containerPort;
  const ways = new Set<string>();
  const serviceType = (find(objects, 'Service', 'app-service').spec as { type?: string }).type ?? 'ClusterIP';
  if (serviceType !== 'ClusterIP') ways.add(`app-service type ${serviceType}`);
  for (const policy of objects.filter((o) => o.kind === 'NetworkPolicy')) {
    const spec = policy.spec as {
      podSelector: LabelSelector;
      ingress?: { from?: PolicyPeer[]; ports?: { port?: number | string }[] }[];
    };
    if (!selects(spec.podSelector, podLabels)) continue;
    for (const rule of spec.ingress ?? []) {
      const ports = rule.ports ?? [];
      const coversHttp =
        ports.length === 0 || ports.some((p) => p.port === undefined || p.port === httpPort || p.port === 'http');
      if (!coversHttp) continue;
      if (!rule.from || rule.from.length === 0) ways.add(`${id(policy)}: every source`);
      for (const peer of rule.from ?? []) {
        const namespace = peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'];
        const pods = peer.podSelector?.matchLabels?.['app.kubernetes.io/name'];
        if (
          namespace === 'ingress-nginx' &&
          pods === 'ingress-nginx' &&
          Object.keys(peer.namespaceSelector ?? {}).length === 1 &&
          Object.keys(peer.namespaceSelector?.matchLabels ?? {}).length === 1
        )
          ways.add('ingress controller');
        else ways.add(`${id(policy)}: ${JSON.stringify(peer)}`);
      }
    }
  }
  return [...ways].sort();
}

describe.each(ENVIRONMENTS)(`overlay %s${KSOPS_TITLE}`, (environment) => {
  describe('containers', () => {
    it('every container and init container has CPU and memory requests and limits', () => {
      const missing = allContainers(objectsOf(environment)).flatMap(({ owner, container }) =>
        ['requests', 'limits'].flatMap((kind) =>
          ['cpu', 'memory']
            .filter((resource) => !container.resources?.[kind as 'requests' | 'limits']?.[resource])
            .map((resource) => `${id(owner)} ${container.name}: ${kind}.${resource}`),
        ),
      );
      expect(missing).toEqual([]);
    });

    it('requests never exceed limits', () => {
      const wrong = allContainers(objectsOf(environment)).flatMap(({ owner, container }) =>
        Object.entries(container.resources?.requests ?? {})
          .filter(([resource, request]) => {
            const limit = container.resources?.limits?.[resource];
            return limit !== undefined && quantity(request) > quantity(limit);
          })
          .map(([resource]) => `${id(owner)} ${container.name}: ${resource}`),
      );
      expect(wrong).toEqual([]);
    });

    // Job containers (a CronJob's too) run to completion: there is nothing for a probe to
    // restart or to take out of a Service, so only long-running workloads need them.
    it('every long-running container has readiness and liveness probes, the API a startup probe too', () => {
      const missing = allContainers(objectsOf(environment))
        .filter(({ owner, init }) => !init && owner.kind !== 'Job' && owner.kind !== 'CronJob')
        .flatMap(({ owner, container }) =>
          (['readinessProbe', 'livenessProbe'] as const)
            .filter((p) => !container[p])
            .map((p) => `${id(owner)} ${container.name}: ${p}`),
        );
      expect(missing).toEqual([]);
      const api = workloads(objectsOf(environment)).find(({ object }) => object.kind === 'Deployment');
      expect(api?.template.spec.containers[0]?.startupProbe).toBeDefined();
    });

    it('every container runs with the restricted security context', () => {
      const problems = allContainers(objectsOf(environment)).flatMap(({ owner, template, container }) => {
        const pod = template.spec.securityContext ?? {};
        const sc = container.securityContext ?? {};
        const out: string[] = [];
        const where = `${id(owner)} ${container.name}`;
        if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) out.push(`${where}: runAsNonRoot`);
        const uid = (sc.runAsUser ?? pod.runAsUser) as number | undefined;
        if (uid === undefined || uid === 0) out.push(`${where}: explicit non-zero runAsUser`);
        const seccomp = ((sc.seccompProfile ?? pod.seccompProfile) as { type?: string } | undefined)?.type;
        if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push(`${where}: seccompProfile`);
        if (sc.allowPrivilegeEscalation !== false) out.push(`${where}: allowPrivilegeEscalation`);
        if (sc.privileged === true) out.push(`${where}: privileged`);
        if (sc.readOnlyRootFilesystem !== true) out.push(`${where}: readOnlyRootFilesystem`);
        if (!sc.capabilities?.drop?.includes('ALL')) out.push(`${where}: capabilities.drop ALL`);
        if ((sc.capabilities?.add ?? []).length > 0) out.push(`${where}: capabilities.add`);
        return out;
      });
      expect(problems).toEqual([]);
    });

    it('no pod uses the host namespaces, hostPath volumes or a mounted service account token', () => {
      const problems = workloads(objectsOf(environment)).flatMap(({ object, template }) => {
        const spec = template.spec;
        const out: string[] = [];
        for (const field of ['hostNetwork', 'hostPID', 'hostIPC'])
          if (spec[field] === true) out.push(`${id(object)}: ${field}`);
        for (const volume of spec.volumes ?? [])
          if ('hostPath' in volume) out.push(`${id(object)}: hostPath ${volume.name}`);
        if (spec.automountServiceAccountToken !== false) out.push(`${id(object)}: automountServiceAccountToken`);
        if (!spec.serviceAccountName || spec.serviceAccountName === 'default')
          out.push(`${id(object)}: own ServiceAccount`);
        else if (
          !objectsOf(environment).some(
            (o) => o.kind === 'ServiceAccount' && o.metadata.name === spec.serviceAccountName,
          )
        ) {
          out.push(`${id(object)}: ServiceAccount ${spec.serviceAccountName} is not rendered`);
        }
        return out;
      });
      expect(problems).toEqual([]);
    });

    it("no container takes a Secret through its environment, except the migration Job's DATABASE_URL", () => {
      // Environment variables are inherited by every child process and readable in
      // /proc/<pid>/environ; files can be limited by mode and are read only by what asks for them.
      // prisma.config.ts reads DATABASE_URL from the environment, so the Job keeps that one.
      const fromSecrets = allContainers(objectsOf(environment)).flatMap(({ owner, container }) => [
        ...(container.env ?? [])
          .filter((e) => (e as { valueFrom?: { secretKeyRef?: unknown } }).valueFrom?.secretKeyRef)
          .map((e) => `${id(owner)} ${container.name}: env ${(e as { name: string }).name}`),
        ...(container.envFrom ?? [])
          .filter((e) => (e as { secretRef?: unknown }).secretRef)
          .map(() => `${id(owner)} ${container.name}: envFrom secretRef`),
      ]);
      expect(fromSecrets).toEqual(['Job/python-api-migrate migrate: env DATABASE_URL']);
    });

    it('PostgreSQL and its exporter read the credentials from files of postgres-secret (*_FILE variables)', () => {
      const statefulSet = find(objectsOf(environment), 'StatefulSet', 'postgres').spec as { template: PodTemplate };
      const spec = statefulSet.template.spec;
      const secretVolume = spec.volumes?.find((v) => v.secret?.secretName === 'postgres-secret');
      expect(secretVolume).toBeDefined();
      const secretKeys = Object.keys(dataOf(find(objectsOf(environment), 'Secret', 'postgres-secret'))).sort();
      /** Where each *_FILE variable of a container points, resolved to the Secret key it names. */
      const fileVariables = (name: string) => {
        const container = spec.containers.find((c) => c.name === name) as Container;
        const mount = (container.volumeMounts ?? []).find((m) => m.name === secretVolume?.name) as
          { mountPath: string; readOnly?: boolean } | undefined;
        expect({ container: name, readOnly: mount?.readOnly }).toEqual({ container: name, readOnly: true });
        return Object.fromEntries(
          (container.env as { name: string; value?: string }[])
            .filter((e) => e.name.endsWith('_FILE'))
            .map((e) => [e.name, e.value?.startsWith(`${mount?.mountPath}/`) ? path.basename(e.value) : e.value]),
        );
      };
      expect(fileVariables('postgres')).toEqual({
        POSTGRES_USER_FILE: 'POSTGRES_USER',
        POSTGRES_PASSWORD_FILE: 'POSTGRES_PASSWORD',
      });
      expect(fileVariables('postgres-exporter')).toEqual({
        DATA_SOURCE_USER_FILE: 'POSTGRES_USER',
        DATA_SOURCE_PASS_FILE: 'POSTGRES_PASSWORD',
      });
      expect(secretKeys).toEqual(['POSTGRES_PASSWORD', 'POSTGRES_USER']);
      // The probes and the preStop hook run in the same container: they read the same files.
      const commands = JSON.stringify(spec.containers.map((c) => [c.readinessProbe, c.livenessProbe, c.startupProbe]));
      expect(commands).not.toMatch(/\$POSTGRES_(USER|PASSWORD)\b/);
    });

    it('every image carries an explicit tag, never :latest (and, where pinned, a digest after it)', () => {
      const images = allContainers(objectsOf(environment)).map(({ container }) => container.image ?? '');
      expect(images.length).toBeGreaterThan(0);
      for (const image of images) {
        const tag = /^[^@]+:([^/:@]+)(@sha256:[0-9a-f]{64})?$/.exec(image)?.[1];
        expect({ image, tag }).toEqual({ image, tag: expect.stringMatching(/^(?!latest$).+/) });
      }
    });

    it('every image in the release component renders as its name, tag and digest, and the tag agrees with the base', async () => {
      const { parse } = await import('yaml');
      const { readFile } = await import('node:fs/promises');
      const release = parse(
        await readFile(
          path.join(overlays.tree().dir, 'gitops', 'overlays', environment, 'release', 'kustomization.yaml'),
          'utf8',
        ),
      ) as { kind: string; images: { name: string; newName?: string; newTag: string; digest?: string }[] };
      expect(release.kind).toBe('Component');
      expect(Object.keys(release).sort()).toEqual(['apiVersion', 'images', 'kind']);
      expect(release.images.map((i) => i.name).slice(0, 2)).toEqual(['python-api', 'python-api-migrate']);
      const images = allContainers(objectsOf(environment)).map(({ container }) => container.image ?? '');
      for (const pin of release.images) {
        const reference = `${pin.newName ?? pin.name}:${pin.newTag}${pin.digest ? `@${pin.digest}` : ''}`;
        expect({ pin: pin.name, rendered: images.includes(reference) }).toEqual({ pin: pin.name, rendered: true });
      }
      // A third-party pin repeats the base's tag (its digest is resolved for that tag): never another one.
      const base = await readFile(
        path.join(overlays.tree().dir, 'gitops', 'base', 'postgres', 'statefulset.yaml'),
        'utf8',
      );
      for (const pin of release.images.filter((i) => !i.name.startsWith('python-api')))
        expect(base).toContain(`image: ${pin.name}:${pin.newTag}\n`);
    });
  });

  describe('selectors and references', () => {
    const podLabels = () => workloads(objectsOf(environment)).map(({ template }) => template.metadata.labels);

    it('every Service selects the pods of some workload', () => {
      const services = objectsOf(environment).filter((o) => o.kind === 'Service');
      expect(services.length).toBeGreaterThan(0);
      for (const service of services) {
        const selector = (service.spec as { selector?: Record<string, string> }).selector;
        expect({ service: id(service), selected: podLabels().some((l) => selects(selector, l)) }).toEqual({
          service: id(service),
          selected: true,
        });
      }
    });

    it('every Ingress backend names a rendered Service and one of its ports', () => {
      for (const ingress of objectsOf(environment).filter((o) => o.kind === 'Ingress')) {
        const rules = (
          ingress.spec as {
            rules: {
              http: { paths: { backend: { service: { name: string; port: { name?: string; number?: number } } } }[] };
            }[];
          }
        ).rules;
        for (const backend of rules.flatMap((r) => r.http.paths.map((p) => p.backend.service))) {
          const service = find(objectsOf(environment), 'Service', backend.name);
          const ports = (service.spec as { ports: { name: string; port: number }[] }).ports;
          expect(ports.some((p) => p.name === backend.port.name || p.port === backend.port.number)).toBe(true);
        }
      }
    });

    it('the HPA scales the API Deployment', () => {
      const hpa = find(objectsOf(environment), 'HorizontalPodAutoscaler', 'python-api');
      const target = (hpa.spec as { scaleTargetRef: { apiVersion: string; kind: string; name: string } })
        .scaleTargetRef;
      const deployment = find(objectsOf(environment), target.kind, target.name);
      expect(deployment.apiVersion).toBe(target.apiVersion);
    });

    it('the PodDisruptionBudget selects exactly the API pods', () => {
      const pdb = find(objectsOf(environment), 'PodDisruptionBudget', 'python-api');
      const selector = (pdb.spec as { selector: LabelSelector }).selector;
      const matched = workloads(objectsOf(environment)).filter(({ template }) =>
        selects(selector, template.metadata.labels),
      );
      expect(matched.map(({ object }) => id(object))).toEqual(['Deployment/python-api']);
    });

    it('every NetworkPolicy selects pods that exist, and so does every same-namespace peer', () => {
      for (const policy of objectsOf(environment).filter((o) => o.kind === 'NetworkPolicy')) {
        const spec = policy.spec as {
          podSelector: LabelSelector;
          ingress?: { from?: { podSelector?: LabelSelector; namespaceSelector?: unknown }[] }[];
          egress?: { to?: { podSelector?: LabelSelector; namespaceSelector?: unknown }[] }[];
        };
        const isEmpty = Object.keys(spec.podSelector).length === 0;
        // The ACME solver pods are created by cert-manager during issuance, not by these manifests.
        const external = 'acme.cert-manager.io/http01-solver' in (spec.podSelector.matchLabels ?? {});
        if (!isEmpty && !external) {
          expect({ policy: id(policy), matches: podLabels().some((l) => selects(spec.podSelector, l)) }).toEqual({
            policy: id(policy),
            matches: true,
          });
        }
        const peers = [
          ...(spec.ingress ?? []).flatMap((r) => r.from ?? []),
          ...(spec.egress ?? []).flatMap((r) => r.to ?? []),
        ];
        for (const peer of peers.filter((p) => p.podSelector && !p.namespaceSelector)) {
          expect({ policy: id(policy), peerMatches: podLabels().some((l) => selects(peer.podSelector, l)) }).toEqual({
            policy: id(policy),
            peerMatches: true,
          });
        }
      }
    });

    it('denies all ingress and egress by default, then allows DNS for every pod', () => {
      const policies = objectsOf(environment).filter((o) => o.kind === 'NetworkPolicy');
      const deny = policies.find((p) => p.metadata.name === 'default-deny');
      expect(deny?.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
      const dns = find(objectsOf(environment), 'NetworkPolicy', 'allow-dns-egress').spec as {
        egress: { ports: { port: number; protocol: string }[] }[];
      };
      expect(dns.egress[0]?.ports).toEqual(
        expect.arrayContaining([
          { protocol: 'UDP', port: 53 },
          { protocol: 'TCP', port: 53 },
        ]),
      );
    });

    it('PostgreSQL admits only the API and the migration Job, on 5432', () => {
      const policy = find(objectsOf(environment), 'NetworkPolicy', 'allow-clients-to-postgres').spec as {
        ingress: { from: { podSelector: LabelSelector }[]; ports: { port: number }[] }[];
      };
      const admitted = workloads(objectsOf(environment))
        .filter(({ template }) =>
          policy.ingress[0]?.from.some((peer) => selects(peer.podSelector, template.metadata.labels)),
        )
        .map(({ object }) => id(object))
        .sort();
      expect(admitted).toEqual(['Deployment/python-api', 'Job/python-api-migrate']);
      expect(policy.ingress[0]?.ports).toEqual([{ protocol: 'TCP', port: 5432 }]);
    });
  });

  describe('ports and configuration, end to end', () => {
    it('Ingress -> app-service:80 -> container port 5000 = the PORT the app loads', async () => {
      const objects = objectsOf(environment);
      const config = await appConfigIn(objects);
      const ingress = find(objects, 'Ingress', 'python-api').spec as {
        rules: { http: { paths: { backend: { service: { name: string; port: { name: string } } } }[] } }[];
      };
      const backends = ingress.rules.flatMap((r) => r.http.paths.map((p) => p.backend.service));
      expect(new Set(backends.map((b) => `${b.name}:${b.port.name}`))).toEqual(new Set(['app-service:http']));

      const service = find(objects, 'Service', 'app-service').spec as {
        selector: Record<string, string>;
        ports: { name: string; port: number; targetPort: string | number }[];
      };
      const http = service.ports.find((p) => p.name === 'http');
      expect(http?.port).toBe(80);
      const selected = workloads(objects).filter(({ template }) => selects(service.selector, template.metadata.labels));
      expect(selected.map(({ object }) => id(object))).toEqual(['Deployment/python-api']);
      const container = selected[0]?.template.spec.containers[0] as Container;
      const target = container.ports?.find((p) => p.name === http?.targetPort || p.containerPort === http?.targetPort);
      expect(target?.containerPort).toBe(5000);
      expect(config.PORT).toBe(target?.containerPort);
      // The app's own defaults agree too, so a missing ConfigMap key cannot move the port.
      const defaults = loadConfig({ env: {}, configDir: '/nonexistent', secretsDir: '/nonexistent' });
      expect([defaults.PORT, defaults.METRICS_PORT]).toEqual([config.PORT, config.METRICS_PORT]);

      const metrics = service.ports.find((p) => p.name === 'metrics');
      const metricsTarget = container.ports?.find((p) => p.name === metrics?.targetPort);
      expect(metricsTarget?.containerPort).toBe(config.METRICS_PORT);
      // Never routed: no Ingress path leads to the metrics port.
      expect(backends.some((b) => b.port.name === 'metrics')).toBe(false);
    });

    it('every probe targets a declared container port', () => {
      for (const { owner, container } of allContainers(objectsOf(environment))) {
        for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) {
          const port = probe?.httpGet?.port;
          if (port === undefined) continue;
          expect({
            where: `${id(owner)} ${container.name}`,
            declared: container.ports?.some((p) => p.name === port || p.containerPort === port),
          }).toEqual({
            where: `${id(owner)} ${container.name}`,
            declared: true,
          });
        }
      }
    });

    it('the API probes the health endpoints: live for startup/liveness, ready for readiness', () => {
      const api = find(objectsOf(environment), 'Deployment', 'python-api').spec as { template: PodTemplate };
      const container = api.template.spec.containers[0] as Container;
      expect(container.startupProbe?.httpGet?.path).toBe('/health/live');
      expect(container.livenessProbe?.httpGet?.path).toBe('/health/live');
      expect(container.readinessProbe?.httpGet?.path).toBe('/health/ready');
    });

    it('the API reads its settings from the mounted ConfigMap and Secret only (no env, no envFrom)', () => {
      const api = find(objectsOf(environment), 'Deployment', 'python-api').spec as { template: PodTemplate };
      const spec = api.template.spec;
      const container = spec.containers[0] as Container;
      expect(container.env ?? []).toEqual([]);
      expect(container.envFrom ?? []).toEqual([]);
      const mountOf = (volumeName: string | undefined) =>
        container.volumeMounts?.find((m) => m.name === volumeName)?.mountPath;
      const configVolume = spec.volumes?.find((v) => v.configMap);
      const secretVolume = spec.volumes?.find((v) => v.secret);
      expect(configVolume?.configMap?.name).toBe(
        findGenerated(objectsOf(environment), 'ConfigMap', 'app-config').metadata.name,
      );
      expect(secretVolume?.secret?.secretName).toBe('app-secret');
      expect(mountOf(configVolume?.name)).toBe(DEFAULT_CONFIG_DIR);
      expect(mountOf(secretVolume?.name)).toBe(DEFAULT_SECRETS_DIR);
    });

    it('the app accepts the rendered configuration, and DATABASE_URL reaches postgres-service:5432/items with postgres-secret credentials', async () => {
      const objects = objectsOf(environment);
      const config = await appConfigIn(objects);
      expect(config.NODE_ENV).toBe('production');
      const url = new URL(config.DATABASE_URL as string);
      const postgres = dataOf(find(objects, 'Secret', 'postgres-secret'));
      expect(`${url.hostname}:${url.port}${url.pathname}`).toBe('postgres-service:5432/items');
      expect(decodeURIComponent(url.username)).toBe(postgres.POSTGRES_USER);
      expect(decodeURIComponent(url.password)).toBe(postgres.POSTGRES_PASSWORD);
      expect(dataOf(findGenerated(objects, 'ConfigMap', 'postgres-config')).POSTGRES_DB).toBe('items');
      const postgresService = find(objects, 'Service', 'postgres-service').spec as {
        type: string;
        ports: { name: string; port: number }[];
      };
      expect(postgresService.type).toBe('ClusterIP');
      expect(postgresService.ports.find((p) => p.name === 'postgres')?.port).toBe(5432);
    });

    it('shutdown fits the grace period: preStop + SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS < terminationGracePeriodSeconds', async () => {
      const config = await appConfigIn(objectsOf(environment));
      const spec = (find(objectsOf(environment), 'Deployment', 'python-api').spec as { template: PodTemplate }).template
        .spec;
      const preStop = spec.containers[0]?.lifecycle?.preStop?.sleep?.seconds ?? 0;
      expect(preStop).toBeGreaterThan(0);
      const needed = preStop + (config.SHUTDOWN_DELAY_MS + config.SHUTDOWN_TIMEOUT_MS) / 1000;
      expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(needed);
    });

    it('the Ingress limits agree with the app: same body limit, a per-client rate no lower than the app allows', async () => {
      const config = await appConfigIn(objectsOf(environment));
      const notes = annotations(find(objectsOf(environment), 'Ingress', 'python-api'));
      expect(notes['nginx.ingress.kubernetes.io/proxy-body-size']?.toLowerCase()).toBe(
        config.BODY_LIMIT.toLowerCase().replace(/b$/, ''),
      );
      const perMinute = Number(notes['nginx.ingress.kubernetes.io/limit-rpm']);
      expect(perMinute).toBeGreaterThanOrEqual((config.RATE_LIMIT_MAX * 60_000) / config.RATE_LIMIT_WINDOW_MS);
      // nginx closes idle upstream connections at 60 s; the app must keep them longer.
      expect(config.KEEP_ALIVE_TIMEOUT_MS).toBeGreaterThan(60_000);
    });

    it('the database connection budget holds at the HPA maximum plus rollout surge', async () => {
      const config = await appConfigIn(objectsOf(environment));
      const hpa = find(objectsOf(environment), 'HorizontalPodAutoscaler', 'python-api').spec as { maxReplicas: number };
      const deployment = find(objectsOf(environment), 'Deployment', 'python-api').spec as {
        strategy: { rollingUpdate: { maxSurge: string } };
      };
      const surge = Math.ceil((hpa.maxReplicas * parseInt(deployment.strategy.rollingUpdate.maxSurge, 10)) / 100);
      // PostgreSQL's default max_connections (100) minus its 3 superuser slots, minus the
      // exporter and the migration Job (1 each) and 10 for people with psql.
      expect((hpa.maxReplicas + surge) * config.DB_POOL_MAX).toBeLessThanOrEqual(100 - 3 - 2 - 10);
    });
  });

  describe('the plan and the contract', () => {
    it("keeps the plan's shapes: StatefulSet with 5Gi RWO, RollingUpdate 25%, HPA on CPU 70% and memory 80%", () => {
      const objects = objectsOf(environment);
      const statefulSet = find(objects, 'StatefulSet', 'postgres').spec as {
        replicas: number;
        serviceName: string;
        volumeClaimTemplates: { spec: { accessModes: string[]; resources: { requests: { storage: string } } } }[];
      };
      expect(statefulSet.replicas).toBe(1);
      expect(find(objects, 'Service', statefulSet.serviceName).spec).toMatchObject({ clusterIP: 'None' });
      expect(statefulSet.volumeClaimTemplates[0]?.spec.accessModes).toEqual(['ReadWriteOnce']);
      expect(statefulSet.volumeClaimTemplates[0]?.spec.resources.requests.storage).toBe('5Gi');

      const deployment = find(objects, 'Deployment', 'python-api').spec as { strategy: unknown };
      expect(deployment.strategy).toEqual({
        type: 'RollingUpdate',
        rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' },
      });

      const hpa = find(objects, 'HorizontalPodAutoscaler', 'python-api').spec as {
        metrics: { resource: { name: string; target: { averageUtilization: number } } }[];
        behavior: { scaleUp: unknown; scaleDown: { stabilizationWindowSeconds: number; policies: unknown[] } };
      };
      expect(hpa.metrics.map((m) => [m.resource.name, m.resource.target.averageUtilization])).toEqual([
        ['cpu', 70],
        ['memory', 80],
      ]);
      expect(hpa.behavior.scaleUp).toEqual({
        stabilizationWindowSeconds: 0,
        selectPolicy: 'Max',
        policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
      });
      expect(hpa.behavior.scaleDown.stabilizationWindowSeconds).toBeGreaterThan(0);
      expect(hpa.behavior.scaleDown.policies).toEqual([{ type: 'Percent', value: 50, periodSeconds: 15 }]);
    });

    it('every object carries the recommended labels and sits in python-api-ns', () => {
      for (const object of objectsOf(environment)) {
        expect({
          object: id(object),
          name: labels(object)['app.kubernetes.io/name'],
          partOf: labels(object)['app.kubernetes.io/part-of'],
        }).toEqual({
          object: id(object),
          name: expect.any(String),
          partOf: 'python-api',
        });
        if (object.kind !== 'Namespace')
          expect({ object: id(object), ns: object.metadata.namespace }).toEqual({
            object: id(object),
            ns: 'python-api-ns',
          });
      }
    });

    it('the namespace enforces the restricted Pod Security Standard', () => {
      const ns = find(objectsOf(environment), 'Namespace', 'python-api-ns');
      expect(labels(ns)['pod-security.kubernetes.io/enforce']).toBe('restricted');
    });

    it('every object has the Argo CD sync wave the contract gives its role', () => {
      const expected = (object: KubeObject): string => {
        const component = labels(object)['app.kubernetes.io/component'];
        if (
          object.kind === 'StatefulSet' ||
          (object.kind === 'Service' && labels(object)['app.kubernetes.io/name'] === 'postgres')
        )
          return '-1';
        if (object.kind === 'Job') return '0';
        if (
          ['Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Ingress', 'Certificate'].includes(
            object.kind,
          )
        )
          return '1';
        if (object.kind === 'Service' && component === 'api') return '1';
        // Namespace, ConfigMaps, Secrets, ServiceAccounts, RBAC, NetworkPolicies, Issuer.
        return '-2';
      };
      const waves = objectsOf(environment).map((o) => [id(o), annotations(o)['argocd.argoproj.io/sync-wave']]);
      expect(waves).toEqual(objectsOf(environment).map((o) => [id(o), expected(o)]));
    });

    it('the migration Job is a Sync hook recreated before each run', () => {
      const job = find(objectsOf(environment), 'Job', 'python-api-migrate');
      expect(annotations(job)).toMatchObject({
        'argocd.argoproj.io/hook': 'Sync',
        'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
      });
      const container = (job.spec as { template: PodTemplate }).template.spec.containers[0] as Container;
      expect(container.image).toMatch(/^python-api-migrate:/);
    });

    it("the Certificate is issued by the overlay's Issuer for the Ingress host", () => {
      const objects = objectsOf(environment);
      const certificate = find(objects, 'Certificate', 'api-tls').spec as {
        secretName: string;
        dnsNames: string[];
        issuerRef: { kind: string; name: string };
      };
      find(objects, certificate.issuerRef.kind, certificate.issuerRef.name);
      const ingress = find(objects, 'Ingress', 'python-api').spec as {
        tls: { hosts: string[]; secretName: string }[];
        rules: { host: string }[];
      };
      expect(ingress.tls[0]?.secretName).toBe(certificate.secretName);
      expect(ingress.tls[0]?.hosts).toEqual(certificate.dnsNames);
      expect(ingress.rules.map((r) => r.host)).toEqual(certificate.dnsNames);
    });
  });
});

describe(`differences between the environments${KSOPS_TITLE}`, () => {
  const spec = (environment: Environment, kind: string, name: string) =>
    find(objectsOf(environment), kind, name).spec as Record<string, unknown>;

  // What a cluster pulls must not change when someone moves a tag. dev keeps tags: Tilt (or a
  // docker build in Minikube) makes its images locally, where no registry holds a digest.
  // promote.yaml writes every digest of an environment at once; before the first promotion its
  // release file holds none, and there is nothing true to check yet: the test is skipped, and says
  // so in its title, until then. A release file with some digests but not all fails.
  for (const environment of ['staging', 'prod'] as const) {
    const release = parseYaml(
      readFileSync(path.join(REPO_ROOT, 'gitops/overlays', environment, 'release/kustomization.yaml'), 'utf8'),
    ) as { images: { digest?: string }[] };
    const promoted = release.images.some((image) => image.digest);
    (promoted ? it : it.skip)(
      `${environment} pins every workload image by digest (tag@sha256)${promoted ? '' : ' [skipped: nothing promoted to it yet; tests/workflows runs a promotion]'}`,
      () => {
        expect(unpinnedImages(objectsOf(environment))).toEqual([]);
      },
    );
  }

  // Anything but the Ingress would skip TLS, the ingress' limits and body size, and (with a
  // trusted hop) let a client choose its own X-Forwarded-For, i.e. its rate-limit key.
  it.each(['staging', 'prod'] as const)(
    '%s: only the ingress controller reaches the API port (app-service ClusterIP, no ipBlock admitted)',
    (environment) => {
      expect(waysToApiHttpPort(objectsOf(environment))).toEqual(['ingress controller']);
    },
  );

  it('dev exposes app-service as a NodePort; staging and prod keep it ClusterIP behind the Ingress', () => {
    expect(ENVIRONMENTS.map((e) => spec(e, 'Service', 'app-service').type)).toEqual([
      'NodePort',
      'ClusterIP',
      'ClusterIP',
    ]);
    expect(waysToApiHttpPort(objectsOf('dev'))).toEqual([
      'NetworkPolicy/allow-external-to-api: {"ipBlock":{"cidr":"0.0.0.0/0"}}',
      'app-service type NodePort',
      'ingress controller',
    ]);
  });

  it('dev uses a self-signed issuer and api.local; staging and prod use ACME for their own hosts', () => {
    expect(spec('dev', 'Issuer', 'api-issuer')).toEqual({ selfSigned: {} });
    expect(spec('dev', 'Certificate', 'api-tls').dnsNames as string[]).toEqual(['api.local']);
    const acme = (e: Environment) => (spec(e, 'Issuer', 'api-issuer').acme as { server: string }).server;
    expect(acme('staging')).toMatch(/staging/);
    expect(acme('prod')).not.toMatch(/staging/);
  });

  it('replicas and sizes grow from dev to prod, and each environment has its own secrets', () => {
    const minReplicas = ENVIRONMENTS.map((e) => spec(e, 'HorizontalPodAutoscaler', 'python-api').minReplicas);
    expect(minReplicas).toEqual([2, 2, 3]);
    const apiCpu = ENVIRONMENTS.map((e) =>
      quantity(
        (spec(e, 'Deployment', 'python-api').template as PodTemplate).spec.containers[0]?.resources?.requests?.cpu ??
          '0',
      ),
    );
    expect(apiCpu[0]).toBeLessThan(apiCpu[1] as number);
    expect(apiCpu[1]).toBeLessThanOrEqual(apiCpu[2] as number);
    const passwords = ENVIRONMENTS.map(
      (e) => dataOf(find(objectsOf(e), 'Secret', 'postgres-secret')).POSTGRES_PASSWORD,
    );
    expect(new Set(passwords).size).toBe(3);
  });
});
