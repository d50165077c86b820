/**
 * Installs a pinned PyPI distribution into a virtualenv of its own, `<entry>/venv`, from its lock.
 *
 * The lock (lib/upstream/locks/<entry>/requirements.txt) is what `uv pip compile
 * --generate-hashes` resolved for the pinned release and the catalog's overrides, on the Python
 * it names in its first line; `npm run upstream -- --lock NAME` makes it again. A build installs
 * exactly it (`uv pip sync --require-hashes`: every file is checked against its hash, and nothing
 * else stays in the venv), then compares the venv's `uv pip freeze` with it.
 *
 * Always run it as `<entry>/venv/bin/python -m …`: the entry is built under a temporary name and
 * renamed into place, which breaks the absolute paths in the venv's console scripts but not its
 * interpreter, which finds its prefix from pyvenv.cfg next to it.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { PypiChecker } from "../../components/pins";
import { run } from "./go";

/** The interpreter that makes the venvs: `$CITADEL_PYTHON`, else python3 on PATH. */
export const basePython = (): string => process.env.CITADEL_PYTHON ?? "python3";

/** uv, from PyPI, that compiles and installs the locks. */
export const UV_VERSION = "0.13.9";

/** What the cache key takes from this recipe: a change here rebuilds every PyPI checker. */
export const PYPI_RECIPE = `uv ${UV_VERSION} pip sync --require-hashes --compile-bytecode, venv without pip`;

/** The file of a PyPI checker's lock. */
export const PYPI_LOCK_FILE = "requirements.txt";

const PIP_ENV = { PIP_DISABLE_PIP_VERSION_CHECK: "1", PIP_NO_INPUT: "1" };

/** A venv at `venv` with uv in a venv of its own beside it; returns the venv's Python and uv. */
async function venvWithUv(
  dir: string,
  logFile: string,
): Promise<{ py: string; uv: string; version: string }> {
  const venv = path.join(dir, "venv");
  const tools = path.join(dir, "uv-tool");
  // Without pip: uv installs into it, and `uv pip sync` keeps a venv's seed packages (pip,
  // setuptools) that the lock does not list, which the freeze check would then find.
  await run(basePython(), ["-m", "venv", "--without-pip", venv], { cwd: dir, logFile });
  await run(basePython(), ["-m", "venv", tools], { cwd: dir, logFile });
  await run(path.join(tools, "bin", "python"), ["-m", "pip", "install", "-q", `uv==${UV_VERSION}`], {
    cwd: dir,
    env: PIP_ENV,
    logFile,
  });
  const py = path.join(venv, "bin", "python");
  const version = (
    await run(py, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], { cwd: dir, logFile })
  ).trim();
  return { py, uv: path.join(tools, "bin", "uv"), version };
}

const uvEnv = (dir: string) => ({ UV_CACHE_DIR: path.join(dir, "uv-cache"), UV_NO_PROGRESS: "1" });

/** The Python a lock was compiled for, from its first line (`# python 3.11`). */
export function lockPython(lock: string): string | undefined {
  return /^# python (\d+\.\d+)$/m.exec(lock.split("\n")[0] ?? "")?.[1];
}

/** PEP 503's normalized name. */
const norm = (n: string) => n.toLowerCase().replace(/[-_.]+/g, "-");

/** `name -> version` of every `name==version` line (a lock, or `pip freeze`). */
export function pinnedVersions(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)/.exec(line);
    if (m) out.set(norm(m[1] as string), m[2] as string);
  }
  return out;
}

/** Where an installed venv differs from its lock, one line each; empty when equal. */
export function compareFreeze(freeze: Map<string, string>, lock: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [n, v] of lock)
    if (freeze.get(n) !== v) out.push(`${n}: lock ${v}, installed ${freeze.get(n) ?? "none"}`);
  for (const [n, v] of freeze) if (!lock.has(n)) out.push(`${n}: installed ${v}, not in the lock`);
  return out;
}

/** Compiles a checker's lock afresh into `<lockDir>/requirements.txt`. */
export async function lockPypi(c: PypiChecker, lockDir: string, name: string): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), "citadel-lock-"));
  try {
    const logFile = path.join(work, "lock.log");
    const { py, uv, version } = await venvWithUv(work, logFile);
    writeFileSync(path.join(work, "in.txt"), `${c.package}==${c.version}\n`);
    const args = ["pip", "compile", "--python", py, "--generate-hashes", "--quiet"];
    if (c.overrides?.length) {
      writeFileSync(path.join(work, "overrides.txt"), `${c.overrides.join("\n")}\n`);
      args.push("--override", "overrides.txt");
    }
    args.push("--custom-compile-command", `npm run upstream -- --lock ${name}`, "-o", "out.txt", "in.txt");
    await run(uv, args, { cwd: work, env: uvEnv(work), logFile });
    mkdirSync(lockDir, { recursive: true });
    writeFileSync(
      path.join(lockDir, PYPI_LOCK_FILE),
      `# python ${version}\n${readFileSync(path.join(work, "out.txt"), "utf8")}`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Installs a checker's lock into `<dir>/venv`; returns the lock check's summary line. */
export async function buildPypi(c: PypiChecker, dir: string, lockDir: string): Promise<string[]> {
  const logFile = path.join(dir, "build.log");
  const lockFile = path.join(lockDir, PYPI_LOCK_FILE);
  let lock: string;
  try {
    lock = readFileSync(lockFile, "utf8");
  } catch {
    throw new Error(`no lock for ${c.package}==${c.version} (${lockFile} is missing)`);
  }
  const locked = pinnedVersions(lock);
  if (locked.get(norm(c.package)) !== c.version) {
    throw new Error(
      `${lockFile} pins ${c.package} ${locked.get(norm(c.package)) ?? "not at all"}, not ${c.version}`,
    );
  }
  const { py, uv, version } = await venvWithUv(dir, logFile);
  const want = lockPython(lock);
  if (want !== version) {
    throw new Error(
      `${lockFile} was compiled for Python ${want ?? "(unknown)"}, but ${basePython()} is ${version}: set CITADEL_PYTHON to a Python ${want} interpreter`,
    );
  }
  // --compile-bytecode: as pip does on install. Without .pyc files every check compiles torch's
  // and vLLM's sources again on import, which took vLLM's check past its 10 minutes on a busy
  // machine (the sandbox cannot write them back).
  await run(uv, ["pip", "sync", "--python", py, "--require-hashes", "--compile-bytecode", lockFile], {
    cwd: dir,
    env: uvEnv(dir),
    logFile,
  });
  const freeze = await run(uv, ["pip", "freeze", "--python", py], { cwd: dir, env: uvEnv(dir), logFile });
  rmSync(path.join(dir, "uv-cache"), { recursive: true, force: true });
  rmSync(path.join(dir, "uv-tool"), { recursive: true, force: true });
  const diff = compareFreeze(pinnedVersions(freeze), locked);
  if (diff.length > 0) throw new Error(`the venv differs from ${lockFile}:\n${diff.join("\n")}`);
  const line = `lock check: ${c.package}: pip freeze lists ${locked.size} distributions, each at the version ${path.relative(path.join(__dirname, "..", ".."), lockFile)} pins`;
  writeFileSync(logFile, `${line}\n`, { flag: "a" });
  if (c.cudaDriverStub) await buildDriverStub(dir, logFile);
  return [line];
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
    "/* A stand-in for the NVIDIA driver (lib/upstream/pypi.ts): nothing calls these here. */",
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
