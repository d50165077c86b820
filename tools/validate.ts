/**
 * `npm run validate`: checks the converged lab over SSH. For each host in the stack config it
 * runs the read-only probe script (host key pinned, passwordless sudo) and checks what it prints:
 * LVM sizes and mounts by UUID, GPUs and driver branch, Docker's nvidia runtime, every container
 * running and healthy, vLLM answering with its key, every Prometheus target up, Grafana, Loki,
 * Alertmanager and Phoenix healthy, backup timers and a fresh backup, the firewall.
 *
 *   npm run validate -- [--config Pulumi.citadel.yaml]     exits 1 when a check fails
 */
import "./compile-cache";
import type { LabConfig } from "../components/config";
import { evaluateHost, probeServers, renderResults, type CheckResult } from "../components/ops/validate";
import { renderStandalone } from "../components/remote";
import { runOnHost } from "./ssh";
import { loadLab, parseFlags, runCli } from "./cli";

/** Runs the probe on one host over SSH and returns what it printed. */
export function probeHost(lab: LabConfig, name: string): string {
  const script = renderStandalone("ops/scripts/probe.sh", { VLLM_SERVERS: probeServers(lab, name) });
  try {
    return runOnHost(lab, name, script, { timeoutMs: 120_000 });
  } catch (err) {
    throw new Error(`cannot reach ${(err as Error).message}`, { cause: err });
  }
}

export function validateLab(
  lab: LabConfig,
  probe: (host: string) => string = (h) => probeHost(lab, h),
): CheckResult[] {
  return Object.keys(lab.hosts)
    .sort()
    .flatMap((host) => {
      try {
        return evaluateHost(lab, host, probe(host));
      } catch (err) {
        return [{ host, check: "reachable", ok: false, detail: (err as Error).message }];
      }
    });
}

function main(): number {
  const { config } = parseFlags(
    process.argv.slice(2),
    { config: "Pulumi.citadel.yaml" },
    [],
    "npm run validate -- [--config <stack yaml>]",
  );
  const lab = loadLab(config);
  const results = validateLab(lab);
  console.log(renderResults(results));
  return results.every((r) => r.ok) ? 0 : 1;
}

if (require.main === module) runCli("validate", main);
