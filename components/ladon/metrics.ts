/**
 * The metric names each scraped target exposes, with where each list came from. Every metric a
 * dashboard panel or an alert rule uses must be here, under a job Prometheus scrapes.
 */

export interface MetricSource {
  /** The Prometheus job that scrapes it (see `resolveLadon().scrapeJobs`). */
  job: string;
  /** Where the names were taken from. */
  source: string;
  metrics: readonly string[];
}

export const METRIC_SOURCES: readonly MetricSource[] = [
  {
    job: "vllm",
    source:
      "vllm/v1/metrics/loggers.py@v0.34.0 (PrometheusStatLogger); the conformance tier builds that logger from the pinned vLLM and checks every name below against what it registers",
    metrics: [
      "vllm:num_requests_running",
      "vllm:num_requests_waiting",
      "vllm:kv_cache_usage_perc",
      "vllm:prompt_tokens_total",
      "vllm:generation_tokens_total",
      "vllm:request_success_total",
      "vllm:num_preemptions_total",
      "vllm:prefix_cache_queries_total",
      "vllm:prefix_cache_hits_total",
      "vllm:time_to_first_token_seconds",
      "vllm:inter_token_latency_seconds",
      "vllm:request_time_per_output_token_seconds",
      "vllm:e2e_request_latency_seconds",
      "vllm:request_queue_time_seconds",
    ],
  },
  {
    job: "gpu",
    source:
      "utkuozdemir/nvidia_gpu_exporter docs/METRICS.md and its captured output for a GeForce RTX 4080 SUPER (internal/integration/testdata)",
    metrics: [
      "nvidia_smi_gpu_info",
      "nvidia_smi_utilization_gpu_ratio",
      "nvidia_smi_memory_used_bytes",
      "nvidia_smi_memory_total_bytes",
      "nvidia_smi_temperature_gpu",
      "nvidia_smi_power_draw_watts",
      "nvidia_smi_enforced_power_limit_watts",
      "nvidia_smi_clocks_current_graphics_clock_hz",
      "nvidia_smi_clocks_current_memory_clock_hz",
      "nvidia_smi_pcie_link_gen_current",
      "nvidia_smi_pcie_link_width_current",
    ],
  },
  {
    job: "node",
    source:
      "node_exporter collectors cpu, meminfo, filesystem, diskstats, netdev, uname, vmstat (oom_kill), mdadm, systemd (enabled by flag); the node_md_* names and node_md_state's state values (active, inactive, recovering, resync, check) from collector/mdadm_linux.go@v1.12.1, over the /proc/mdstat parser of procfs mdstat.go@v0.21.1 (the procfs version node_exporter v1.12.1's go.mod requires)",
    metrics: [
      "node_cpu_seconds_total",
      "node_memory_MemAvailable_bytes",
      "node_memory_MemTotal_bytes",
      "node_filesystem_avail_bytes",
      "node_filesystem_size_bytes",
      "node_filesystem_readonly",
      "node_disk_read_bytes_total",
      "node_disk_written_bytes_total",
      "node_network_receive_bytes_total",
      "node_network_transmit_bytes_total",
      "node_uname_info",
      "node_vmstat_oom_kill",
      "node_md_disks",
      "node_md_disks_required",
      "node_md_state",
      "node_md_blocks",
      "node_md_blocks_synced",
      "node_systemd_unit_state",
    ],
  },
  {
    job: "node",
    source:
      "citadel's textfile collector (components/ladon/scripts/textfile-metrics.sh), read by node_exporter",
    metrics: [
      "citadel_lvm_vg_size_bytes",
      "citadel_lvm_vg_free_bytes",
      "citadel_lvm_pv_size_bytes",
      "citadel_lvm_pv_free_bytes",
      "citadel_data_dir_bytes",
      "citadel_retention_limit_bytes",
      "citadel_data_volume_size_bytes",
      "citadel_data_volume_free_bytes",
      "citadel_textfile_last_run_timestamp_seconds",
    ],
  },
  {
    job: "node",
    source: "citadel's backup script (components/ops/scripts/backup.sh), as textfile metrics",
    metrics: [
      "citadel_backup_last_success_timestamp_seconds",
      "citadel_backup_duration_seconds",
      "citadel_backup_bytes_added",
      "citadel_backup_snapshots",
    ],
  },
  {
    job: "node",
    source: "citadel's drift timer (components/ops/scripts/drift.sh and drift_eval.py), as textfile metrics",
    metrics: ["citadel_validate_check", "citadel_validate_last_run_timestamp_seconds"],
  },
  {
    job: "node",
    source:
      "citadel's monthly RAID scrub (components/host/scripts/raid-scrub.sh), as textfile metrics on hosts with arrays",
    metrics: ["citadel_md_scrub_mismatch_sectors", "citadel_md_scrub_last_completed_timestamp_seconds"],
  },
  {
    job: "node",
    source:
      "npm run baseline (renderBaselineMetrics in components/ops/baseline.ts), as textfile metrics on the vLLM host",
    metrics: [
      "citadel_vllm_baseline_seconds",
      "citadel_vllm_baseline_tokens_per_second",
      "citadel_vllm_baseline_requests_per_second",
      "citadel_vllm_baseline_timestamp_seconds",
    ],
  },
  {
    job: "alloy",
    source:
      "citadel's Alloy config: stage.metrics counter with prefix citadel_ (components/ladon/render/alloy.ts)",
    metrics: ["citadel_nvidia_xid_total"],
  },
  {
    job: "cadvisor",
    source: "cAdvisor container metrics",
    metrics: [
      "container_start_time_seconds",
      "container_memory_working_set_bytes",
      "container_cpu_usage_seconds_total",
    ],
  },
  {
    job: "prometheus",
    source: "Prometheus self-metrics (TSDB): tsdb/head.go and tsdb/db.go@v0.316.0",
    metrics: ["prometheus_tsdb_head_samples_appended_total", "prometheus_tsdb_storage_blocks_bytes"],
  },
  {
    job: "loki",
    source: "Loki distributor self-metrics",
    metrics: ["loki_distributor_lines_received_total"],
  },
];

