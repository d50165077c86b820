/**
 * The drift timer: the host-side evaluator (ops/scripts/drift_eval.py) against evaluateHost on the
 * same probe output, the installed script on a simulated host, and the timer on every host.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import * as path from "node:path";
import { type LabConfig } from "../components/config";
import { parseLabConfig } from "../components/plan";
import { DRIFT_EVALUATOR, renderDriftScript } from "../components/ops/drift";
import { evaluateHost, hostExpectations, probeServers } from "../components/ops/validate";
import { COMPONENTS_DIR, wrapScript } from "../components/remote";
import { fromConfigMap, stackConfigSource } from "../lib/synth/stackfile";
import { mutations, SimHost } from "./support/hostsim";
import { addMonitoringPi, LAB_SECRETS, labConfigMap } from "./support/lab";
import { citadelProbes } from "./support/probe";
import { synthLab } from "./support/synth";

/** A recorded probe of citadel, its `docker ps` lines derived from the lab's registered containers. */
let fixture: (name: string) => string;
beforeAll(async () => {
  fixture = await citadelProbes(lab);
});
const lab: LabConfig = parseLabConfig(stackConfigSource(fromConfigMap(labConfigMap()), LAB_SECRETS)).lab;
const PROM = "/var/lib/node_exporter/textfile/citadel_validate.prom";

/** The check samples of a metrics file, as `check -> 1 | 0`. */
function checks(metrics: string): Record<string, number> {
  return Object.fromEntries(
    [...metrics.matchAll(/^citadel_validate_check\{check="([^"]*)"\} ([01])$/gm)].map((m) => [
      m[1],
      Number(m[2]),
    ]),
  );
}

/** What drift_eval.py makes of a probe output, with the host's rendered checks. */
function evaluateOnHost(host: string, output: string): string {
  const run = spawnSync("python3", [path.join(COMPONENTS_DIR, DRIFT_EVALUATOR)], {
    input: output,
    encoding: "utf8",
    env: { PATH: process.env.PATH, EXPECTATIONS: JSON.stringify(hostExpectations(lab, host)) },
  });
  expect(run.status).toBe(0);
  return run.stdout;
}

/** A probe that prints a recorded output, in place of the real one. */
const recorded = (output: string) =>
  `#!/usr/bin/env bash\nset -euo pipefail\ncat <<'PROBE_EOF'\n${output}\nPROBE_EOF\n`;

