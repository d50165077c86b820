/** What the operator tools (`npm run validate`, `npm run baseline`) share: reading the lab, and exits. */
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
