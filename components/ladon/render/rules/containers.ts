/** Containers: restarts and memory against their limits, from cAdvisor. */
import type { Thresholds } from "../../../config/ladon";
import type { RuleFixtures, RuleGroup } from "./types";

export function containersRules(_t: Thresholds, { sel }: RuleFixtures): RuleGroup {
  return {
    name: "containers",
    rules: [
      {
        alert: "ContainerRestarting",
        expr: 'changes(container_start_time_seconds{name!=""}[15m]) > 2',
        for: "0m",
        severity: "warning",
        summary:
          "Container {{ $labels.name }} on {{ $labels.host }} restarted more than twice in 15m: read `docker logs {{ $labels.name }}`.",
        labels: { job: "cadvisor", host: "citadel", instance: "cadvisor:8080", name: "loki" },
        fires: {
          series: {
            [`container_start_time_seconds${sel({ job: "cadvisor", host: "citadel", instance: "cadvisor:8080", name: "loki" })}`]:
              "100 200 300 400 500 600",
          },
          at: "5m",
        },
        quiet: {
          series: {
            [`container_start_time_seconds${sel({ job: "cadvisor", host: "citadel", instance: "cadvisor:8080", name: "loki" })}`]:
              "100x10",
          },
          at: "5m",
        },
      },
    ],
  };
}
