/**
 * Imported by lib/compile-cache.ts, so first by every CLI entry point: @pulumi/pulumi loads the
 * whole TypeScript compiler (the project's `typescript`, a 9 MB file) as it starts, because
 * runtime/closure/parseFunction.js requires its `typescript-shim.js` at the top
 * (@pulumi/pulumi 3.276.0). The compiler serves only `pulumi.runtime.serializeFunction` (dynamic
 * providers, inline automation programs), which this program never calls. Under tsx, which scans
 * every required `.js` file for ESM syntax, that load was about 0.35 s of CPU in each CLI process
 * (`npm start`, and every subprocess the tests start). Here the shim is registered as a module
 * that loads the real one on first use, so serializeFunction still gets the compiler it asks for.
 * If @pulumi/pulumi moves or drops the shim, nothing is registered and it loads as before.
 */
import Module from "node:module";

function lazyTypescriptShim(): void {
  const load = Module.createRequire(__filename);
  let shim: string;
  try {
    shim = load.resolve("@pulumi/pulumi/typescript-shim.js");
  } catch {
    return;
  }
  const cache = (Module as unknown as { _cache?: Record<string, Module> })._cache;
  if (!cache || shim in cache) return;
  let real: object | undefined;
  const shimModule = (): object => {
    if (real === undefined) {
      delete cache[shim];
      real = load(shim) as object;
    }
    return real;
  };
  const lazy = new Module(shim);
  lazy.filename = shim;
  lazy.loaded = true;
  lazy.exports = new Proxy(
    {},
    {
      get: (_target, key) => Reflect.get(shimModule(), key) as unknown,
      has: (_target, key) => Reflect.has(shimModule(), key),
    },
  );
  cache[shim] = lazy;
}

lazyTypescriptShim();
