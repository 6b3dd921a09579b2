// The health check argocd-cm adds for Application resources (a Lua script Argo CD runs with
// gopher-lua), executed here in a Lua VM (fengari) against Application objects in the states the
// root app's sync waves meet: a wave only moves on when its child Applications report Healthy.
import { describe, expect, it } from '@jest/globals';
import fengari from 'fengari';
import type { KubeObject } from '../support/kube-apiserver.js';
import { find, render } from './helpers.js';

const { lua, lauxlib, lualib, to_luastring, to_jsstring } = fengari;

/** Lua table constructor for a JSON-like value. */
function toLua(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `{${value.map(toLua).join(', ')}}`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `[${JSON.stringify(k)}] = ${toLua(v)}`)
    .join(', ')}}`;
}

async function assess(application: unknown): Promise<{ status: string; message: string }> {
  const cm = find(await render('argocd'), 'ConfigMap', 'argocd-cm') as KubeObject & { data: Record<string, string> };
  const script = cm.data['resource.customizations.health.argoproj.io_Application']!;
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  // Argo CD exposes the live object as the global `obj`.
  if (lauxlib.luaL_dostring(L, to_luastring(`obj = ${toLua(application)}\n${script}`)) !== 0) {
    throw new Error(to_jsstring(lua.lua_tostring(L, -1)));
  }
  lua.lua_getfield(L, -1, to_luastring('status'));
  const status = to_jsstring(lua.lua_tostring(L, -1));
  lua.lua_pop(L, 1);
  lua.lua_getfield(L, -1, to_luastring('message'));
  const message = to_jsstring(lua.lua_tostring(L, -1));
  return { status, message };
}

describe('the Application health check in argocd-cm', () => {
  it('reports a child Application that has not been reconciled yet as Progressing', async () => {
    expect(await assess({ metadata: { name: 'loki' }, spec: {} })).toEqual({ status: 'Progressing', message: '' });
    expect(await assess({ metadata: { name: 'loki' }, status: { sync: { status: 'OutOfSync' } } })).toEqual({
      status: 'Progressing',
      message: '',
    });
  });

  it("passes the child's own health through, with its message", async () => {
    expect(await assess({ status: { health: { status: 'Healthy' } } })).toEqual({ status: 'Healthy', message: '' });
    expect(
      await assess({
        status: { health: { status: 'Degraded', message: 'Deployment python-api exceeded its progress deadline' } },
      }),
    ).toEqual({
      status: 'Degraded',
      message: 'Deployment python-api exceeded its progress deadline',
    });
    expect((await assess({ status: { health: { status: 'Missing' } } })).status).toBe('Missing');
  });
});
