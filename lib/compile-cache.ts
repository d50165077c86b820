/**
 * Imported first by every CLI entry point: Node's on-disk compile cache (Node >= 22.1,
 * `module.enableCompileCache`) keeps the V8 bytecode of the modules a run loads, so the next run
 * skips compiling @pulumi/pulumi and the providers again. It lives in the OS temp dir, outside the
 * repo; `NODE_DISABLE_COMPILE_CACHE=1` turns it off. lib/lazy-typescript.ts keeps @pulumi/pulumi
 * from loading the TypeScript compiler that no run uses.
 */
import module from "node:module";
import "./lazy-typescript";

module.enableCompileCache?.();
