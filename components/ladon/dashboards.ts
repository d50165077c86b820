/**
 * The lab's Grafana dashboards, built with @grafana/grafana-foundation-sdk. Stable UIDs; the
 * version is bumped with every change so Grafana's history shows it. Pure: JSON in, JSON out.
 */
import {
  AnnotationQueryBuilder,
  DashboardBuilder,
  MappingType,
  QueryVariableBuilder,
  RowBuilder,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { BigValueColorMode, BigValueTextMode } from "@grafana/grafana-foundation-sdk/common";
import { DataqueryBuilder as LokiQuery } from "@grafana/grafana-foundation-sdk/loki";
import { PanelBuilder as LogsPanel } from "@grafana/grafana-foundation-sdk/logs";
import { DataqueryBuilder as PromQuery } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatPanel } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TimeseriesPanel } from "@grafana/grafana-foundation-sdk/timeseries";
import { sortKeys } from "../shared/render";

/** Bump when any dashboard changes. */
export const DASHBOARD_VERSION = 2;

export const PROMETHEUS_DS = { type: "prometheus", uid: "prometheus" };
export const LOKI_DS = { type: "loki", uid: "loki" };

const RATE = "$__rate_interval";

type Query = [expr: string, legend: string];

function timeseries(title: string, unit: string, queries: Query[], width = 12): TimeseriesPanel {
  const panel = new TimeseriesPanel().title(title).unit(unit).datasource(PROMETHEUS_DS).height(8).span(width);
  queries.forEach(([expr, legend], i) =>
    panel.withTarget(
      new PromQuery()
        .expr(expr)
        .legendFormat(legend)
        .refId(String.fromCharCode(65 + i)),
    ),
  );
  return panel;
}

function stat(title: string, unit: string, expr: string, width = 6): StatPanel {
  return new StatPanel()
    .title(title)
    .unit(unit)
    .datasource(PROMETHEUS_DS)
    .height(4)
    .span(width)
    .withTarget(new PromQuery().expr(expr).refId("A"));
}

function logs(title: string, expr: string, width = 24): LogsPanel {
  return new LogsPanel()
    .title(title)
    .datasource(LOKI_DS)
    .height(10)
    .span(width)
    .withTarget(new LokiQuery().expr(expr).refId("A"));
}

function logRate(title: string, expr: string, legend: string): TimeseriesPanel {
  return new TimeseriesPanel()
    .title(title)
    .unit("short")
    .datasource(LOKI_DS)
    .height(8)
    .span(24)
    .withTarget(new LokiQuery().expr(expr).legendFormat(legend).refId("A"));
}

const quantiles = (metric: string, selector: string): Query[] =>
  [0.5, 0.95, 0.99].map((q) => [
    `histogram_quantile(${q}, sum by (le) (rate(${metric}_bucket${selector}[${RATE}])))`,
    `p${q * 100}`,
  ]);

/**
 * The recorded LLM baseline (`npm run baseline`, written as textfile metrics on the vLLM host)
 * next to the live series, dashed so it reads as a reference line.
 */
const baselineQuantiles = (metric: "ttft" | "itl" | "e2el"): Query[] =>
  ["p50", "p95", "p99"].map((p) => [
    `max(citadel_vllm_baseline_seconds{metric="${metric}",percentile="${p}",model=~"$model"})`,
    `baseline ${p}`,
  ]);

function withBaseline(panel: TimeseriesPanel): TimeseriesPanel {
  return panel.overrideByRegexp("^baseline ", [
    { id: "custom.lineStyle", value: { fill: "dash", dash: [10, 10] } },
  ]);
}

/** vLLM's own log lines for a model load and a (re)start, as annotations. */
function vllmAnnotations(builder: DashboardBuilder): DashboardBuilder {
  return builder
    .annotation(
      new AnnotationQueryBuilder()
        .name("vLLM model loaded")
        .datasource(LOKI_DS)
        .enable(true)
        .iconColor("blue")
        .expr('{container=~"vllm-.+"} |~ "Model loading took|Loading weights took"'),
    )
    .annotation(
      new AnnotationQueryBuilder()
        .name("vLLM (re)started")
        .datasource(LOKI_DS)
        .enable(true)
        .iconColor("orange")
        .expr('{container=~"vllm-.+"} |= "Starting vLLM API server"'),
    );
}

