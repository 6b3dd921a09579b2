// The health check argocd-cm adds for PersistentVolumeClaims (a Lua script Argo CD runs with
// gopher-lua), executed here in a Lua VM (fengari): a claim waiting for its first consumer must not
// hold its sync wave (the backups' claim is first used by the nightly CronJob), while a claim being
// provisioned, bound or lost reports what it is.
import { describe, expect, it } from '@jest/globals';
import { assessHealth } from './health-check.js';

const assess = (object: unknown) => assessHealth('PersistentVolumeClaim', object);

const claim = (phase: string | undefined, annotations?: Record<string, string>) => ({
  metadata: { name: 'postgres-backups', ...(annotations ? { annotations } : {}) },
  ...(phase ? { status: { phase } } : {}),
});

describe('the PersistentVolumeClaim health check in argocd-cm', () => {
  it('reports a claim waiting for its first consumer as Healthy, so its sync wave moves on', async () => {
    expect(await assess(claim('Pending'))).toEqual({ status: 'Healthy', message: 'waiting for its first consumer' });
    expect(await assess(claim(undefined))).toEqual({ status: 'Healthy', message: 'waiting for its first consumer' });
  });

  it('reports a claim being provisioned for a scheduled pod as Progressing', async () => {
    expect(await assess(claim('Pending', { 'volume.kubernetes.io/selected-node': 'python-api-node' }))).toEqual({
      status: 'Progressing',
      message: 'provisioning a volume on the selected node',
    });
  });

  it('reports a bound claim as Healthy and a lost one as Degraded', async () => {
    expect((await assess(claim('Bound'))).status).toBe('Healthy');
    expect(await assess(claim('Lost'))).toEqual({ status: 'Degraded', message: 'the claim lost its volume' });
  });
});
