// The health check argocd-cm adds for PersistentVolumeClaims (a Lua script Argo CD runs with
// gopher-lua), executed here in a Lua VM (fengari): a claim waiting for its first consumer must not
// hold its sync wave (the backups' claim is first used by the nightly CronJob), while a claim being
// provisioned, bound or lost reports what it is.
import { describe, expect, it } from '@jest/globals';
import fengari from 'fengari';
import type { KubeObject } from '../support/kube-apiserver.js';
import { find, render } from './helpers.js';

const { lua, lauxlib, lualib, to_luastring, to_jsstring } = fengari;

function toLua(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `{${value.map(toLua).join(', ')}}`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `[${JSON.stringify(k)}] = ${toLua(v)}`)
    .join(', ')}}`;
}

async function assess(claim: unknown): Promise<{ status: string; message: string }> {
  const cm = find(await render('argocd'), 'ConfigMap', 'argocd-cm') as KubeObject & { data: Record<string, string> };
  const script = cm.data['resource.customizations.health.PersistentVolumeClaim']!;
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  if (lauxlib.luaL_dostring(L, to_luastring(`obj = ${toLua(claim)}\n${script}`)) !== 0) {
    throw new Error(to_jsstring(lua.lua_tostring(L, -1)));
  }
  lua.lua_getfield(L, -1, to_luastring('status'));
  const status = to_jsstring(lua.lua_tostring(L, -1));
  lua.lua_pop(L, 1);
  lua.lua_getfield(L, -1, to_luastring('message'));
  return { status, message: to_jsstring(lua.lua_tostring(L, -1)) };
}

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
