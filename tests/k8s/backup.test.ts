// The backup component (gitops/components/backup) as every overlay renders it: the daily
// backup, the restore template and the weekly drill run the server's own image with our
// scripts, write to a claim of their own, read credentials from postgres-secret, and reach
// PostgreSQL through their own NetworkPolicies.
import { describe, expect, it } from '@jest/globals';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ENVIRONMENTS, renderEveryOverlayOnce } from '../support/overlays.js';
import { REPO_ROOT } from '../support/tools.js';
import { annotations, dataOf, find, findGenerated, id, selects, workloads, type LabelSelector } from './helpers.js';

const SCRIPTS_DIR = path.join(REPO_ROOT, 'gitops', 'components', 'backup', 'scripts');
const CRONJOBS = ['postgres-backup', 'postgres-restore', 'postgres-restore-drill'] as const;

interface CronJobSpec {
  schedule: string;
  suspend?: boolean;
  concurrencyPolicy: string;
  jobTemplate: { spec: { template: { spec: PodSpecLike } } };
}
interface PodSpecLike {
  securityContext: { runAsUser: number; fsGroup: number };
  containers: {
    image: string;
    command: string[];
    env?: { name: string; value?: string; valueFrom?: unknown }[];
    volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  }[];
  volumes: {
    name: string;
    configMap?: { name: string };
    secret?: { secretName: string };
    persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
    emptyDir?: unknown;
  }[];
}

const overlays = renderEveryOverlayOnce();

