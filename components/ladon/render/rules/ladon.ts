/** The LadonStack itself: its services up, their data against retention limits. */
import type { Thresholds } from "../../../config/ladon";
import type { RuleFixtures, RuleGroup } from "./types";

export function ladonRules(t: Thresholds, { node, sel }: RuleFixtures): RuleGroup {
  return {
    name: "ladon",
    rules: [
      {
        alert: "ScrapeTargetDown",
        expr: "up == 0",
        for: "5m",
        severity: "warning",
        summary:
          "Prometheus cannot scrape {{ $labels.job }} at {{ $labels.instance }}: the service is down or its port moved; dashboards for it are blind.",
        labels: { job: "loki", host: "citadel", instance: "loki:3100" },
        fires: {
          series: { [`up${sel({ job: "loki", host: "citadel", instance: "loki:3100" })}`]: "0x10" },
          at: "8m",
        },
        quiet: {
          series: { [`up${sel({ job: "loki", host: "citadel", instance: "loki:3100" })}`]: "1x10" },
          at: "8m",
        },
      },
      {
        alert: "LadonDataDiskNearlyFull",
        expr: `citadel_data_volume_free_bytes / citadel_data_volume_size_bytes < ${t.diskFreeRatio}`,
        for: "15m",
        severity: "critical",
        summary:
          "The volume under Prometheus's and Loki's data on {{ $labels.host }} is nearly full: lower ladon.prometheus.retentionSize or ladon.loki.retentionPeriod.",
        labels: { ...node },
        fires: {
          series: {
            [`citadel_data_volume_free_bytes${sel(node)}`]: "5e9x30",
            [`citadel_data_volume_size_bytes${sel(node)}`]: "1e12x30",
          },
          at: "20m",
        },
        quiet: {
          series: {
            [`citadel_data_volume_free_bytes${sel(node)}`]: "5e11x30",
            [`citadel_data_volume_size_bytes${sel(node)}`]: "1e12x30",
          },
          at: "20m",
        },
      },
      {
        alert: "PrometheusStorageNearLimit",
        expr: 'citadel_data_dir_bytes{service="prometheus"} / citadel_retention_limit_bytes{service="prometheus"} > 0.95',
        for: "30m",
        severity: "warning",
        summary:
          "Prometheus's data on {{ $labels.host }} is at its size limit, so history is shorter than the time retention: raise ladon.prometheus.retentionSize if the disk allows.",
        labels: { ...node, service: "prometheus" },
        fires: {
          series: {
            [`citadel_data_dir_bytes${sel({ ...node, service: "prometheus" })}`]: "49e9x60",
            [`citadel_retention_limit_bytes${sel({ ...node, service: "prometheus" })}`]: "50e9x60",
          },
          at: "40m",
        },
        quiet: {
          series: {
            [`citadel_data_dir_bytes${sel({ ...node, service: "prometheus" })}`]: "10e9x60",
            [`citadel_retention_limit_bytes${sel({ ...node, service: "prometheus" })}`]: "50e9x60",
          },
          at: "40m",
        },
      },
      {
        alert: "LokiStorageOverBudget",
        expr: 'citadel_data_dir_bytes{service="loki"} / citadel_retention_limit_bytes{service="loki"} > 1',
        for: "30m",
        severity: "warning",
        summary:
          "Loki's data on {{ $labels.host }} is past the size planned for its retention: logs grow faster than ladon.loki.expectedDailyIngest; find the noisy stream in the Logs dashboard.",
        labels: { ...node, service: "loki" },
        fires: {
          series: {
            [`citadel_data_dir_bytes${sel({ ...node, service: "loki" })}`]: "40e9x60",
            [`citadel_retention_limit_bytes${sel({ ...node, service: "loki" })}`]: "31e9x60",
          },
          at: "40m",
        },
        quiet: {
          series: {
            [`citadel_data_dir_bytes${sel({ ...node, service: "loki" })}`]: "10e9x60",
            [`citadel_retention_limit_bytes${sel({ ...node, service: "loki" })}`]: "31e9x60",
          },
          at: "40m",
        },
      },
    ],
  };
}
