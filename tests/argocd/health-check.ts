// Runs one of argocd-cm's custom health checks (Lua scripts Argo CD runs with gopher-lua) in a Lua
// VM (fengari) against an object, as Argo CD does: the live object is the global `obj`, the script
// returns a table with `status` and `message`.
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

/** `kind` as argocd-cm keys it: `PersistentVolumeClaim`, `argoproj.io_Application`. */
export async function assessHealth(kind: string, object: unknown): Promise<{ status: string; message: string }> {
  const cm = find(await render('argocd'), 'ConfigMap', 'argocd-cm') as KubeObject & { data: Record<string, string> };
  const script = cm.data[`resource.customizations.health.${kind}`];
  if (!script) throw new Error(`argocd-cm has no health check for ${kind}`);
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  if (lauxlib.luaL_dostring(L, to_luastring(`obj = ${toLua(object)}\n${script}`)) !== 0) {
    throw new Error(to_jsstring(lua.lua_tostring(L, -1)));
  }
  lua.lua_getfield(L, -1, to_luastring('status'));
  const status = to_jsstring(lua.lua_tostring(L, -1));
  lua.lua_pop(L, 1);
  lua.lua_getfield(L, -1, to_luastring('message'));
  return { status, message: to_jsstring(lua.lua_tostring(L, -1)) };
}
