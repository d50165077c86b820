/**
 * The upstream programs the conformance tier runs, built or installed at the versions in
 * components/pins.ts into the cache outside the repo (lib/upstream/cache.ts). Each resolves its
 * dependencies from its lock in lib/upstream/locks/ (go.ts, pypi.ts), so every machine builds the
 * same versions. A library: the conformance tier builds from it, `npm run bench` reads its build
 * times, and `npm run upstream` (tests/tiers/upstream/index.ts) is its command line.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PINS, pinProblem, type PinName } from "../../components/pins";
import { cacheRoot, ensureEntry, type EntryInfo } from "./cache";
import { buildGo, GO_LOCK_FILES, lockGo } from "./go";
import { buildPypi, lockPypi, PYPI_LOCK_FILE, PYPI_RECIPE } from "./pypi";

/** Where the locks live: one directory per checker, named like its cache entry. */
export const LOCKS = path.join(__dirname, "locks");

/**
 * Pins whose checker this tier builds, quick ones first: a cold build reports the small programs'
 * failures within minutes. ensureAll runs them in lanes (GO_LANES).
 */
const ORDER: readonly PinName[] = [
  "nodeExporter",
  "alertmanager",
  "prometheus",
  "loki",
  "alloy",
  "phoenix",
  "vllm",
];
export const UPSTREAM: readonly PinName[] = [
  ...ORDER.filter((n) => n in PINS),
  ...(Object.keys(PINS) as PinName[]).filter((n) => !ORDER.includes(n)),
].filter((n) => PINS[n].checker.kind !== "none");

/** The cache entry's (and the lock's) name: `nodeExporter` -> `node-exporter`. */
export const entryName = (name: PinName): string => name.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`);

/** The directory of a checker's lock. */
export const lockDirOf = (name: PinName, locks: string = LOCKS): string => path.join(locks, entryName(name));

export interface Installed {
  name: PinName;
  version: string;
  dir: string;
  info: EntryInfo;
  cached: boolean;
  /** Path of a binary of a Go checker. */
  bin(binary: string): string;
}

function versionOf(name: PinName): string {
  const c = PINS[name].checker;
  if (c.kind === "none") throw new Error(`${name} has no upstream checker (components/pins.ts)`);
  return c.version;
}

/** Every file under `dir`, as paths relative to it, sorted. */
function filesUnder(dir: string, rel = ""): string[] {
  return readdirSync(path.join(dir, rel))
    .sort()
    .flatMap((f) => {
      const r = path.join(rel, f);
      return statSync(path.join(dir, r)).isDirectory() ? filesUnder(dir, r) : [r];
    });
}

/**
 * The cache key's version part: the release, plus a short hash of how it is built (the catalog
 * entry, any main of ours, and the lock), so that changing the recipe or the lock rebuilds it.
 */
export function cacheVersion(name: PinName, locks: string = LOCKS): string {
  const c = PINS[name].checker;
  const h = createHash("sha256").update(JSON.stringify(c));
  if (c.kind === "go") {
    for (const pkg of Object.values(c.binaries)
      .filter((p) => p.startsWith("mains/"))
      .sort()) {
      const dir = path.join(__dirname, pkg);
      for (const f of filesUnder(dir)) h.update(f).update(readFileSync(path.join(dir, f)));
    }
  }
  if (c.kind === "pypi") h.update(PYPI_RECIPE);
  const lock = lockDirOf(name, locks);
  const files = c.kind === "go" ? GO_LOCK_FILES : [PYPI_LOCK_FILE];
  for (const f of files) {
    const at = path.join(lock, f);
    h.update(f).update(existsSync(at) ? readFileSync(at) : "(no lock)");
  }
  return `${versionOf(name)}+${h.digest("hex").slice(0, 8)}`;
}

/** Resolves `name`'s lock afresh (`npm run upstream -- --lock NAME`), into `locks`. */
export async function makeLock(name: PinName, locks: string = LOCKS): Promise<string> {
  const c = PINS[name].checker;
  const dir = lockDirOf(name, locks);
  if (c.kind === "go") {
    const work = mkdtempSync(path.join(tmpdir(), "citadel-lock-"));
    try {
      await lockGo(c, dir, work);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n(log: ${path.join(work, "lock.log")})`, { cause: e });
    }
    rmSync(work, { recursive: true, force: true });
  } else if (c.kind === "pypi") await lockPypi(c, dir, name);
  else throw new Error(`${name} has no upstream checker to lock`);
  return dir;
}