/** Synthesised by Prometheus for every target, not exposed by one. */
export const BUILTIN_METRICS = ["up"] as const;

/** Histograms are exposed as _bucket, _sum and _count series of their base name. */
export function baseMetric(name: string): string {
  return name.replace(/_(bucket|sum|count)$/, "");
}

const PROMQL_WORDS = new Set([
  "sum",
  "avg",
  "min",
  "max",
  "count",
  "rate",
  "increase",
  "irate",
  "histogram_quantile",
  "predict_linear",
  "changes",
  "time",
  "vector",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "and",
  "or",
  "unless",
  "offset",
  "bool",
  "label_values",
  "abs",
  "clamp_min",
  "clamp_max",
  "topk",
  "bottomk",
  "delta",
  "deriv",
  "resets",
]);

/** Metric names a PromQL expression reads: identifiers outside braces and strings, not functions or keywords. */
export function metricsIn(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const withoutMatchers = withoutStrings.replace(/\{[^}]*\}/g, "{}");
  const withoutGrouping = withoutMatchers.replace(
    /\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g,
    "$1",
  );
  const withoutRanges = withoutGrouping
    .replace(/\[[^\]]*\]/g, "[]")
    // Numbers and durations (offset 10m, 3.5e12) are not names.
    .replace(/(?<![A-Za-z_:])\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:ms|[smhdwy])?(?![A-Za-z0-9_:])/g, "0");
  const names = new Set<string>();
  for (const m of withoutRanges.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = m[0];
    const next = withoutRanges.slice((m.index ?? 0) + word.length).trimStart();
    if (PROMQL_WORDS.has(word) || next.startsWith("(")) continue;
    if (/^(Inf|NaN)$/.test(word)) continue;
    names.add(word);
  }
  return [...names].sort();
}
