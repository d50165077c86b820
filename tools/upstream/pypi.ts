/**
 * Installs a pinned PyPI distribution into a virtualenv of its own, `<entry>/venv`.
 *
 * Always run it as `<entry>/venv/bin/python -m …`: the entry is built under a temporary name and
 * renamed into place, which breaks the absolute paths in the venv's console scripts but not its
 * interpreter, which finds its prefix from pyvenv.cfg next to it.
 */
import { rmSync, writeFileSync } from "node:fs";
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
}

export const venvPython = (entry: string): string => path.join(entry, "venv", "bin", "python");
