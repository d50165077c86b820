/** Hosts: up, disks, filesystems, RAID, LVM and the textfile timers. */
import type { Thresholds } from "../../../config/ladon";
import type { RuleFixtures, RuleGroup } from "./types";

export function hostsRules(t: Thresholds, { node, fs, md, sel, FS }: RuleFixtures): RuleGroup {
  return {
    name: "hosts",
    rules: [
      {
        alert: "HostDown",
        expr: 'up{job="node"} == 0',
        for: "2m",
        severity: "critical",
        summary:
          "{{ $labels.host }} is down or node-exporter is not answering: check power, network and `systemctl status docker` on it.",
        labels: node,
        fires: { series: { [`up${sel(node)}`]: "0x10" }, at: "5m" },
        quiet: { series: { [`up${sel(node)}`]: "1x10" }, at: "5m" },
      },
      {
        alert: "HostFilesystemFillsWithin24h",
        expr: `predict_linear(node_filesystem_avail_bytes{${FS}}[6h], 86400) < 0 and node_filesystem_avail_bytes{${FS}} / node_filesystem_size_bytes{${FS}} < 0.4`,
        for: "30m",
        severity: "warning",
        summary:
          "{{ $labels.mountpoint }} on {{ $labels.host }} will be full within 24h at the current rate: find what grows (du -xsh) or lower retention.",
        labels: fs,
        fires: {
          series: {
            [`node_filesystem_avail_bytes${sel(fs)}`]: "300e9-1e9x480",
            [`node_filesystem_size_bytes${sel(fs)}`]: "1000e9x480",
          },
          at: "7h",
        },
        quiet: {
          series: {
            [`node_filesystem_avail_bytes${sel(fs)}`]: "300e9x480",
            [`node_filesystem_size_bytes${sel(fs)}`]: "1000e9x480",
          },
          at: "7h",
        },
      },
      {
        alert: "HostFilesystemReadOnly",
        expr: `node_filesystem_readonly{${FS}} == 1`,
        for: "5m",
        severity: "critical",
        summary:
          "{{ $labels.mountpoint }} on {{ $labels.host }} went read-only, usually after I/O errors: check dmesg and the disk's SMART data before remounting.",
        labels: fs,
        fires: { series: { [`node_filesystem_readonly${sel(fs)}`]: "1x10" }, at: "10m" },
        quiet: { series: { [`node_filesystem_readonly${sel(fs)}`]: "0x10" }, at: "10m" },
      },
      {
        alert: "HostRaidDegraded",
        expr: '(node_md_disks_required - on (host, instance, device) node_md_disks{state="active"}) > 0',
        for: "5m",
        severity: "critical",
        summary:
          "RAID {{ $labels.device }} on {{ $labels.host }} is missing a member: check `cat /proc/mdstat` and replace the disk.",
        // One-to-one matching with on() keeps only the matched labels.
        labels: { host: "citadel", instance: node.instance, device: "md0" },
        fires: {
          series: {
            [`node_md_disks_required${sel({ ...node, device: "md0" })}`]: "2x10",
            [`node_md_disks${sel({ ...node, device: "md0", state: "active" })}`]: "1x10",
          },
          at: "10m",
        },
        quiet: {
          series: {
            [`node_md_disks_required${sel({ ...node, device: "md0" })}`]: "2x10",
            [`node_md_disks${sel({ ...node, device: "md0", state: "active" })}`]: "2x10",
          },
          at: "10m",
        },
      },
      {
        // node_md_state carries one series per state, 1 for the current one; "inactive" is
        // /proc/mdstat's own word for an array assembled without enough members to run
        // (collector/mdadm_linux.go@v1.12.1, procfs mdstat.go@v0.21.1).
        alert: "HostRaidInactive",
        expr: 'node_md_state{state="inactive"} == 1',
        for: "5m",
        severity: "critical",
        summary:
          "RAID {{ $labels.device }} on {{ $labels.host }} is assembled but not running, so nothing on it is mounted: read `cat /proc/mdstat` and `mdadm --detail /dev/{{ $labels.device }}`, and bring its members back before starting it.",
        labels: { ...md, state: "inactive" },
        fires: { series: { [`node_md_state${sel({ ...md, state: "inactive" })}`]: "1x10" }, at: "10m" },
        quiet: { series: { [`node_md_state${sel({ ...md, state: "inactive" })}`]: "0x10" }, at: "10m" },
      },
      {
        alert: "HostRaidScrubFoundMismatches",
        expr: "citadel_md_scrub_mismatch_sectors > 0",
        for: "0m",
        severity: "warning",
        summary:
          "The last scrub of RAID {{ $labels.device }} on {{ $labels.host }} found copies or parity that disagree: look for read errors in dmesg and each member's SMART data (smartctl -a), then check again; `repair` makes them agree without knowing which copy was right.",
        labels: md,
        fires: { series: { [`citadel_md_scrub_mismatch_sectors${sel(md)}`]: "128x10" }, at: "5m" },
        quiet: { series: { [`citadel_md_scrub_mismatch_sectors${sel(md)}`]: "0x10" }, at: "5m" },
      },
      {
        // Monthly on the first Sunday, so at most 35 days apart, plus the scrub's own hours.
        alert: "HostRaidScrubOverdue",
        expr: "time() - citadel_md_scrub_last_completed_timestamp_seconds > 40 * 86400",
        for: "1h",
        severity: "warning",
        summary:
          "No scrub of RAID {{ $labels.device }} on {{ $labels.host }} has finished in 40 days: read `journalctl -u citadel-raid-scrub` (an array busy with a resync or recovery is skipped) and `systemctl list-timers citadel-raid-scrub.timer`.",
        labels: md,
        // Unix time starts with the test, so a scrub 41 days before it is a negative timestamp.
        fires: {
          series: { [`citadel_md_scrub_last_completed_timestamp_seconds${sel(md)}`]: `${-41 * 86400}x120` },
          at: "90m",
        },
        quiet: {
          series: { [`citadel_md_scrub_last_completed_timestamp_seconds${sel(md)}`]: `${-30 * 86400}x120` },
          at: "90m",
        },
      },
      {
        alert: "LvmVolumeGroupNearlyFull",
        expr: `citadel_lvm_vg_free_bytes / citadel_lvm_vg_size_bytes < ${t.vgFreeRatio}`,
        for: "15m",
        severity: "warning",
        summary:
          "Volume group {{ $labels.vg }} on {{ $labels.host }} is nearly out of free extents: add a PV or stop growing volumes into it.",
        labels: { ...node, vg: "ubuntu-vg" },
        fires: {
          series: {
            [`citadel_lvm_vg_free_bytes${sel({ ...node, vg: "ubuntu-vg" })}`]: "0x30",
            [`citadel_lvm_vg_size_bytes${sel({ ...node, vg: "ubuntu-vg" })}`]: "3.5e12x30",
          },
          at: "20m",
        },
        quiet: {
          series: {
            [`citadel_lvm_vg_free_bytes${sel({ ...node, vg: "ubuntu-vg" })}`]: "3e11x30",
            [`citadel_lvm_vg_size_bytes${sel({ ...node, vg: "ubuntu-vg" })}`]: "3.5e12x30",
          },
          at: "20m",
        },
      },
      {
        alert: "SystemdUnitFailed",
        expr: 'node_systemd_unit_state{state="failed"} == 1',
        for: "5m",
        severity: "warning",
        summary:
          "{{ $labels.name }} failed on {{ $labels.host }}: read `journalctl -u {{ $labels.name }}` and restart it once fixed.",
        labels: { ...node, name: "citadel-lvm-metrics.service", state: "failed", type: "oneshot" },
        fires: {
          series: {
            [`node_systemd_unit_state${sel({ ...node, name: "citadel-lvm-metrics.service", state: "failed", type: "oneshot" })}`]:
              "1x10",
          },
          at: "10m",
        },
        quiet: {
          series: {
            [`node_systemd_unit_state${sel({ ...node, name: "citadel-lvm-metrics.service", state: "failed", type: "oneshot" })}`]:
              "0x10",
          },
          at: "10m",
        },
      },
      {
        alert: "HostOomKill",
        expr: "increase(node_vmstat_oom_kill[10m]) > 0",
        for: "0m",
        severity: "warning",
        summary:
          "The kernel OOM-killed a process on {{ $labels.host }}: find it with `journalctl -k | grep -i oom` and raise or lower memory limits.",
        labels: node,
        fires: { series: { [`node_vmstat_oom_kill${sel(node)}`]: "0 0 0 1 1 1" }, at: "5m" },
        quiet: { series: { [`node_vmstat_oom_kill${sel(node)}`]: "3x10" }, at: "5m" },
      },
    ],
  };
}