describe.each(ENVIRONMENTS)('backups in overlay %s', (environment) => {
  const objects = () => overlays.objectsOf(environment);
  const cronJob = (name: string) => find(objects(), 'CronJob', name).spec as CronJobSpec;
  const pod = (name: string) => cronJob(name).jobTemplate.spec.template.spec;
  const env = (name: string) =>
    Object.fromEntries((pod(name).containers[0]?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

  it("runs the database server's own image and user, so pg_dump matches the server version", () => {
    const server = (find(objects(), 'StatefulSet', 'postgres').spec as { template: { spec: PodSpecLike } }).template
      .spec;
    for (const name of CRONJOBS) {
      expect([name, pod(name).containers[0]?.image]).toEqual([name, server.containers[0]?.image]);
      expect([name, pod(name).securityContext.runAsUser]).toEqual([name, server.securityContext.runAsUser]);
      expect([name, pod(name).securityContext.fsGroup]).toEqual([name, server.securityContext.fsGroup]);
    }
  });

  it('mounts exactly our scripts from the generated ConfigMap and runs one of them', async () => {
    const configMap = findGenerated(objects(), 'ConfigMap', 'postgres-backup-scripts');
    const files = (await readdir(SCRIPTS_DIR)).sort();
    expect(Object.keys(dataOf(configMap)).sort()).toEqual(files);
    for (const file of files)
      expect([file, dataOf(configMap)[file]]).toEqual([file, await readFile(path.join(SCRIPTS_DIR, file), 'utf8')]);
    const scripts = {
      'postgres-backup': 'backup.sh',
      'postgres-restore': 'restore.sh',
      'postgres-restore-drill': 'drill.sh',
    };
    for (const name of CRONJOBS) {
      const spec = pod(name);
      const volume = spec.volumes.find((v) => v.configMap);
      expect(volume?.configMap?.name).toBe(configMap.metadata.name);
      const mount = spec.containers[0]?.volumeMounts.find((m) => m.name === volume?.name);
      expect(spec.containers[0]?.command).toEqual(['bash', `${mount?.mountPath}/${scripts[name]}`]);
    }
  });

  it('writes dumps to a claim of their own that Argo CD never deletes; restore and drill only read it', () => {
    const claim = find(objects(), 'PersistentVolumeClaim', 'postgres-backups');
    expect(annotations(claim)['argocd.argoproj.io/sync-options']).toBe('Delete=false');
    const statefulSet = find(objects(), 'StatefulSet', 'postgres').spec as {
      volumeClaimTemplates: { metadata: { name: string } }[];
    };
    expect(statefulSet.volumeClaimTemplates.map((t) => t.metadata.name)).not.toContain('postgres-backups');
    for (const name of CRONJOBS) {
      const spec = pod(name);
      const volume = spec.volumes.find((v) => v.persistentVolumeClaim);
      expect(volume?.persistentVolumeClaim?.claimName).toBe('postgres-backups');
      const mount = spec.containers[0]?.volumeMounts.find((m) => m.name === volume?.name);
      expect(mount?.mountPath).toBe(env(name).BACKUP_DIR);
      const readOnly = name !== 'postgres-backup';
      expect([name, mount?.readOnly ?? false, volume?.persistentVolumeClaim?.readOnly ?? false]).toEqual([
        name,
        readOnly,
        readOnly,
      ]);
    }
    expect(env('postgres-backup').RETENTION).toBe('7');
  });

  it('reads the credentials from postgres-secret as files, never from the environment', () => {
    for (const name of ['postgres-backup', 'postgres-restore']) {
      const spec = pod(name);
      const secret = spec.volumes.find((v) => v.secret);
      expect(secret?.secret?.secretName).toBe('postgres-secret');
      const mount = spec.containers[0]?.volumeMounts.find((m) => m.name === secret?.name);
      expect(env(name)).toMatchObject({
        PGHOST: 'postgres-service',
        PGPORT: '5432',
        PGUSER_FILE: `${mount?.mountPath}/POSTGRES_USER`,
        PGPASSWORD_FILE: `${mount?.mountPath}/POSTGRES_PASSWORD`,
      });
      expect(Object.keys(env(name))).not.toContain('PGPASSWORD');
    }
    // The drill never connects to the source.
    expect(pod('postgres-restore-drill').volumes.some((v) => v.secret)).toBe(false);
    expect(Object.keys(env('postgres-restore-drill')).filter((k) => k.startsWith('PG'))).toEqual([]);
  });

  it('backs up daily, one run at a time; restore never runs by itself; the drill is weekly outside dev', () => {
    expect(cronJob('postgres-backup')).toMatchObject({ schedule: '30 2 * * *', concurrencyPolicy: 'Forbid' });
    expect(cronJob('postgres-backup').suspend ?? false).toBe(false);
    expect(cronJob('postgres-restore').suspend).toBe(true);
    expect(cronJob('postgres-restore-drill').schedule).toMatch(/^\d+ \d+ \* \* [0-6]$/);
    expect(cronJob('postgres-restore-drill').suspend ?? false).toBe(environment === 'dev');
  });

  it('lets the backup and restore pods, and no other new pod, reach PostgreSQL on 5432', () => {
    const ingress = find(objects(), 'NetworkPolicy', 'allow-backup-to-postgres').spec as {
      podSelector: LabelSelector;
      ingress: { from: { podSelector: LabelSelector }[]; ports: unknown[] }[];
    };
    const egress = find(objects(), 'NetworkPolicy', 'allow-backup-egress-to-postgres').spec as {
      podSelector: LabelSelector;
      egress: { to: { podSelector: LabelSelector }[]; ports: unknown[] }[];
    };
    const all = workloads(objects());
    const admitted = all
      .filter(({ template }) => ingress.ingress[0]?.from.some((p) => selects(p.podSelector, template.metadata.labels)))
      .map(({ object }) => id(object))
      .sort();
    expect(admitted).toEqual(['CronJob/postgres-backup', 'CronJob/postgres-restore']);
    const leaving = all
      .filter(({ template }) => selects(egress.podSelector, template.metadata.labels))
      .map(({ object }) => id(object))
      .sort();
    expect(leaving).toEqual(admitted);
    const target = all.filter(({ template }) => selects(ingress.podSelector, template.metadata.labels));
    expect(target.map(({ object }) => id(object))).toEqual(['StatefulSet/postgres']);
    expect(
      all
        .filter(({ template }) => selects(egress.egress[0]?.to[0]?.podSelector, template.metadata.labels))
        .map(({ object }) => id(object)),
    ).toEqual(['StatefulSet/postgres']);
    expect(ingress.ingress[0]?.ports).toEqual([{ protocol: 'TCP', port: 5432 }]);
    expect(egress.egress[0]?.ports).toEqual([{ protocol: 'TCP', port: 5432 }]);
  });
});
