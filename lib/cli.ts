/** What the command-line tools share: their flags, reading the lab, and exit codes. */
import { LabConfigError, SECRETS, type LabConfig } from "../components/config";
import { parseLabConfig } from "../components/plan";
import { readStackFile, stackConfigSource, StackFileError } from "./synth/stackfile";

/**
 * The lab from a stack file. Secrets are not needed by these tools (vLLM's key is read inside its
 * container), so they count as set without their values being read.
 */
export function loadLab(file: string): LabConfig {
  const source = stackConfigSource(
    readStackFile(file),
    SECRETS.map((s) => s.key),
  );
  return parseLabConfig(source, file).lab;
}

/** The lab could not be reached (SSH failed to connect, or Prometheus did not answer): exit 3. */
export class LabUnreachableError extends Error {
  override name = "LabUnreachableError";
}

/** Exit codes every tool shares; a tool's `--help` lists these with its own. */
export const EXIT = {
  ok: 0,
  /** The tool's own verdict: a check failed, a regression, a change, a resource that does not fit. */
  verdict: 1,
  usage: 2,
  unreachable: 3,
} as const;

/**
 * Runs a tool's main and exits with its code: 2 with the message for bad config or usage, 3 when
 * the lab could not be reached, 4 with the message naming the tool for anything else that went
 * wrong (1 is left to the tool's own verdict).
 */
export function runCli(tool: string, main: () => number): never {
  try {
    process.exit(main());
  } catch (err) {
    if (err instanceof LabConfigError || err instanceof StackFileError) {
      console.error(err.message);
      process.exit(EXIT.usage);
    }
    console.error(`${tool}: ${(err as Error).message}`);
    process.exit(err instanceof LabUnreachableError ? EXIT.unreachable : 4);
  }
}

/** What `--help` says: the usage line, every flag's purpose, and the exit codes. */
export interface Help<F extends string> {
  usage: string;
  /** One line per flag and switch: what it does. The default is added from the parser's values. */
  flags: Record<F, string>;
  /** Each exit code and what it means. */
  exits: Record<number, string>;
}

/** The text `--help` prints. */
export function renderHelp<F extends string>(help: Help<F>, values: Record<string, string>): string {
  const names = Object.keys(help.flags) as F[];
  const head = (n: string) => (Object.hasOwn(values, n) ? `--${n} <value>` : `--${n}`);
  const width = Math.max(...names.map((n) => head(n).length));
  const lines = names.map((n) => {
    const deflt = Object.hasOwn(values, n)
      ? ` (default: ${values[n] === "" ? "none" : values[n]})`
      : " (off unless given)";
    return `  ${head(n).padEnd(width)}  ${help.flags[n]}${deflt}`;
  });
  const exits = Object.entries(help.exits).map(([code, why]) => `  ${code}  ${why}`);
  return [`usage: ${help.usage}`, "", "flags:", ...lines, "", "exit codes:", ...exits].join("\n");
}

/**
 * Parses `--name value` (or `--name=value`) flags, each with its default, and bare `--name`
 * switches; `--help` prints the usage, what each flag does with its default, and the exit codes,
 * then exits 0 before anything else runs. Anything else, or a flag without its value, is a usage
 * error that quotes the usage.
 */
export function parseFlags<V extends string, S extends string = never>(
  argv: readonly string[],
  values: Record<V, string>,
  switches: readonly S[],
  help: Help<NoInfer<V> | NoInfer<S>>,
): Record<V, string> & Record<S, boolean> {
  const usage = help.usage;
  const out: Record<string, string | boolean> = { ...values };
  for (const s of switches) out[s] = false;
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(renderHelp(help, values));
    process.exit(0);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    // `--name=value` is the same as `--name value`.
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    if (eq > 2) {
      const name = arg.slice(2, eq);
      if (!Object.hasOwn(values, name) || eq === arg.length - 1) {
        throw new StackFileError(`unknown or incomplete argument ${arg}; usage: ${usage}`);
      }
      out[name] = arg.slice(eq + 1);
      continue;
    }
    const name = arg.startsWith("--") ? arg.slice(2) : "";
    const value = argv[i + 1];
    if (Object.hasOwn(values, name) && value !== undefined && !value.startsWith("--")) {
      out[name] = value;
      i++;
    } else if ((switches as readonly string[]).includes(name)) {
      out[name] = true;
    } else {
      throw new StackFileError(`unknown or incomplete argument ${arg}; usage: ${usage}`);
    }
  }
  return out as Record<V, string> & Record<S, boolean>;
}