describe("the host-side evaluator", () => {
  const variants: Record<string, () => string> = {
    healthy: () => fixture("citadel-healthy.txt"),
    broken: () => fixture("citadel-broken.txt"),
    "no output": () => "",
    "every probe failed": () => fixture("citadel-healthy.txt").replace(/ rc=0$/gm, " rc=1"),
    "garbled JSON and numbers": () =>
      fixture("citadel-healthy.txt")
        .replace(/"activeTargets"/, '"nothing"')
        .replace(/^\{"io\.containerd.*$/m, '"nvidia"')
        .replace(/^1024$/m, "many"),
    "unhealthy and health-less containers": () =>
      fixture("citadel-healthy.txt")
        .replace(/^grafana\|running\|.*$/m, "grafana|running|Up 3 hours (unhealthy)")
        .replace(/^loki\|running\|.*$/m, "loki|running|Up 3 hours"),
  };
  it.each(Object.keys(variants))("agrees with evaluateHost on every check: %s", (name) => {
    const output = (variants[name] as () => string)();
    const want = Object.fromEntries(evaluateHost(lab, "citadel", output).map((r) => [r.check, r.ok ? 1 : 0]));
    expect(checks(evaluateOnHost("citadel", output))).toEqual(want);
  });

  it("writes node_exporter's text format with a run timestamp", () => {
    const out = evaluateOnHost("citadel", fixture("citadel-broken.txt"));
    expect(out).toMatch(/^# HELP citadel_validate_check .+\n# TYPE citadel_validate_check gauge\n/);
    expect(out).toMatch(/^citadel_validate_check\{check="mount \/srv\/backup"\} 0$/m);
    expect(out).toMatch(/^citadel_validate_check\{check="vLLM embed \/v1\/embeddings"\} 1$/m);
    const stamp = Number(/^citadel_validate_last_run_timestamp_seconds (\d+)$/m.exec(out)?.[1]);
    expect(Math.abs(stamp - Date.now() / 1000)).toBeLessThan(60);
  });
});

describe("the drift timer's script on a host", () => {
  const params = {
    expectations: hostExpectations(lab, "citadel"),
    vllmServers: probeServers(lab, "citadel"),
  };
  const rendered = renderDriftScript({ ...params, textfileDir: "/var/lib/node_exporter/textfile" });

  it.each([
    ["citadel-healthy.txt", 0],
    ["citadel-broken.txt", 11],
  ])("writes the checks of %s, %i failing, atomically and again on a second run", (name, failing) => {
    const h = new SimHost();
    // The installed script, its probe swapped for the recorded output.
    const probe = Buffer.from(recorded(fixture(name))).toString("base64");
    const script = rendered.replace(/^export PROBE_B64='[^']*'$/m, () => `export PROBE_B64='${probe}'`);
    expect(script).not.toBe(rendered);
    const first = h.exec(wrapScript(script, false));
    expect(first.stderr.split("\n").filter((l) => l.startsWith("drift: "))).toHaveLength(failing);
    expect(first.status).toBe(0);
    const metrics = h.read(PROM);
    const want = Object.fromEntries(
      evaluateHost(lab, "citadel", fixture(name)).map((r) => [r.check, r.ok ? 1 : 0]),
    );
    expect(checks(metrics)).toEqual(want);
    expect(Object.values(want).filter((v) => v === 0)).toHaveLength(failing);
    const second = h.exec(wrapScript(script, false));
    expect(second.status).toBe(0);
    expect(mutations(second)).toEqual([]);
    // Only the run timestamp moves; no temporary file is left for the collector.
    const strip = (m: string) => m.replace(/^citadel_validate_last_run_timestamp_seconds \d+$/m, "");
    expect(strip(h.read(PROM))).toBe(strip(metrics));
    expect(readdirSync(path.join(h.root, path.dirname(PROM)))).toEqual(["citadel_validate.prom"]);
  });

  it("runs the real probe and writes every check, changing nothing on the host", () => {
    const h = new SimHost();
    const run = h.exec(wrapScript(rendered, false));
    expect(run.stderr).not.toMatch(/Traceback/);
    expect(run.status).toBe(0);
    expect(Object.keys(checks(h.read(PROM)))).toEqual(params.expectations.map((e) => e.check));
    // What MUTATING counts as a change here is the probe's reads: health GETs and vLLM's /v1 requests.
    const reads = /^curl |^docker exec vllm-(chat|embed) python3 -c import json, os, sys, urllib\.request$/;
    expect(mutations(run).filter((c) => !reads.test(c))).toEqual([]);
  });
});

describe("the drift timer in the lab", () => {
  it("installs citadel-drift.{service,timer} hourly on every host, with no secret in the script", async () => {
    const config = labConfigMap();
    addMonitoringPi(config);
    const secrets = { vllmApiKey: "sk-drift-test-key", grafanaAdminPassword: "grafana-drift-test" };
    const result = await synthLab(config, undefined, secrets);
    for (const host of ["citadel", "pi"]) {
      expect(result.files.get(`${host}/etc/systemd/system/citadel-drift.timer`)).toMatch(
        /^OnUnitActiveSec=1h$/m,
      );
      expect(result.files.get(`${host}/etc/systemd/system/citadel-drift.service`)).toMatch(
        /^ExecStart=\/usr\/local\/lib\/citadel\/citadel-drift\.sh$/m,
      );
      const script = result.files.get(`${host}/usr/local/lib/citadel/citadel-drift.sh`) as string;
      expect(script).toMatch(/^# citadel script: ops\/scripts\/drift\.sh$/m);
      // The probe and evaluator inside it included.
      const decoded = [...script.matchAll(/^export \w+_B64='([^']*)'$/gm)].map((m) =>
        Buffer.from(m[1] as string, "base64").toString("utf8"),
      );
      expect(decoded.join("\n")).toMatch(/^# citadel script: ops\/scripts\/probe\.sh$/m);
      for (const secret of Object.values(secrets))
        expect([script, ...decoded].join("\n")).not.toContain(secret);
      const drift = result.resources.find((r) => r.name === `${host}-drift`);
      expect(drift?.type).toBe("citadel:ops:Drift");
      expect(result.resources.find((r) => r.name === `${host}-drift-timer`)?.parent).toBe(drift?.urn);
    }
    for (const host of ["citadel", "pi"]) {
      // Ten minutes after boot, then hourly, under a name that says what it is.
      expect(result.files.get(`${host}/etc/systemd/system/citadel-drift.timer`)).toMatch(
        /^OnBootSec=10min$/m,
      );
      expect(result.files.get(`${host}/etc/systemd/system/citadel-drift.service`)).toMatch(
        /^Description=citadel drift check \(npm run validate's probe, as textfile metrics\)$/m,
      );
      // The evaluator needs python3 on the host, installed first.
      const packages = result.resources.find((r) => r.name === `${host}-drift-packages`);
      expect(String(packages?.inputs.create)).toMatch(/^export PACKAGES='python3'$/m);
      // The timer's step installs this script and these units under the drift unit's name.
      const timer = String(result.resources.find((r) => r.name === `${host}-drift-timer`)?.inputs.create);
      expect(timer).toMatch(/^export NAME='citadel-drift'$/m);
      expect(timer).toMatch(/^export SCRIPT_PATH='\/usr\/local\/lib\/citadel\/citadel-drift\.sh'$/m);
      expect(timer).toContain(`# citadel script: ops/scripts/drift.sh`);
      expect(result.resources.find((r) => r.name === `${host}-drift-timer`)?.dependsOn).toContain(
        packages?.urn,
      );
    }
    // On citadel, after the NVIDIA driver is verified: a check during its reboot would only report that.
    const verify = result.resources.find((r) => r.name === "citadel-nvidia-verify");
    expect(result.resources.find((r) => r.name === "citadel-drift-packages")?.dependsOn).toContain(
      verify?.urn,
    );
    // The Pi has no storage, GPUs or services: only the firewall is checked there.
    expect(result.files.get("pi/usr/local/lib/citadel/citadel-drift.sh")).toContain(
      `export EXPECTATIONS='[{"check":"firewall","kind":"firewall"},{"check":"DOCKER-USER rules","kind":"docker-user"}]'`,
    );
  });
});
