// The little of fengari (a Lua VM in JavaScript) application-health.test.ts uses.
declare module 'fengari' {
  type LuaState = object;
  const fengari: {
    lua: {
      lua_getfield(L: LuaState, index: number, key: Uint8Array): number;
      lua_tostring(L: LuaState, index: number): Uint8Array | null;
      lua_pop(L: LuaState, n: number): void;
    };
    lauxlib: {
      luaL_newstate(): LuaState;
      luaL_dostring(L: LuaState, code: Uint8Array): number;
    };
    lualib: { luaL_openlibs(L: LuaState): void };
    to_luastring(text: string): Uint8Array;
    to_jsstring(bytes: Uint8Array | null): string;
  };
  export default fengari;
}
