/** Drift and validation: the timers that check the lab against its config. */
import type { Thresholds } from "../../../config/ladon";
import type { RuleFixtures, RuleGroup } from "./types";

export function driftRules(_t: Thresholds, { node, sel }: RuleFixtures): RuleGroup {
  return {
    // The drift timer (components/ops/drift.ts) runs npm run validate's checks hourly on each host.
    name: "drift",
    rules: [
      {
        alert: "LabDrift",
        expr: "citadel_validate_check == 0",
        for: "2h",
        severity: "warning",
        summary:
          "Check {{ $labels.check }} has failed on {{ $labels.host }} for 2h: the host drifted from the stack; `npm run validate` shows why, `pulumi up` converges it back.",
        labels: { ...node, check: "firewall" },
        fires: {
          series: { [`citadel_validate_check${sel({ ...node, check: "firewall" })}`]: "0x180" },
          at: "2h30m",
        },
        // Failing twice, but never for 2h on end.
        quiet: {
          series: { [`citadel_validate_check${sel({ ...node, check: "firewall" })}`]: "0x90 1x30 0x60" },
          at: "2h30m",
        },
      },
      {
        alert: "LabDriftProbeStale",
        expr: "time() - citadel_validate_last_run_timestamp_seconds > 3 * 3600",
        for: "15m",
        severity: "warning",
        summary:
          "The drift timer on {{ $labels.host }} has not run for 3h, so its checks are stale: `systemctl status citadel-drift.timer citadel-drift.service` on it.",
        labels: node,
        fires: {
          series: { [`citadel_validate_last_run_timestamp_seconds${sel(node)}`]: "0x240" },
          at: "3h30m",
        },
        quiet: {
          series: { [`citadel_validate_last_run_timestamp_seconds${sel(node)}`]: "0+60x240" },
          at: "3h30m",
        },
      },
    ],
  };
}
