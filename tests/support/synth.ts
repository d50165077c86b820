/** Synthesises the lab (or a variant of it) under mocks for tests. */
import { synthesize, SynthError, type ResourceRecord, type SynthResult } from "../../lib/synth/harness";
import { runLab } from "../../lib/synth/program";
import { fromConfigMap } from "../../lib/synth/stackfile";
import { labConfigMap } from "./lab";

/** Runs the real program against a config map (default: the committed lab). */
export function synthLab(
  config: Record<string, unknown> = labConfigMap(),
  program = runLab,
  secrets: Record<string, string> = {},
): Promise<SynthResult> {
  return synthesize({ stack: fromConfigMap(config), program, secrets });
}

/** Runs the program expecting it to fail; returns the error and how many resources it registered. */
export async function synthFailure(config: Record<string, unknown>): Promise<SynthError> {
  try {
    await synthLab(config);
  } catch (err) {
    if (err instanceof SynthError) return err;
    throw err;
  }
  throw new Error("the program succeeded");
}

export function byName(result: SynthResult, name: string): ResourceRecord {
  const found = result.resources.find((r) => r.name === name);
  if (!found)
    throw new Error(`no resource named ${name}; have ${result.resources.map((r) => r.name).join(", ")}`);
  return found;
}

export function ofType(result: SynthResult, type: string): ResourceRecord[] {
  return result.resources.filter((r) => r.type === type);
}

/** The dependsOn of a resource, as names. */
export function dependencyNames(result: SynthResult, record: ResourceRecord): string[] {
  return record.dependsOn.map((urn) => result.resources.find((r) => r.urn === urn)?.name ?? urn).sort();
}
