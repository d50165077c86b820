/** The "LadonStack self-health" dashboard. */
import { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { RATE, timeseries, base } from "./panels";

export function ladonDashboard(): DashboardBuilder {
  return base("citadel-ladon", "LadonStack self-health")
    .withPanel(
      timeseries("Scrape targets up", "short", [
        ["sum by (job) (up)", "{{job}} up"],
        ["count by (job) (up)", "{{job}} total"],
      ]),
    )
    .withPanel(
      timeseries("Ingestion", "short", [
        [`sum(rate(prometheus_tsdb_head_samples_appended_total[${RATE}]))`, "Prometheus samples/s"],
        [`sum(rate(loki_distributor_lines_received_total[${RATE}]))`, "Loki lines/s"],
      ]),
    )
    .withPanel(
      timeseries("Disk use against retention limits", "bytes", [
        ["citadel_data_dir_bytes", "{{service}} used"],
        ["citadel_retention_limit_bytes", "{{service}} limit"],
      ]),
    )
    .withPanel(
      timeseries("Data volume", "bytes", [
        ["citadel_data_volume_free_bytes", "free"],
        ["citadel_data_volume_size_bytes", "size"],
      ]),
    )
    .withPanel(
      timeseries("Prometheus TSDB blocks", "bytes", [["prometheus_tsdb_storage_blocks_bytes", "blocks"]]),
    );
}
