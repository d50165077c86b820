/**
 * Installs a pinned PyPI distribution into a virtualenv of its own, `<entry>/venv`.
 *
 * Always run it as `<entry>/venv/bin/python -m …`: the entry is built under a temporary name and
 * renamed into place, which breaks the absolute paths in the venv's console scripts but not its
 * interpreter, which finds its prefix from pyvenv.cfg next to it.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { PypiChecker } from "../../components/pins";
import { run } from "./go";

/** The interpreter that makes the venvs: `$CITADEL_PYTHON`, else python3 on PATH. */
export const basePython = (): string => process.env.CITADEL_PYTHON ?? "python3";

export async function buildPypi(c: PypiChecker, dir: string): Promise<void> {
  const logFile = path.join(dir, "build.log");
  const venv = path.join(dir, "venv");
  await run(basePython(), ["-m", "venv", venv], { cwd: dir, logFile });
  const py = path.join(venv, "bin", "python");
  const env = { PIP_DISABLE_PIP_VERSION_CHECK: "1", PIP_NO_INPUT: "1" };
  const want = `${c.package}==${c.version}`;
  if (!c.overrides?.length) {
    await run(py, ["-m", "pip", "install", "-q", want], { cwd: dir, env, logFile });
    if (c.cudaDriverStub) await buildDriverStub(dir, logFile);
    return;
  }
  // pip cannot loosen a requirement; uv (from PyPI, into the same venv) can, with --override.
  const overrides = path.join(dir, "overrides.txt");
  writeFileSync(overrides, `${c.overrides.join("\n")}\n`);
  await run(py, ["-m", "pip", "install", "-q", "uv"], { cwd: dir, env, logFile });
  await run(py, ["-m", "uv", "pip", "install", "--python", py, "--override", overrides, want], {
    cwd: dir,
    env: { ...env, UV_CACHE_DIR: path.join(dir, "uv-cache"), UV_NO_PROGRESS: "1" },
    logFile,
  });
  rmSync(path.join(dir, "uv-cache"), { recursive: true, force: true });
  if (c.cudaDriverStub) await buildDriverStub(dir, logFile);
}

export const venvPython = (entry: string): string => path.join(entry, "venv", "bin", "python");

/** The directory with the driver stand-in, for LD_LIBRARY_PATH. */
export const driverStubDir = (entry: string): string => path.join(entry, "driver-stub");

/**
 * Compiles libcuda.so.1 with every CUDA driver function (`cu` + capital) that a native module in
 * the venv imports, each returning CUDA_ERROR_NOT_SUPPORTED (801). Symbols are read with nm.
 */
export async function buildDriverStub(dir: string, logFile: string): Promise<void> {
  const out = driverStubDir(dir);
  mkdirSync(out, { recursive: true });
  const modules = (
    await run("find", [path.join(dir, "venv"), "-name", "*.so*", "-path", "*site-packages*"], {
      cwd: dir,
      logFile,
    })
  )
    .split("\n")
    .filter((f) => f && !f.includes("/nvidia/") && !f.includes("/torch/lib/"));
  const symbols = new Set<string>();
  for (const m of modules) {
    const nm = await run("nm", ["-D", "--undefined-only", m], { cwd: dir, logFile }).catch(() => "");
    for (const line of nm.split("\n")) {
      const sym = line.trim().split(/\s+/).pop()?.split("@")[0] ?? "";
      if (/^cu[A-Z]\w*$/.test(sym)) symbols.add(sym);
    }
  }
  if (symbols.size === 0)
    throw new Error("no CUDA driver symbols found: the driver stand-in is not needed, drop cudaDriverStub");
  const source = [
    "/* A stand-in for the NVIDIA driver (tools/upstream/pypi.ts): nothing calls these here. */",
    ...[...symbols].sort().map((s) => `int ${s}(void) { return 801; /* CUDA_ERROR_NOT_SUPPORTED */ }`),
    "",
  ].join("\n");
  writeFileSync(path.join(out, "libcuda.c"), source);
  await run(
    "gcc",
    [
      "-shared",
      "-fPIC",
      "-Wl,-soname,libcuda.so.1",
      "-o",
      path.join(out, "libcuda.so.1"),
      path.join(out, "libcuda.c"),
    ],
    {
      cwd: dir,
      logFile,
    },
  );
}
