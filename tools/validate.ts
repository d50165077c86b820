/**
 * `npm run validate`: checks the converged lab over SSH. For each host in the stack config it
 * runs the read-only probe script (host key pinned, passwordless sudo) and checks what it prints:
 * LVM sizes and mounts by UUID, GPUs and driver branch, Docker's nvidia runtime, every container
 * running and healthy, vLLM answering with its key, every Prometheus target up, Grafana, Loki,
 * Alertmanager and Phoenix healthy, backup timers and a fresh backup, the firewall.
 *
 *   npm run validate -- [--config Pulumi.citadel.yaml]     exits 1 when a check fails
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { LabConfigError, parseLabConfig, SECRETS, type LabConfig } from "../components/config";
import { evaluateHost, renderResults, type CheckResult } from "../components/ops/validate";
import { renderStandalone, wrapScript } from "../components/remote";
import { readStackFile, stackConfigSource, StackFileError } from "./synth/stackfile";

/** Runs the probe on one host over SSH and returns what it printed. */
export function probeHost(lab: LabConfig, name: string): string {
  const host = lab.hosts[name] as LabConfig["hosts"][string];
  const script = renderStandalone("ops/scripts/probe.sh", { VLLM: lab.vllm?.host === name });
  const dir = mkdtempSync(path.join(tmpdir(), "citadel-validate-"));
  const knownHosts = path.join(dir, "known_hosts");
  const target = host.ssh.port === 22 ? host.address : `[${host.address}]:${host.ssh.port}`;
  writeFileSync(knownHosts, `${target} ${host.ssh.hostKey}\n`);
  try {
    const run = spawnSync(
      "ssh",
      [
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        "-o",
        "ConnectTimeout=15",
        "-p",
        String(host.ssh.port),
        `${host.ssh.user}@${host.address}`,
        wrapScript(script, host.sudo === "passwordless"),
      ],
      { encoding: "utf8", timeout: 120_000 },
    );
    if (run.status !== 0)
      throw new Error(
        `cannot reach ${name} (${host.address}) over SSH: ${(run.stderr || run.error?.message || "").trim()}`,
      );
    return run.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
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
  const argv = process.argv.slice(2);
  const i = argv.indexOf("--config");
  const file = i >= 0 ? argv[i + 1] : "Pulumi.citadel.yaml";
  if (!file || argv.some((a, j) => a.startsWith("--") && a !== "--config" && j !== i + 1)) {
    throw new StackFileError("usage: npm run validate -- [--config <stack yaml>]");
  }
  const stack = readStackFile(file);
  // Secrets are not needed here: the probe reads vLLM's key inside its container.
  const { lab } = parseLabConfig(
    stackConfigSource(
      stack,
      SECRETS.map((s) => s.key),
    ),
    file,
  );
  const results = validateLab(lab);
  console.log(renderResults(results));
  return results.every((r) => r.ok) ? 0 : 1;
}

if (require.main === module) {
  try {
    process.exit(main());
  } catch (err) {
    if (err instanceof LabConfigError || err instanceof StackFileError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}
