/**
 * Recorded probe outputs (tests/fixtures/validate/*.txt) with their `containers` section derived
 * from the containers the program registers, never written by hand: a container the lab gives no
 * healthcheck cannot appear `(healthy)` here.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { LabConfig } from "../../components/config";
import { resolveLadon } from "../../components/plan/ladon-resolve";
import type { SynthResult } from "../../lib/synth/harness";
import { synthLab } from "./synth";
import { requireTool } from "./tools";

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

/**
 * `iptables -S DOCKER-USER` as the real iptables prints it, in a network namespace of its own (the
 * machine's own rules are never touched): after the lab's after.rules block was restored, or, with
 * none, the empty chain Docker itself creates (setupUserChain, libnetwork/firewall_linux.go@v28.5.2).
 */
export function dockerUserChain(afterRules?: string): string {
  requireTool("iptables-restore");
  const body = afterRules
    ?.split("\n")
    .filter((l) => !l.startsWith("#"))
    .join("\n");
  const run = spawnSync(
    "unshare",
    [
      "-n",
      "sh",
      "-c",
      `${body ? "iptables-restore -n" : "iptables -N DOCKER-USER"} && iptables -S DOCKER-USER`,
    ],
    { input: body ? `${body}\n` : "", encoding: "utf8" },
  );
  if (run.status !== 0) throw new Error(`iptables in a network namespace failed (needs root): ${run.stderr}`);
  return run.stdout.trim();
}

/**
 * `nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader` for a host's GPUs as its
 * config declares them: one line per GPU, the fields in the order asked, joined by ", " (the CSV
 * format of nvidia-smi(1), `--format=csv`; `nvidia-smi --help-query-gpu` names the fields). The
 * driver's minor version is not in config: any release of the pinned branch.
 */
export function nvidiaSmiLines(lab: LabConfig, host: string, gpus?: number, branch?: string): string {
  const nvidia = lab.hosts[host]?.nvidia;
  if (!nvidia) throw new Error(`${host} has no GPUs in config`);
  return Array.from(
    { length: gpus ?? nvidia.gpus.count },
    (_, i) => `${i}, ${nvidia.gpus.model}, ${branch ?? nvidia.driver.branch}.95.05`,
  ).join("\n");
}

/**
 * `GET /api/v1/targets?state=active` for the lab's scrape jobs, each target `up` unless its job is
 * in `down`: the Response envelope and TargetDiscovery/Target fields of web/api/v1/api.go@v3.16.0
 * (`health` is scrape.TargetHealth: up, down or unknown), with only the fields the check reads.
 */
export function prometheusTargets(lab: LabConfig, down: string[] = []): string {
  if (!lab.ladon) throw new Error("the lab has no LadonStack");
  const activeTargets = resolveLadon(lab, lab.ladon).scrapeJobs.flatMap((j) =>
    j.targets.map((t) => ({
      health: down.includes(j.job) ? "down" : "up",
      labels: { instance: t.address, job: j.job },
    })),
  );
  return JSON.stringify({ status: "success", data: { activeTargets } });
}

/** What a recorded probe's program-output sections are made from. */
export interface ProbeSources {
  containers: RegisteredContainer[];
  /** `iptables -S DOCKER-USER` with the lab's rules, and Docker's own empty chain. */
  dockerUser: { lab: string; docker: string };
  lab: LabConfig;
}

/**
 * The recorded probe `name` with its program-output sections derived, never hand-written: the
 * `containers` section from the registered containers, `docker-user` from the real iptables,
 * `nvidia-smi` from the host's GPU config and `prometheus-targets` from the lab's scrape jobs (the
 * broken probe: one GPU short, the GPU exporter's target down).
 */
export function probeWithContainers(
  name: string,
  containers: RegisteredContainer[],
  sources?: ProbeSources,
): string {
  let recorded = readFileSync(path.join(__dirname, "..", "fixtures", "validate", name), "utf8");
  const states = CONTAINER_STATES[name] ?? {};
  const section = ["### containers rc=0", ...containers.map((c) => states[c.name] ?? upLine(c))].join("\n");
  const at = recorded.indexOf("### vllm-models-");
  if (at < 0 || /^### containers /m.test(recorded)) throw new Error(`${name}: unexpected layout`);
  recorded = `${recorded.slice(0, at)}${section}\n${recorded.slice(at)}`;
  if (!sources) return recorded;
  const broken = name === "citadel-broken.txt";
  const derived: Record<string, string> = {
    "docker-user": broken ? sources.dockerUser.docker : sources.dockerUser.lab,
    "nvidia-smi": nvidiaSmiLines(sources.lab, "citadel", broken ? 1 : undefined),
    // The broken probe: the GPU exporter's target is down.
    "prometheus-targets": prometheusTargets(sources.lab, broken ? ["gpu"] : []),
  };
  for (const [key, text] of Object.entries(derived)) {
    const head = new RegExp(`^### ${key} rc=0\\n(?:(?!### ).*\\n?)*`, "m");
    if (!head.test(recorded)) throw new Error(`${name}: no ${key} section`);
    recorded = recorded.replace(head, () => `### ${key} rc=0\n${text}\n`);
  }
  return recorded;
}

/** Every recorded probe of citadel, its program-output sections derived from the committed lab. */
export async function citadelProbes(lab: LabConfig): Promise<(name: string) => string> {
  const result = await synthLab();
  const afterRules = result.files.get("citadel/etc/ufw/after.rules.citadel");
  if (afterRules === undefined) throw new Error("the lab rendered no DOCKER-USER rules for citadel");
  const sources: ProbeSources = {
    containers: registeredContainers(result),
    dockerUser: { lab: dockerUserChain(afterRules), docker: dockerUserChain() },
    lab,
  };
  return (name) => probeWithContainers(name, sources.containers, sources);
}
