/** The "Host and storage" dashboard. */
import {
  DashboardBuilder,
  MappingType,
  QueryVariableBuilder,
  RowBuilder,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { BigValueColorMode, BigValueTextMode } from "@grafana/grafana-foundation-sdk/common";
import { DataqueryBuilder as PromQuery } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatPanel } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TimeseriesPanel } from "@grafana/grafana-foundation-sdk/timeseries";
import { PROMETHEUS_DS, RATE, timeseries, stat, base } from "./panels";

/**
 * How far an md resync, check (the monthly scrub) or recovery has come. node_md_state has one series
 * per state, 1 for the current one, with the values "resync", "check" and "recovering"
 * (collector/mdadm_linux.go@v1.12.1, from procfs mdstat.go@v0.21.1's "resyncing", "checking",
 * "recovering"; a reshape is exported as none of them). The ratio is /proc/mdstat's counter over
 * the array's blocks, and the kernel counts a resync or check over resync_max_sectors and a
 * recovery over one member (md.c status_resync): the array for RAID1 in every case and for
 * RAID10's resync and check, but one member for RAID5/6 and for RAID10's recovery
 * (raid5.c, raid10.c set resync_max_sectors). node_exporter v1.12.1 does not export the counter's
 * own total, so there the ratio stops at the member's share, e.g. 1/(n-1) on RAID5.
 */
function raidSyncProgress(h: string): TimeseriesPanel {
  return timeseries("RAID resync, check and recovery progress", "percentunit", [
    [
      `node_md_blocks_synced{${h}} / node_md_blocks{${h}} and on (instance, device) node_md_state{${h}, state=~"resync|check|recovering"} == 1`,
      "{{host}} {{device}}",
    ],
  ])
    .min(0)
    .max(1)
    .description(
      "Blocks synced over the array's blocks while md resyncs, checks (the monthly scrub) or recovers. Exact for RAID1, and for RAID10's resync and check; the kernel counts RAID5/6 and RAID10 recovery over one member, so there it ends at that member's share of the array.",
    );
}

export function hostDashboard(): DashboardBuilder {
  const h = 'host=~"$host"';
  const fs = `${h}, fstype!~"tmpfs|overlay|squashfs|iso9660|nsfs"`;
  return base("citadel-host", "Host and storage")
    .withVariable(
      new QueryVariableBuilder("host")
        .label("Host")
        .datasource(PROMETHEUS_DS)
        .query("label_values(node_uname_info, host)")
        .multi(true)
        .includeAll(true),
    )
    .withPanel(
      timeseries(
        "CPU busy",
        "percentunit",
        [[`1 - avg by (host) (rate(node_cpu_seconds_total{${h}, mode="idle"}[${RATE}]))`, "{{host}}"]],
        8,
      ),
    )
    .withPanel(
      timeseries(
        "Memory used",
        "percentunit",
        [[`1 - node_memory_MemAvailable_bytes{${h}} / node_memory_MemTotal_bytes{${h}}`, "{{host}}"]],
        8,
      ),
    )
    .withPanel(
      timeseries(
        "Network",
        "Bps",
        [
          [
            `sum by (host) (rate(node_network_receive_bytes_total{${h}, device!~"lo|veth.*|docker.*|br-.*"}[${RATE}]))`,
            "in {{host}}",
          ],
          [
            `sum by (host) (rate(node_network_transmit_bytes_total{${h}, device!~"lo|veth.*|docker.*|br-.*"}[${RATE}]))`,
            "out {{host}}",
          ],
        ],
        8,
      ),
    )
    .withRow(new RowBuilder("Storage"))
    .withPanel(
      timeseries("Filesystem fill", "percentunit", [
        [
          `1 - node_filesystem_avail_bytes{${fs}} / node_filesystem_size_bytes{${fs}}`,
          "{{host}} {{mountpoint}}",
        ],
      ]),
    )
    .withPanel(
      timeseries("Free space predicted in 24h", "bytes", [
        [`predict_linear(node_filesystem_avail_bytes{${fs}}[6h], 86400)`, "{{host}} {{mountpoint}}"],
      ]),
    )
    .withPanel(
      timeseries("Disk I/O", "Bps", [
        [`rate(node_disk_read_bytes_total{${h}}[${RATE}])`, "read {{host}} {{device}}"],
        [`rate(node_disk_written_bytes_total{${h}}[${RATE}])`, "write {{host}} {{device}}"],
      ]),
    )
    .withPanel(
      timeseries("LVM volume group free", "bytes", [[`citadel_lvm_vg_free_bytes{${h}}`, "{{host}} {{vg}}"]]),
    )
    .withPanel(raidSyncProgress(h))
    .withPanel(
      stat(
        "RAID sectors inconsistent at the last scrub",
        "short",
        `sum(citadel_md_scrub_mismatch_sectors{${h}}) or vector(0)`,
      ),
    )
    .withPanel(
      stat(
        "RAID members missing",
        "short",
        `sum(node_md_disks_required{${h}}) - sum(node_md_disks{${h}, state="active"}) or vector(0)`,
      ),
    )
    .withPanel(
      stat(
        "Failed systemd units",
        "short",
        `count(node_systemd_unit_state{${h}, state="failed"} == 1) or vector(0)`,
      ),
    )
    .withPanel(
      stat("OOM kills (24h)", "short", `sum(increase(node_vmstat_oom_kill{${h}}[24h])) or vector(0)`),
    )
    .withPanel(stat("Up", "short", `count(up{${h}, job="node"} == 1)`))
    .withRow(new RowBuilder("Drift (npm run validate's checks, hourly on each host)"))
    .withPanel(
      new StatPanel()
        .title("Checks")
        .datasource(PROMETHEUS_DS)
        .height(8)
        .span(18)
        .withTarget(
          new PromQuery().expr(`citadel_validate_check{${h}}`).legendFormat("{{host}} {{check}}").refId("A"),
        )
        .colorMode(BigValueColorMode.Background)
        .textMode(BigValueTextMode.ValueAndName)
        .mappings([
          {
            type: MappingType.ValueToText,
            options: { "0": { text: "FAIL", color: "red" }, "1": { text: "PASS", color: "green" } },
          },
        ]),
    )
    .withPanel(
      stat(
        "Last drift run",
        "s",
        `time() - max by (host) (citadel_validate_last_run_timestamp_seconds{${h}})`,
      ),
    );
}
