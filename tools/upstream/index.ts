/**
 * `npm run upstream [-- NAME…]`: builds or installs the upstream programs the conformance tier
 * runs, at the versions in components/pins.ts, into the cache outside the repo (tools/upstream/cache.ts).
 * A progress line per program, with its build time; a program that cannot be built fails the run,
 * naming the program, the version and the command that retries it.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { PINS, type PinName } from "../../components/pins";
import { cacheRoot, ensureEntry, type EntryInfo } from "./cache";
import { buildGo } from "./go";
import { buildPypi } from "./pypi";

/** Pins whose checker this tier builds, in build order (quick ones first). */
export const UPSTREAM: readonly PinName[] = (Object.keys(PINS) as PinName[]).filter(
  (n) => PINS[n].checker.kind !== "none",
);

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

/**
 * The cache key's version part: the release, plus a short hash of how it is built (the catalog
 * entry and any main of ours), so that changing the recipe rebuilds it.
 */
export function cacheVersion(name: PinName): string {
  const c = PINS[name].checker;
  const h = createHash("sha256").update(JSON.stringify(c));
  if (c.kind === "go") {
    for (const pkg of Object.values(c.binaries)
      .filter((p) => p.startsWith("mains/"))
      .sort()) {
      const dir = path.join(__dirname, pkg);
      for (const f of readdirSync(dir).sort()) h.update(f).update(readFileSync(path.join(dir, f)));
    }
  }
  return `${versionOf(name)}+${h.digest("hex").slice(0, 8)}`;
}

/** The cache entry's name part for a pin: `nodeExporter` -> `node-exporter`. */
export const entryName = (name: PinName): string => name.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`);

export async function ensureUpstream(
  name: PinName,
  log: (line: string) => void = (l) => console.log(l),
): Promise<Installed> {
  const c = PINS[name].checker;
  const version = versionOf(name);
  const what =
    c.kind === "go" ? `${c.module}@${version}` : c.kind === "pypi" ? `${c.package}==${version}` : name;
  const entry = entryName(name);
  let result;
  try {
    result = await ensureEntry(
      cacheRoot(),
      entry,
      cacheVersion(name),
      async (dir) => {
        log(`upstream: building ${name} (${what}) …`);
        if (c.kind === "go") await buildGo(c, dir);
        else if (c.kind === "pypi") await buildPypi(c, dir);
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
  log(
    `upstream: ${name} ${version} ${cached ? `cached (built in ${info.seconds} s)` : `built in ${info.seconds} s`}  ${dir}`,
  );
  return { name, version, dir, info, cached, bin: (b) => path.join(dir, "bin", b) };
}

/**
 * Installs `names` in two lanes at once: the Go builds one after another (they use both cores),
 * and beside them the PyPI installs (mostly download and unpacking). Resolves every name to its
 * installation or to the error that stopped it.
 */
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
  const isPypi = (n: PinName) => PINS[n].checker.kind === "pypi";
  await Promise.all([lane(names.filter((n) => !isPypi(n))), lane(names.filter(isPypi))]);
  return new Map(names.map((n) => [n, done.get(n) as Installed | Error]));
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(
      [
        "usage: npm run upstream [-- NAME…]",
        "Builds the upstream programs the conformance tier runs, at the versions in components/pins.ts,",
        `into ${cacheRoot()} (set CITADEL_UPSTREAM_CACHE to move it).`,
        `NAME is one of: ${UPSTREAM.join(", ")} (default: all).`,
        "Progress (which program, how many of how many) goes to stderr.",
        "",
        "exit codes:",
        "  0  every program named is built or was already cached",
        "  1  a build or install failed (the message says how to retry and where its log is)",
        "  2  an unknown program name",
      ].join("\n"),
    );
    return 0;
  }
  const unknown = argv.filter((a) => !(UPSTREAM as readonly string[]).includes(a));
  if (unknown.length > 0) {
    console.error(`upstream: unknown program ${unknown.join(", ")}; choose from ${UPSTREAM.join(", ")}`);
    return 2;
  }
  const names = argv.length > 0 ? (argv as PinName[]) : UPSTREAM;
  const failed = [...(await ensureAll(names)).values()].filter((r): r is Error => r instanceof Error);
  for (const e of failed) console.error(e.message);
  return failed.length > 0 ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(e.message);
      process.exit(1);
    },
  );
}