export async function ensureUpstream(
  name: PinName,
  log: (line: string) => void = (l) => console.log(l),
): Promise<Installed> {
  const problem = pinProblem(PINS[name]);
  if (problem)
    throw new Error(
      `upstream: ${name} in components/pins.ts: ${problem}; bump the image tag and the checker version together`,
    );
  const c = PINS[name].checker;
  const version = versionOf(name);
  const what =
    c.kind === "go" ? `${c.module}@${version}` : c.kind === "pypi" ? `${c.package}==${version}` : name;
  const entry = entryName(name);
  let result;
  let checks: string[] = [];
  try {
    result = await ensureEntry(
      cacheRoot(),
      entry,
      cacheVersion(name),
      async (dir) => {
        log(`upstream: building ${name} (${what}) …`);
        if (c.kind === "go") checks = await buildGo(c, dir, lockDirOf(name));
        else if (c.kind === "pypi") checks = await buildPypi(c, dir, lockDirOf(name));
      },
      (l) => log(`upstream: ${l}`),
    );
  } catch (e) {
    throw new Error(
      `upstream: ${name} ${version} (${what}) could not be built: ${(e as Error).message}\n` +
        `retry with: npm run upstream -- ${name}   (build log: ${path.join(cacheRoot(), `${entry}-${cacheVersion(name)}.partial`, "build.log")})`,
      { cause: e },
    );
  }
  const { dir, info, cached } = result;
  for (const line of checks) log(`upstream: ${line}`);
  log(
    `upstream: ${name} ${version} ${cached ? `cached (built in ${info.seconds} s)` : `built in ${info.seconds} s`}  ${dir}`,
  );
  return { name, version, dir, info, cached, bin: (b) => path.join(dir, "bin", b) };
}

/**
 * Two Go lanes of about equal length, each started with its quickest build, and a third lane for
 * the PyPI installs (mostly download and unpacking). Loki and Alloy, the longest builds (1307 s
 * and 965 s in the last cold run), sit in different lanes: with Loki queued behind the other Go
 * builds in one lane, the cold run's Go builds ended 2117 s after they started, although Alloy's
 * lane had been idle for its last 1150 s. Two Go builds side by side share the cores, and each fills
 * the other's single-threaded phases (module downloads, linking). Resolves every name to its
 * installation or to the error that stopped it.
 */
export const GO_LANES: readonly [readonly PinName[], readonly PinName[]] = [
  ["nodeExporter", "prometheus", "alloy"],
  ["alertmanager", "loki"],
];

/** The lanes ensureAll runs `names` in: the two Go lanes, then the PyPI installs, each in order. */
export function buildLanes(names: readonly PinName[]): PinName[][] {
  const isPypi = (n: PinName) => PINS[n].checker.kind === "pypi";
  const laned = new Set(GO_LANES.flat());
  const goNames = names.filter((n) => !isPypi(n));
  return [
    // A Go checker that no lane names (a new pin) joins the first lane, after the others.
    [...GO_LANES[0].filter((n) => goNames.includes(n)), ...goNames.filter((n) => !laned.has(n))],
    GO_LANES[1].filter((n) => goNames.includes(n)),
    names.filter(isPypi),
  ];
}

export async function ensureAll(
  names: readonly PinName[],
  log: (line: string) => void = (l) => console.log(l),
): Promise<Map<PinName, Installed | Error>> {
  const done = new Map<PinName, Installed | Error>();
  const lane = async (list: PinName[]) => {
    for (const n of list) {
      console.error(`upstream: ${n} ${versionOf(n)}, ${done.size + 1} of ${names.length}…`);
      done.set(n, await ensureUpstream(n, log).catch((e: Error) => e));
    }
  };
  await Promise.all(buildLanes(names).map(lane));
  return new Map(names.map((n) => [n, done.get(n) as Installed | Error]));
}