function base(uid: string, title: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .tags(["citadel", "generated"])
    .version(DASHBOARD_VERSION)
    .editable()
    .time({ from: "now-6h", to: "now" })
    .refresh("30s")
    .timezone("browser");
}

function vllmDashboard(): DashboardBuilder {
  const m = '{model_name=~"$model"}';
  return vllmAnnotations(base("citadel-vllm", "vLLM serving"))
    .withVariable(
      new QueryVariableBuilder("model")
        .label("Model")
        .datasource(PROMETHEUS_DS)
        .query("label_values(vllm:num_requests_running, model_name)")
        .multi(true)
        .includeAll(true),
    )
    .withRow(new RowBuilder("Latency"))
    .withPanel(
      withBaseline(
        timeseries(
          "Time to first token",
          "s",
          [...quantiles("vllm:time_to_first_token_seconds", m), ...baselineQuantiles("ttft")],
          8,
        ),
      ),
    )
    .withPanel(
      withBaseline(
        timeseries(
          "Inter-token latency",
          "s",
          [...quantiles("vllm:inter_token_latency_seconds", m), ...baselineQuantiles("itl")],
          8,
        ),
      ),
    )
    .withPanel(
      withBaseline(
        timeseries(
          "End-to-end request latency",
          "s",
          [...quantiles("vllm:e2e_request_latency_seconds", m), ...baselineQuantiles("e2el")],
          8,
        ),
      ),
    )
    .withRow(new RowBuilder("Throughput and load"))
    .withPanel(
      withBaseline(
        // By model: a chat server's prompt and generated tokens, an embed or rerank server's
        // input tokens (its embedding throughput), each beside its recorded baseline.
        timeseries("Tokens per second", "short", [
          [`sum by (model_name) (rate(vllm:prompt_tokens_total${m}[${RATE}]))`, "{{model_name}} prompt"],
          [
            `sum by (model_name) (rate(vllm:generation_tokens_total${m}[${RATE}]))`,
            "{{model_name}} generation",
          ],
          [
            'max by (model, tokens) (citadel_vllm_baseline_tokens_per_second{model=~"$model"})',
            "baseline {{model}} {{tokens}}",
          ],
        ]),
      ),
    )
    .withPanel(
      timeseries("Requests", "short", [
        [`sum by (model_name) (vllm:num_requests_running${m})`, "{{model_name}} running"],
        [`sum by (model_name) (vllm:num_requests_waiting${m})`, "{{model_name}} waiting"],
      ]),
    )
    .withPanel(timeseries("Servers up", "short", [['up{job="vllm"}', "{{server}}"]], 8))
    .withPanel(
      timeseries(
        "KV-cache usage",
        "percentunit",
        [[`max by (model_name) (vllm:kv_cache_usage_perc${m})`, "{{model_name}}"]],
        8,
      ),
    )
    .withPanel(
      timeseries(
        "Preemptions",
        "short",
        [[`sum(rate(vllm:num_preemptions_total${m}[${RATE}]))`, "preemptions/s"]],
        8,
      ),
    )
    .withPanel(
      timeseries(
        "Prefix-cache hit rate",
        "percentunit",
        [
          [
            `sum(rate(vllm:prefix_cache_hits_total${m}[${RATE}])) / sum(rate(vllm:prefix_cache_queries_total${m}[${RATE}]))`,
            "hit rate",
          ],
        ],
        8,
      ),
    )
    .withPanel(
      timeseries(
        "Finished requests by reason",
        "reqps",
        [[`sum by (finished_reason) (rate(vllm:request_success_total${m}[${RATE}]))`, "{{finished_reason}}"]],
        24,
      ),
    );
}

