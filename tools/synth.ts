/**
 * `npm start`: the lab's plan, offline. Runs the program under Pulumi's mocks for a stack file,
 * writes out/resources.json and out/files/, prints the component tree, then runs the citadel-guard
 * policies in-process and writes out/policy-report.json. Exits 2 on invalid config and 3 on a
 * mandatory policy violation. No Pulumi CLI, account, network or lab is needed.
 *
 *   npm start -- [--config Pulumi.citadel.yaml] [--out out]
 */
import "../lib/compile-cache";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { LabConfigError } from "../components/config";
import { parseFlags } from "../lib/cli";
import { SynthError } from "../lib/synth/errors";
import { placeholderNotes, readStackFile, StackFileError } from "../lib/synth/stackfile";

async function main(): Promise<number> {
  const args = parseFlags(process.argv.slice(2), { config: "Pulumi.citadel.yaml", out: "out" }, [], {
    usage: "npm start -- [--config <stack yaml>] [--out <dir>]",
    flags: {
      config: "the stack file to plan",
      out: "where resources.json, policy-report.json and files/ (every rendered file) are written",
    },
    exits: {
      0: "planned; no mandatory policy violation",
      1: "anything else went wrong (the message says what)",
      2: "invalid stack config or flags (the message names the file, key and fix)",
      3: "a mandatory citadel-guard policy is violated",
    },
  });
  const stack = readStackFile(args.config);
  // The program, Pulumi's runtime and the policies load only now: --help, a bad flag and a stack
  // file that does not parse answer without them (about a second less).
  const [{ synthesize }, { runLab }, { renderViolations, runPolicies }, report] = await Promise.all([
    import("../lib/synth/harness.js"),
    import("../lib/synth/program.js"),
    import("../lib/synth/policies.js"),
    import("../lib/synth/report.js"),
  ]);
  const { checkOutDir, renderRaids, renderTree, renderVramPlan, writeOut } = report;
  checkOutDir(args.out);
  const result = await synthesize({ stack, program: runLab });
  writeOut(args.out, result);
  console.log(`citadel: plan for stack "${stack.stack}" from ${args.config}\n`);
  console.log(renderTree(result));
  const raids = renderRaids(result.outputs);
  if (raids) console.log(`\n${raids}`);
  const plan = renderVramPlan(result.outputs);
  if (plan) console.log(`\n${plan}`);
  if (result.placeholders.length > 0) {
    console.log(
      `\nsecrets replaced by placeholders (the stack file holds no secret values): ${result.placeholders.map((k) => `citadel:${k}`).join(", ")}`,
    );
  }
  // What pulumi up would still refuse, and what is legal but probably not meant; neither fails npm start.
  const notes = [
    ...placeholderNotes(stack),
    ...(result.warnings ?? []).map((w) => `warning: ${args.config}: ${w.path}: ${w.message}`),
  ];
  if (notes.length > 0) console.log(`\n${notes.join("\n")}`);
  const violations = await runPolicies(result);
  writeFileSync(path.join(args.out, "policy-report.json"), `${JSON.stringify(violations, null, 2)}\n`);
  console.log(`\n${renderViolations(violations)}`);
  console.log(
    `\nwrote ${path.join(args.out, "resources.json")}, ${path.join(args.out, "policy-report.json")} and ${result.files.size} files under ${path.join(args.out, "files")}`,
  );
  // Mandatory violations fail the run, as they fail `pulumi preview --policy-pack policies`.
  return violations.some((v) => v.enforcementLevel === "mandatory") ? 3 : 0;
}

main().then(
  (code) => process.exit(code),
  (caught: unknown) => {
    const err = caught instanceof SynthError ? caught.cause : caught;
    if (err instanceof LabConfigError || err instanceof StackFileError) {
      console.error(err.message);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  },
);
