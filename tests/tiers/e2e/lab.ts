/**
 * What the e2e tier runs, derived from the program's own output: the lab's stack file plus a
 * small overlay (the VM's host key, Docker's version as Debian's docker.io has it, and
 * allowReboot so the NVIDIA step's reboot really reboots), synthesised with throwaway secrets
 * and a marker for each command's stdout.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { LabConfigSchema, type LabConfig } from "../../../components/config";
import { overlay, throwawaySecrets } from "../conformance/lab";
import { synthesize, type SynthResult } from "../../../lib/synth/harness";
import { runLab } from "../../../lib/synth/program";
import { readStackFile } from "../../../lib/synth/stackfile";
import { LOCAL, REMOTE, stdoutMarker } from "./apply";

export interface E2eLab {
  config: LabConfig;
  result: SynthResult;
  secrets: Record<string, string>;
  /** The overlay applied to the stack file's values (printed, and in the README). */
  overlay: Record<string, unknown>;
}

/** `export NAME='value'` parameters of a registered step's script. */
export function stepParams(result: SynthResult, name: string): Record<string, string> {
  const r = result.resources.find((x) => x.name === name && (x.type === REMOTE || x.type === LOCAL));
  if (!r) throw new Error(`the program registers no command named ${name}`);
  const create = String(r.rawInputs.create ?? "");
  const params: Record<string, string> = {};
  for (const m of create.matchAll(/^export ([A-Z_][A-Z0-9_]*)='((?:[^']|'\\'')*)'$/gm)) {
    params[m[1] as string] = (m[2] as string).replace(/'\\''/g, "'");
  }
  return params;
}

/** The overlay for one image: only what a VM cannot share with the lab. */
export function vmOverlay(config: LabConfig, image: string): Record<string, unknown> {
  const hostKey = readFileSync(path.join(image, "host_ed25519.pub"), "utf8")
    .trim()
    .split(/\s+/)
    .slice(0, 2)
    .join(" ");
  const dockerVersion = readFileSync(path.join(image, "docker-version"), "utf8").trim();
  const hosts: Record<string, unknown> = {};
  for (const [name, host] of Object.entries(config.hosts)) {
    hosts[name] = {
      // The VM's own host key, pinned as the lab pins the real one.
      ssh: { hostKey },
      // Debian's docker.io stands in for docker-ce; the Docker step installs and verifies its version.
      ...(host.docker ? { docker: { version: dockerVersion } } : {}),
      // The driver install needs a reboot; the lab reboots by hand, the VM lets the step do it.
      ...(host.nvidia ? { nvidia: { allowReboot: true } } : {}),
    };
  }
  return { hosts };
}

/** `secrets`: the run's own (a re-synthesis for a fault keeps the secrets the VM already holds). */
export async function loadE2eLab(
  stackFile: string,
  over: Record<string, unknown>,
  secrets: Record<string, string> = throwawaySecrets(),
): Promise<E2eLab> {
  const file = readStackFile(stackFile);
  const values = overlay(file.values, over) as typeof file.values;
  const result = await synthesize({
    stack: { ...file, values },
    program: runLab,
    secrets,
    outputs: (type, name) => (type === REMOTE || type === LOCAL ? { stdout: stdoutMarker(name) } : undefined),
  });
  return { config: LabConfigSchema.parse(values), result, secrets, overlay: over };
}

/** The stack file's config as the program parses it (no overlay). */
export function baseConfig(stackFile: string): LabConfig {
  return LabConfigSchema.parse(readStackFile(stackFile).values);
}
