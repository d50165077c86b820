/**
 * `npm run diff`: what a change does to the lab, as `pulumi preview --diff` would show it, offline
 * and without credentials, for PR review.
 *
 *   npm run diff -- --base <git-ref> [--config Pulumi.citadel.yaml] [--format text|markdown|json]
 *   npm run diff -- --base-config <stack yaml> --config <stack yaml> [--format …]
 *
 * With --base, the base side is the lab as the ref's own code plans it: a temporary git worktree
 * at the ref, with that ref's locked dependencies, runs its own `npm start -- --out`. The new side
 * is the working tree. Exit codes: 0 no change, 1 changes, 2 invalid input on either side (which
 * side is named), 3 a mandatory citadel-guard violation on the new side. The diff itself is
 * lib/diff/run.ts.
 */
import "../lib/compile-cache";
import { parseFlags } from "../lib/cli";
import { StackFileError } from "../lib/synth/stackfile";

async function main(argv: string[]): Promise<number> {
  const args = parseFlags(
    argv,
    { base: "", "base-config": "", config: "Pulumi.citadel.yaml", format: "text" },
    [],
    {
      usage:
        "npm run diff -- (--base <git-ref> | --base-config <stack yaml>) [--config <stack yaml>] [--format text|markdown|json]",
      flags: {
        base: "a git ref: its code and its copy of the --config file are the old plan (e.g. origin/main)",
        "base-config": "a stack file planned with this checkout's code as the old plan (instead of --base)",
        config: "the stack file of the new plan, in the working tree",
        format: "text for a terminal, markdown for a pull-request comment, json for tools",
      },
      exits: {
        0: "no change",
        1: "the plans differ (the diff is printed)",
        2: "bad flags, a stack file that does not load, or a ref that cannot be checked out",
        3: "a mandatory citadel-guard policy is violated by the new plan",
        4: "anything else went wrong (the message says what)",
      },
    },
  );
  if (!["text", "markdown", "json"].includes(args.format))
    throw new StackFileError(`--format must be text, markdown or json, not ${args.format}`);
  // The program, Pulumi's runtime and the ref's worktree load only now: --help and a bad flag
  // answer without them (about half a second less).
  const [{ runDiff }, { hasChanges }, { renderJson, renderMarkdown, renderText }] = await Promise.all([
    import("../lib/diff/run.js"),
    import("../lib/diff/diff.js"),
    import("../lib/diff/render.js"),
  ]);
  const { diff, title, notes } = await runDiff({
    base: args.base,
    baseConfig: args["base-config"],
    config: args.config,
  });
  const render = { text: renderText, markdown: renderMarkdown, json: renderJson }[args.format as "text"];
  process.stdout.write(render(diff, title));
  // On stderr, so that --format json stays one document; they never change the exit code.
  for (const note of notes ?? []) console.error(`citadel diff: ${note}`);
  if (diff.violations.some((v) => v.enforcementLevel === "mandatory")) return 3;
  return hasChanges(diff) ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  async (e: unknown) => {
    const bad = e instanceof StackFileError || e instanceof (await import("../lib/diff/run.js")).SideError;
    if (bad) {
      console.error(`citadel diff: ${(e as Error).message}`);
      process.exit(2);
    }
    console.error(e);
    process.exit(4);
  },
);
