/** What the command-line tools share: their flags, reading the lab, and exit codes. */
import { LabConfigError, parseLabConfig, SECRETS, type LabConfig } from "../components/config";
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

/**
 * Runs a tool's main and exits with its code: 2 with the message for bad config or usage, 1 with
 * the message naming the tool for anything else that went wrong.
 */
export function runCli(tool: string, main: () => number): never {
  try {
    process.exit(main());
  } catch (err) {
    if (err instanceof LabConfigError || err instanceof StackFileError) {
      console.error(err.message);
      process.exit(2);
    }
    console.error(`${tool}: ${(err as Error).message}`);
    process.exit(1);
  }
}

/**
 * Parses `--name value` (or `--name=value`) flags, each with its default, and bare `--name`
 * switches; `--help` prints the usage with the defaults and exits 0. Anything else, or a flag
 * without its value, is a usage error that quotes `usage`.
 */
export function parseFlags<V extends string, S extends string = never>(
  argv: readonly string[],
  values: Record<V, string>,
  switches: readonly S[],
  usage: string,
): Record<V, string> & Record<S, boolean> {
  const out: Record<string, string | boolean> = { ...values };
  for (const s of switches) out[s] = false;
  if (argv.includes("--help") || argv.includes("-h")) {
    const defaults = Object.entries(values).map(([k, v]) => `  --${k} <value>   (default: ${v})`);
    const flags = switches.map((s) => `  --${s}`);
    console.log([`usage: ${usage}`, ...defaults, ...flags].join("\n"));
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
