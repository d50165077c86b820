/**
 * `npm run validate`: checks the converged lab over SSH. For each host in the stack config it
 * runs the read-only probe script (host key pinned, passwordless sudo) and checks what it prints:
 * LVM sizes and mounts by UUID, GPUs and driver branch, Docker's nvidia runtime, every container
 * running and healthy, vLLM answering with its key, every Prometheus target up, Grafana, Loki,
 * Alertmanager and Phoenix healthy, backup timers and a fresh backup, the firewall.
 *
 *   npm run validate -- [--config Pulumi.citadel.yaml]
 *
 * Exit codes (also in `--help`): 0 every check passed; 1 a check failed on a host it reached; 2 bad
 * flags or config; 3 a host could not be reached and no reached host failed a check; 4 anything else.
 */
import "../lib/compile-cache";
import type { LabConfig } from "../components/config";
import { evaluateHost, probeServers, renderResults, type CheckResult } from "../components/ops/validate";
import { renderProbe } from "../components/ops/probe";
import { runOnHost } from "../lib/ssh";
import { EXIT, loadLab, parseFlags, runCli } from "../lib/cli";

/** Runs the probe on one host over SSH and returns what it printed. */
export function probeHost(lab: LabConfig, name: string): string {
  const script = renderProbe(probeServers(lab, name));
  try {
    return runOnHost(lab, name, script, { timeoutMs: 120_000 });
  } catch (err) {
    throw new Error(`cannot reach ${(err as Error).message}`, { cause: err });
  }
}

export function validateLab(
  lab: LabConfig,
  probe: (host: string) => string = (h) => probeHost(lab, h),
  progress: (line: string) => void = () => undefined,
): CheckResult[] {
  const hosts = Object.keys(lab.hosts).sort();
  return hosts.flatMap((host, i) => {
    progress(`validate: probing ${host} (${lab.hosts[host]?.address}), host ${i + 1} of ${hosts.length}…`);
    try {
      return evaluateHost(lab, host, probe(host));
    } catch (err) {
      return [{ host, check: "reachable", ok: false, detail: (err as Error).message }];
    }
  });
}

export const HELP = {
  usage: "npm run validate -- [--config <stack yaml>]",
  flags: { config: "the stack file naming the hosts to check and what they should run" },
  exits: {
    0: "every check passed on every host",
    1: "a check failed on a host that was reached",
    2: "bad flags or stack config (the message names the key)",
    3: "a host could not be reached over SSH, and no reached host failed a check",
    4: "anything else went wrong (the message says what)",
  },
};

/** 1 when a reached host failed a check, else 3 when a host was unreachable, else 0. */
export function validateExit(results: readonly CheckResult[]): number {
  if (results.some((r) => !r.ok && r.check !== "reachable")) return EXIT.verdict;
  return results.some((r) => !r.ok) ? EXIT.unreachable : EXIT.ok;
}

function main(): number {
  const { config } = parseFlags(process.argv.slice(2), { config: "Pulumi.citadel.yaml" }, [], HELP);
  const lab = loadLab(config);
  const results = validateLab(lab, undefined, (line) => console.error(line));
  console.log(renderResults(results));
  return validateExit(results);
}

if (require.main === module) runCli("validate", main);
