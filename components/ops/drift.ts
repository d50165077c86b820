import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import {
  COMPONENTS_DIR,
  hostScript,
  publishFile,
  renderStandalone,
  timerUnits,
  type HostTarget,
} from "../remote";
import type { Expectation } from "./validate";
import { renderProbe } from "./probe";

export const DRIFT_UNIT = "citadel-drift";
export const DRIFT_SCRIPT = `/usr/local/lib/citadel/${DRIFT_UNIT}.sh`;
/** The host-side evaluator, read by the drift script (python3, standard library only). */
export const DRIFT_EVALUATOR = "ops/scripts/drift_eval.py";

export interface DriftArgs {
  /** Steps the drift timer's install waits for (the host's reboot, where there is one). @default [] */
  after?: pulumi.Input<pulumi.Resource>[];
  /** The host whose drift is checked. */
  host: HostTarget;
  /** The host's checks, from `hostExpectations(lab, host)`: the same list `npm run validate` uses. */
  expectations: Expectation[];
  /** The probe's VLLM_SERVERS for this host, from `probeServers(lab, host)`. */
  vllmServers: string;
  /** node-exporter's textfile directory, where the metrics go. */
  textfileDir: string;
  /** How often the timer runs, as a systemd time span. @default "1h" */
  every?: string;
}

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/** The drift timer's script as installed on the host: the probe, the evaluator and the checks inside it. */
export function renderDriftScript(
  args: Pick<DriftArgs, "expectations" | "vllmServers" | "textfileDir">,
): string {
  return renderStandalone("ops/scripts/drift.sh", {
    TEXTFILE_DIR: args.textfileDir,
    PROBE_B64: base64(renderProbe(args.vllmServers)),
    EVALUATOR_B64: base64(readFileSync(path.join(COMPONENTS_DIR, DRIFT_EVALUATOR), "utf8")),
    EXPECTATIONS: JSON.stringify(args.expectations),
  });
}

/**
 * The lab checking itself: an hourly systemd timer that runs `npm run validate`'s read-only probe on
 * the host, evaluates this host's checks there (python3; the host has no Node) and writes them as
 * node-exporter textfile metrics, for the LabDrift alert and the host dashboard. No secret in the
 * script: Prometheus and Alertmanager are asked with the host's root-only netrc files.
 */
export class Drift extends pulumi.ComponentResource {
  readonly timer: command.remote.Command;

  constructor(name: string, args: DriftArgs, opts?: pulumi.ComponentResourceOptions) {
    super("citadel:ops:Drift", name, {}, opts);
    const { host } = args;
    const packages = hostScript(
      `${name}-packages`,
      { host, script: "remote/scripts/ensure-packages.sh", params: { PACKAGES: "python3" } },
      { parent: this, dependsOn: args.after ?? [] },
    );
    const script = renderDriftScript(args);
    const units = timerUnits({
      description: "citadel drift check (npm run validate's probe, as textfile metrics)",
      execStart: DRIFT_SCRIPT,
      onBootSec: "10min",
      everySec: args.every ?? "1h",
    });
    publishFile(`${host.name}${DRIFT_SCRIPT}`, script);
    publishFile(`${host.name}/etc/systemd/system/${DRIFT_UNIT}.service`, units.service);
    publishFile(`${host.name}/etc/systemd/system/${DRIFT_UNIT}.timer`, units.timer);
    this.timer = hostScript(
      `${name}-timer`,
      {
        host,
        script: "ladon/scripts/install-timer.sh",
        params: {
          NAME: DRIFT_UNIT,
          SCRIPT_PATH: DRIFT_SCRIPT,
          SCRIPT: script,
          SERVICE_UNIT: units.service,
          TIMER_UNIT: units.timer,
        },
      },
      { parent: this, dependsOn: [packages] },
    );
    this.registerOutputs({ checks: args.expectations.map((e) => e.check) });
  }
}