function gpuDashboard(): DashboardBuilder {
  const g = '{uuid=~"$gpu"}';
  return vllmAnnotations(base("citadel-gpus", "GPUs"))
    .withVariable(
      new QueryVariableBuilder("gpu")
        .label("GPU")
        .datasource(PROMETHEUS_DS)
        .query("label_values(nvidia_smi_gpu_info, uuid)")
        .multi(true)
        .includeAll(true),
    )
    .withPanel(
      timeseries("Utilisation", "percentunit", [
        [`nvidia_smi_utilization_gpu_ratio${g}`, "{{host}} {{uuid}}"],
      ]),
    )
    .withPanel(
      timeseries("Memory used", "bytes", [
        [`nvidia_smi_memory_used_bytes${g}`, "used {{uuid}}"],
        [`nvidia_smi_memory_total_bytes${g}`, "total {{uuid}}"],
      ]),
    )
    .withPanel(timeseries("Temperature", "celsius", [[`nvidia_smi_temperature_gpu${g}`, "{{uuid}}"]], 8))
    .withPanel(
      timeseries(
        "Power",
        "watt",
        [
          [`nvidia_smi_power_draw_watts${g}`, "draw {{uuid}}"],
          [`nvidia_smi_enforced_power_limit_watts${g}`, "limit {{uuid}}"],
        ],
        8,
      ),
    )
    .withPanel(
      timeseries(
        "Clocks",
        "hertz",
        [
          [`nvidia_smi_clocks_current_graphics_clock_hz${g}`, "graphics {{uuid}}"],
          [`nvidia_smi_clocks_current_memory_clock_hz${g}`, "memory {{uuid}}"],
        ],
        8,
      ),
    )
    .withPanel(
      timeseries("PCIe link", "short", [
        [`nvidia_smi_pcie_link_gen_current${g}`, "gen {{uuid}}"],
        [`nvidia_smi_pcie_link_width_current${g}`, "width {{uuid}}"],
      ]),
    )
    .withPanel(
      timeseries("Xid errors (kernel log)", "short", [
        ["sum by (host, pci, xid) (increase(citadel_nvidia_xid_total[1h]))", "{{host}} {{pci}} Xid {{xid}}"],
      ]),
    );
}

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

function hostDashboard(): DashboardBuilder {
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

function logsDashboard(): DashboardBuilder {
  return vllmAnnotations(base("citadel-logs", "Logs"))
    .withPanel(logs("vLLM errors", '{container=~"vllm-.+"} |~ "(?i)error|exception|traceback"'))
    .withPanel(logs("Kernel and NVIDIA messages", '{unit="kernel"} |~ "(?i)nvrm|xid|nvidia|oom"'))
    .withPanel(
      logRate(
        "Log lines per container",
        'sum by (host, container) (rate({container=~".+"}[$__auto]))',
        "{{host}} {{container}}",
      ),
    );
}

function ladonDashboard(): DashboardBuilder {
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

export interface DashboardDef {
  uid: string;
  title: string;
  /** The dashboard model, keys sorted, ready for `configJson`. */
  json: string;
}

/** Every dashboard, by UID. */
export function dashboards(): DashboardDef[] {
  return [vllmDashboard(), gpuDashboard(), hostDashboard(), logsDashboard(), ladonDashboard()].map((b) => {
    const model = b.build();
    return {
      uid: model.uid as string,
      title: model.title as string,
      json: `${JSON.stringify(sortKeys(model), null, 2)}\n`,
    };
  });
}

/** A panel target's query, with its dashboard, panel and the dashboard's template variables. */
export interface DashboardQuery {
  dashboard: string;
  panel: string;
  expr: string;
  variables: string[];
}

/** The query of every panel target backed by a datasource of `type`, with its dashboard and panel. */
export function dashboardQueries(type: "prometheus" | "loki"): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const d of dashboards()) {
    const model = JSON.parse(d.json) as {
      panels: { title: string; datasource?: { type?: string }; targets?: { expr?: string }[] }[];
      templating?: { list?: { name: string }[] };
    };
    const variables = (model.templating?.list ?? []).map((v) => v.name);
    for (const p of model.panels) {
      if (p.datasource?.type !== type) continue;
      for (const t of p.targets ?? [])
        if (t.expr) out.push({ dashboard: d.uid, panel: p.title, expr: t.expr, variables });
    }
  }
  return out;
}

/**
 * A panel's query as Grafana would send it: the interval macros set to `interval`, and each of the
 * dashboard's variables to a regex that matches every value (the panels use them with `=~`).
 */
export function concreteQuery(q: DashboardQuery, interval: string): string {
  const expr = q.expr.replace(/\$__(rate_interval|interval|auto)\b/g, interval);
  if (q.variables.length === 0) return expr;
  return expr.replace(new RegExp(`\\$(${q.variables.join("|")})\\b`, "g"), ".*");
}

/** The PromQL of every Prometheus-backed panel target, with its dashboard and panel. */
export function dashboardPromQL(): DashboardQuery[] {
  return dashboardQueries("prometheus");
}
