/**
 * The cache of upstream builds, outside the repo and keyed by version:
 * `<root>/<name>-<version>/` holds what one build made, and `.complete` (written last) marks it
 * usable. An entry without the marker is a build that was killed: it is removed and rebuilt,
 * never used. Builds happen in `<entry>.partial` and are renamed into place, so a reader never sees
 * half an entry.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";

/** `$CITADEL_UPSTREAM_CACHE`, else `$XDG_CACHE_HOME/citadel/upstream`, else `~/.cache/citadel/upstream`. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CITADEL_UPSTREAM_CACHE) return path.resolve(env.CITADEL_UPSTREAM_CACHE);
  const base = env.XDG_CACHE_HOME ? env.XDG_CACHE_HOME : path.join(homedir(), ".cache");
  return path.join(base, "citadel", "upstream");
}

export interface EntryInfo {
  name: string;
  version: string;
  /** Wall time of the build, in seconds. */
  seconds: number;
  builtAt: string;
}

const MARKER = ".complete";

export function entryDir(root: string, name: string, version: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || !/^[A-Za-z0-9._+-]+$/.test(version)) {
    throw new Error(`upstream cache: refusing an entry name "${name}-${version}" with path characters`);
  }
  return path.join(root, `${name}-${version}`);
}

/** The entry's record when it is complete, else undefined. */
export function readEntry(dir: string): EntryInfo | undefined {
  const marker = path.join(dir, MARKER);
  if (!existsSync(marker)) return undefined;
  try {
    return JSON.parse(readFileSync(marker, "utf8")) as EntryInfo;
  } catch {
    return undefined;
  }
}

/**
 * Returns the complete entry for name/version, building it with `build(dir)` when it is missing
 * or half-built. `build` writes only inside the directory it is given.
 */
export async function ensureEntry(
  root: string,
  name: string,
  version: string,
  build: (dir: string) => Promise<void>,
  log: (line: string) => void = () => {},
): Promise<{ dir: string; info: EntryInfo; cached: boolean }> {
  const dir = entryDir(root, name, version);
  const existing = readEntry(dir);
  if (existing) return { dir, info: existing, cached: true };
  mkdirSync(root, { recursive: true });
  const release = await lock(`${dir}.lock`, log);
  try {
    const built = readEntry(dir);
    if (built) return { dir, info: built, cached: true };
    return await buildEntry(dir, name, version, build, log);
  } finally {
    release();
  }
}

/** One build per entry at a time: a lock file holding the builder's pid; a dead builder's is taken over. */
async function lock(file: string, log: (line: string) => void): Promise<() => void> {
  for (let waited = 0; ; waited++) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx" });
      return () => rmSync(file, { force: true });
    } catch {
      const pid = Number(readFileSync(file, "utf8"));
      if (!alive(pid)) {
        rmSync(file, { force: true });
        continue;
      }
      if (waited % 60 === 0) log(`waiting for the build in process ${pid} (${file})`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function buildEntry(
  dir: string,
  name: string,
  version: string,
  build: (dir: string) => Promise<void>,
  log: (line: string) => void,
): Promise<{ dir: string; info: EntryInfo; cached: boolean }> {
  // Only our own entries are removed: the half-built one, and a partial left by a killed build.
  const partial = `${dir}.partial`;
  if (existsSync(dir)) {
    log(`${name} ${version}: removing a half-built cache entry (${dir})`);
    rmSync(dir, { recursive: true, force: true });
  }
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const started = Date.now();
  await build(partial);
  const info: EntryInfo = {
    name,
    version,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    builtAt: new Date().toISOString(),
  };
  writeFileSync(path.join(partial, MARKER), `${JSON.stringify(info)}\n`);
  renameSync(partial, dir);
  return { dir, info, cached: false };
}
