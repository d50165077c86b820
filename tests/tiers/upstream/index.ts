/**
 * `npm run upstream [-- NAME…]`: builds or installs the upstream programs the conformance tier
 * runs (lib/upstream), at the versions in components/pins.ts, into the cache outside the repo.
 * `npm run upstream -- --lock NAME…` resolves a lock afresh.
 * A progress line per program, with its build time and its lock check; a program that cannot be
 * built fails the run, naming the program, the version and the command that retries it.
 */
import path from "node:path";
import type { PinName } from "../../../components/pins";
import { ensureAll, LOCKS, makeLock, UPSTREAM } from "../../../lib/upstream";
import { cacheRoot } from "../../../lib/upstream/cache";

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(
      [
        "usage: npm run upstream [-- NAME…]",
        "       npm run upstream -- --lock NAME…",
        "Builds the upstream programs the conformance tier runs, at the versions in components/pins.ts",
        `and the locks in ${path.relative(process.cwd(), LOCKS) || LOCKS},`,
        `into ${cacheRoot()} (set CITADEL_UPSTREAM_CACHE to move it).`,
        "--lock resolves each NAME's lock afresh from the registries (a reviewed change: commit it).",
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
  const lockMode = argv.includes("--lock");
  argv = argv.filter((a) => a !== "--lock");
  const unknown = argv.filter((a) => !(UPSTREAM as readonly string[]).includes(a));
  if (unknown.length > 0) {
    console.error(`upstream: unknown program ${unknown.join(", ")}; choose from ${UPSTREAM.join(", ")}`);
    return 2;
  }
  if (lockMode) {
    if (argv.length === 0) {
      console.error(`upstream: --lock needs the programs to lock, from ${UPSTREAM.join(", ")}`);
      return 2;
    }
    for (const n of argv as PinName[]) console.log(`upstream: ${n} locked in ${await makeLock(n)}`);
    return 0;
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
