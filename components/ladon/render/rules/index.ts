/**
 * Prometheus alert rules as data. Every rule carries its severity, a summary that tells the
 * operator what to do, and its own promtool unit test: series under which it fires, and series
 * under which it stays quiet. One module per concern (hosts, gpus, vllm, containers, ladon, backups, drift), concatenated in this
 * fixed order, so the rendered rules file keeps its order.
 */
import { stringify } from "yaml";
import type { Thresholds } from "../../../config/ladon";
import { ruleFixtures, type RuleGroup } from "./types";
import { hostsRules } from "./hosts";
import { gpusRules } from "./gpus";
import { vllmRules } from "./vllm";
import { containersRules } from "./containers";
import { ladonRules } from "./ladon";
import { backupsRules } from "./backups";
import { driftRules } from "./drift";

export type { AlertRule, AlertTest, RuleFixtures, RuleGroup } from "./types";

/** The concerns, in the order their groups appear in the rules file. */
const CONCERNS = [
  hostsRules,
  gpusRules,
  vllmRules,
  containersRules,
  ladonRules,
  backupsRules,
  driftRules,
] as const;

/** The lab's rules, tuned by `ladon.thresholds`. */
export function alertRules(t: Thresholds): RuleGroup[] {
  const fixtures = ruleFixtures();
  const groups: RuleGroup[] = CONCERNS.map((concern) => concern(t, fixtures));
  // `vgFreeRatio: off` is a VG meant to be full (an LV of all-free): no LvmVolumeGroupNearlyFull.
  if (t.vgFreeRatio !== "off") return groups;
  return groups.map((g) => ({ ...g, rules: g.rules.filter((r) => r.alert !== "LvmVolumeGroupNearlyFull") }));
}

/** The rules file Prometheus loads. */
export function renderRulesFile(groups: RuleGroup[]): string {
  return stringify(
    {
      groups: groups.map((g) => ({
        name: g.name,
        rules: g.rules.map((r) => ({
          alert: r.alert,
          expr: r.expr,
          for: r.for,
          labels: { severity: r.severity },
          annotations: { summary: r.summary },
        })),
      })),
    },
    { lineWidth: 0 },
  );
}

const expand = (template: string, labels: Record<string, string>) =>
  template.replace(/\{\{ \$labels\.([a-zA-Z_]+) \}\}/g, (_m, name: string) => labels[name] ?? "");

/** `promtool test rules` input: for every alert, one case where it fires and one where it does not. */
export function renderRuleTests(groups: RuleGroup[], rulesFile: string): string {
  const tests = groups.flatMap((g) =>
    g.rules.flatMap((r) => [
      {
        interval: "1m",
        input_series: Object.entries(r.fires.series).map(([series, values]) => ({ series, values })),
        alert_rule_test: [
          {
            eval_time: r.fires.at,
            alertname: r.alert,
            exp_alerts: [
              {
                exp_labels: { ...r.labels, severity: r.severity },
                exp_annotations: { summary: expand(r.summary, r.labels) },
              },
            ],
          },
        ],
      },
      {
        interval: "1m",
        input_series: Object.entries(r.quiet.series).map(([series, values]) => ({ series, values })),
        alert_rule_test: [{ eval_time: r.quiet.at, alertname: r.alert, exp_alerts: [] }],
      },
    ]),
  );
  return stringify({ rule_files: [rulesFile], evaluation_interval: "1m", tests }, { lineWidth: 0 });
}
