/**
 * Prometheus alert rules as data. Every rule carries its severity, a summary that tells the
 * operator what to do, and its own promtool unit test: series under which it fires, and series
 * under which it stays quiet.
 */
import { stringify } from "yaml";
import type { Thresholds } from "../../config/ladon";

export interface AlertTest {
  /** Input series, `promtool test rules` notation: `metric{labels}` -> `values`. */
  series: Record<string, string>;
  /** Evaluation time, e.g. `15m`. */
  at: string;
}

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  severity: "critical" | "warning";
  /** What happened and what to do. Only `{{ $labels.x }}` templates, so tests can expand them. */
  summary: string;
  /** The alert's labels when it fires, besides severity. */
  labels: Record<string, string>;
  fires: AlertTest;
  quiet: AlertTest;
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

const FS = 'fstype!~"tmpfs|overlay|squashfs|iso9660|nsfs"';

/** The lab's rules, tuned by `ladon.thresholds`. */
export function alertRules(t: Thresholds): RuleGroup[] {
  const node = { job: "node", host: "citadel", instance: "192.168.10.29:9910" };
  const gpu = { job: "gpu", host: "citadel", instance: "gpu-exporter:9835", uuid: "GPU-1" };
  const vllmTarget = { job: "vllm", host: "citadel", instance: "vllm-chat:8000", server: "chat" };
  const vllm = { ...vllmTarget, model_name: "qwen3-8b", engine: "0" };
  const fs = { ...node, device: "/dev/nvme1n1", fstype: "ext4", mountpoint: "/srv/data" };
  // The monitoring Pi's array, as node-exporter names it (the kernel's md device, not /dev/md/<name>).
  const md = { job: "node", host: "pi", instance: "192.168.10.40:9910", device: "md127" };
  const sel = (labels: Record<string, string>) =>
    `{${Object.keys(labels)
      .sort()
      .map((k) => `${k}="${labels[k]}"`)
      .join(",")}}`;
  const groups: RuleGroup[] = [
    {
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
    },
    {
      name: "gpus",
      rules: [
        {
          alert: "GpuTemperatureHigh",
          expr: `nvidia_smi_temperature_gpu > ${t.gpuTemperatureCelsius}`,
          for: "5m",
          severity: "warning",
          summary:
            "GPU {{ $labels.uuid }} on {{ $labels.host }} is running hot: check its fans and the case airflow.",
          labels: gpu,
          fires: {
            series: { [`nvidia_smi_temperature_gpu${sel(gpu)}`]: `${t.gpuTemperatureCelsius + 5}x15` },
            at: "10m",
          },
          quiet: {
            series: { [`nvidia_smi_temperature_gpu${sel(gpu)}`]: `${t.gpuTemperatureCelsius - 20}x15` },
            at: "10m",
          },
        },
        {
          alert: "GpuPowerHigh",
          expr: `nvidia_smi_power_draw_watts / nvidia_smi_enforced_power_limit_watts > ${t.gpuPowerRatio}`,
          for: "15m",
          severity: "warning",
          summary:
            "GPU {{ $labels.uuid }} on {{ $labels.host }} has been at its power limit for 15m: it is throttling; check the load and the PSU.",
          labels: gpu,
          fires: {
            series: {
              [`nvidia_smi_power_draw_watts${sel(gpu)}`]: "285x30",
              [`nvidia_smi_enforced_power_limit_watts${sel(gpu)}`]: "285x30",
            },
            at: "20m",
          },
          quiet: {
            series: {
              [`nvidia_smi_power_draw_watts${sel(gpu)}`]: "120x30",
              [`nvidia_smi_enforced_power_limit_watts${sel(gpu)}`]: "285x30",
            },
            at: "20m",
          },
        },
        {
          alert: "GpuXidError",
          expr: "(citadel_nvidia_xid_total unless citadel_nvidia_xid_total offset 10m) or increase(citadel_nvidia_xid_total[10m]) > 0",
          for: "0m",
          severity: "critical",
          summary:
            "The NVIDIA driver logged Xid {{ $labels.xid }} on {{ $labels.host }}: look it up in NVIDIA's Xid table; 48, 79 and 119 usually need a reboot.",
          labels: { job: "alloy", host: "citadel", instance: "alloy:12345", xid: "79" },
          fires: {
            series: {
              [`citadel_nvidia_xid_total${sel({ job: "alloy", host: "citadel", instance: "alloy:12345", xid: "79" })}`]:
                "_x10 1 1",
            },
            at: "11m",
          },
          quiet: {
            series: {
              [`citadel_nvidia_xid_total${sel({ job: "alloy", host: "citadel", instance: "alloy:12345", xid: "79" })}`]:
                "1x30",
            },
            at: "25m",
          },
        },
        {
          alert: "GpuMemoryNearlyFull",
          expr: `nvidia_smi_memory_used_bytes / nvidia_smi_memory_total_bytes > ${t.gpuMemoryRatio}`,
          for: "15m",
          severity: "warning",
          summary:
            "GPU {{ $labels.uuid }} on {{ $labels.host }} is nearly out of memory beyond vLLM's reservation: look for another process with `nvidia-smi`.",
          labels: gpu,
          fires: {
            series: {
              [`nvidia_smi_memory_used_bytes${sel(gpu)}`]: "16.9e9x30",
              [`nvidia_smi_memory_total_bytes${sel(gpu)}`]: "17.1e9x30",
            },
            at: "20m",
          },
          quiet: {
            series: {
              [`nvidia_smi_memory_used_bytes${sel(gpu)}`]: "15.4e9x30",
              [`nvidia_smi_memory_total_bytes${sel(gpu)}`]: "17.1e9x30",
            },
            at: "20m",
          },
        },
      ],
    },
    {
      name: "vllm",
      rules: [
        {
          alert: "VllmDown",
          expr: 'up{job="vllm"} == 0',
          for: "2m",
          severity: "critical",
          summary:
            "vLLM server {{ $labels.server }} on {{ $labels.host }} is down or has not loaded its model: `docker logs vllm-{{ $labels.server }}` shows why (a VRAM error names the max-model-len that fits).",
          labels: vllmTarget,
          fires: { series: { [`up${sel(vllmTarget)}`]: "0x10" }, at: "5m" },
          quiet: { series: { [`up${sel(vllmTarget)}`]: "1x10" }, at: "5m" },
        },
        {
          alert: "VllmTimeToFirstTokenHigh",
          expr: `histogram_quantile(0.95, sum by (le, model_name) (rate(vllm:time_to_first_token_seconds_bucket[5m]))) > ${t.ttftP95Seconds}`,
          for: "10m",
          severity: "warning",
          summary:
            "p95 time to first token of {{ $labels.model_name }} is high: requests queue or prompts are long; check waiting requests and KV-cache usage.",
          labels: { model_name: "qwen3-8b" },
          fires: {
            series: {
              [`vllm:time_to_first_token_seconds_bucket${sel({ ...vllm, le: "1" })}`]: "0+0x30",
              [`vllm:time_to_first_token_seconds_bucket${sel({ ...vllm, le: String(t.ttftP95Seconds * 4) })}`]:
                "0+10x30",
              [`vllm:time_to_first_token_seconds_bucket${sel({ ...vllm, le: "+Inf" })}`]: "0+10x30",
            },
            at: "20m",
          },
          quiet: {
            series: {
              [`vllm:time_to_first_token_seconds_bucket${sel({ ...vllm, le: "1" })}`]: "0+10x30",
              [`vllm:time_to_first_token_seconds_bucket${sel({ ...vllm, le: String(t.ttftP95Seconds * 4) })}`]:
                "0+10x30",
              [`vllm:time_to_first_token_seconds_bucket${sel({ ...vllm, le: "+Inf" })}`]: "0+10x30",
            },
            at: "20m",
          },
        },
        {
          alert: "VllmRequestsWaiting",
          expr: `vllm:num_requests_waiting > ${t.requestsWaiting}`,
          for: "5m",
          severity: "warning",
          summary:
            "{{ $labels.model_name }} has requests waiting for 5m: it is at capacity; lower max-model-len for more concurrency or add GPUs.",
          labels: vllm,
          fires: {
            series: { [`vllm:num_requests_waiting${sel(vllm)}`]: `${t.requestsWaiting * 3}x10` },
            at: "8m",
          },
          quiet: { series: { [`vllm:num_requests_waiting${sel(vllm)}`]: "0x10" }, at: "8m" },
        },
        {
          alert: "VllmKvCacheSaturated",
          expr: `vllm:kv_cache_usage_perc > ${t.kvCacheRatio}`,
          for: "10m",
          severity: "warning",
          summary:
            "{{ $labels.model_name }}'s KV cache is nearly full: expect preemptions; lower max-model-len, use an fp8 KV cache or raise gpu-memory-utilization.",
          labels: vllm,
          fires: { series: { [`vllm:kv_cache_usage_perc${sel(vllm)}`]: "0.99x15" }, at: "12m" },
          quiet: { series: { [`vllm:kv_cache_usage_perc${sel(vllm)}`]: "0.4x15" }, at: "12m" },
        },
        {
          alert: "VllmPreempting",
          expr: "increase(vllm:num_preemptions_total[10m]) > 0",
          for: "0m",
          severity: "warning",
          summary:
            "{{ $labels.model_name }} is preempting requests for lack of KV cache: latency suffers; see VllmKvCacheSaturated for the fixes.",
          labels: vllm,
          fires: { series: { [`vllm:num_preemptions_total${sel(vllm)}`]: "0 0 0 2 4 6" }, at: "5m" },
          quiet: { series: { [`vllm:num_preemptions_total${sel(vllm)}`]: "0x10" }, at: "5m" },
        },
      ],
    },
    {
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
    },
    {
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
    },
    {
      name: "backups",
      rules: [
        {
          alert: "BackupStale",
          expr: `time() - citadel_backup_last_success_timestamp_seconds > ${t.backupMaxAgeHours * 3600}`,
          for: "30m",
          severity: "critical",
          summary: `The last successful backup on {{ $labels.host }} is older than ${t.backupMaxAgeHours}h: check \`systemctl status citadel-backup.service\` and the backup disk.`,
          labels: node,
          // One sample a minute for longer than the evaluation time, so the series is never stale.
          fires: {
            series: {
              [`citadel_backup_last_success_timestamp_seconds${sel(node)}`]: `0x${(t.backupMaxAgeHours + 3) * 60}`,
            },
            at: `${t.backupMaxAgeHours + 2}h`,
          },
          quiet: {
            series: {
              [`citadel_backup_last_success_timestamp_seconds${sel(node)}`]: `${(t.backupMaxAgeHours + 1) * 3600}x${(t.backupMaxAgeHours + 3) * 60}`,
            },
            at: `${t.backupMaxAgeHours + 2}h`,
          },
        },
      ],
    },
    {
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
    },
  ];
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
