/**
 * Recorded probe outputs (tests/fixtures/validate/*.txt) with their `containers` section derived
 * from the containers the program registers, never written by hand: a container the lab gives no
 * healthcheck cannot appear `(healthy)` here.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { SynthResult } from "../../tools/synth/harness";
import { synthLab } from "./synth";

export const CONTAINER_TYPE = "docker:index/container:Container";

/** A registered container: its name and whether its config has a healthcheck. */
export interface RegisteredContainer {
  name: string;
  healthcheck: boolean;
}

/** The containers a synthesised lab registers on a host's Docker provider, by name. */
export function registeredContainers(result: SynthResult, host = "citadel"): RegisteredContainer[] {
  return result.resources
    .filter((r) => r.type === CONTAINER_TYPE && (r.provider ?? "").endsWith(`::${host}-docker-provider`))
    .map((r) => ({ name: r.rawInputs.name as string, healthcheck: r.rawInputs.healthcheck !== undefined }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

/**
 * One line of `docker ps -a --format '{{.Names}}|{{.State}}|{{.Status}}'` for a container that has
 * been up 3 hours. `{{.Status}}` is State.String() (container/view.go@v28.5.2): `Up <duration>`,
 * followed by ` (healthy)` only when the container has a healthcheck (container/state.go@v28.5.2,
 * Health.String in container/health.go); `{{.State}}` is `running` either way.
 */
export function upLine(c: RegisteredContainer): string {
  return `${c.name}|running|Up 3 hours${c.healthcheck ? " (healthy)" : ""}`;
}

/** What each recorded probe changes in the well lab's `docker ps` lines, by container name. */
const CONTAINER_STATES: Record<string, Record<string, string>> = {
  // Restarting: `Restarting (<exit code>) <duration> ago` (container/state.go@v28.5.2).
  "citadel-broken.txt": { loki: "loki|restarting|Restarting (1) 12 seconds ago" },
};

/** The recorded probe `name` with the `containers` section of `containers`, after `docker-runtimes`. */
export function probeWithContainers(name: string, containers: RegisteredContainer[]): string {
  const recorded = readFileSync(path.join(__dirname, "..", "fixtures", "validate", name), "utf8");
  const states = CONTAINER_STATES[name] ?? {};
  const section = ["### containers rc=0", ...containers.map((c) => states[c.name] ?? upLine(c))].join("\n");
  const at = recorded.indexOf("### vllm-models-");
  if (at < 0 || /^### containers /m.test(recorded)) throw new Error(`${name}: unexpected layout`);
  return `${recorded.slice(0, at)}${section}\n${recorded.slice(at)}`;
}

/** Every recorded probe of citadel, its containers derived from the committed lab. */
export async function citadelProbes(): Promise<(name: string) => string> {
  const containers = registeredContainers(await synthLab());
  return (name) => probeWithContainers(name, containers);
}
