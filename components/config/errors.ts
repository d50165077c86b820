/**
 * Config problems as the loader reports them: each at its full config path, all of them in one
 * error that names the file and says nothing was applied.
 */
import type { Problem } from "../shared/problem";
import { NAMESPACE } from "./source";

/** A problem placed at its full config path, e.g. `citadel:hosts.citadel.address`. */
export type ConfigProblem = Problem<string>;

/**
 * A config error that the engine prints as its message alone. It is not a `pulumi.RunError`, so
 * that config does not load all of @pulumi/pulumi (about a second of every command-line tool's
 * start): the engine hides the stack of any error for which `RunError.isInstance` holds
 * (@pulumi/pulumi@3.276.0 cmd/run/run.js), and that is this member being `true` (errors.js
 * `isInstance(obj, "__pulumiRunError")`, utils.js `hasTrueBooleanMember`).
 */
export class LabConfigError extends Error {
  readonly __pulumiRunError = true;
  constructor(
    readonly problems: ConfigProblem[],
    source: string,
  ) {
    super(formatProblems(problems, source));
    this.name = "LabConfigError";
  }
}

export function formatProblems(problems: ConfigProblem[], source: string): string {
  const lines = problems.map((p) => {
    const ex = p.example === undefined ? "" : ` (example: ${JSON.stringify(p.example)})`;
    return `  - ${p.path}: ${p.message}${ex}`;
  });
  const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
  return `Invalid lab config in ${source} (${count}); nothing was applied:\n${lines.join("\n")}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = NAMESPACE + ":";
  path.forEach((seg, i) => {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += (i === 0 ? "" : ".") + String(seg);
  });
  return out;
}
