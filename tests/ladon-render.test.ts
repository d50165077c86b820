/** Every LadonStack artifact checked by the real tool for its format, where one exists. */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { LadonSchema } from "../components/config/ladon";
import {
  alertRules,
  BUILTIN_METRICS,
  baseMetric,
  dashboardVersion,
  dashboardPromQL,
  dashboards,
  METRIC_SOURCES,
  metricsIn,
  renderAlertmanagerConfig,
  renderAlloyConfig,
  renderLokiConfig,
  renderLokiRuntimeConfig,
  renderRulesFile,
  renderRuleTests,
  XID_PATTERN,
} from "../components/ladon";
import { timerUnits } from "../components/remote";
import type { SynthResult } from "../lib/synth/harness";
import { synthLab } from "./support/synth";
import { requireTool } from "./support/tools";
import { scratchDir } from "./support/scratch";

const defaults = LadonSchema.parse({});
const dir = () => scratchDir("citadel-ladon-");
const run = (cmd: string, args: string[], cwd?: string) => spawnSync(cmd, args, { encoding: "utf8", cwd });
const ok = (r: ReturnType<typeof run>) => {
  if (r.status !== 0) throw new Error(`${r.stdout}\n${r.stderr}`);
  return r.stdout + r.stderr;
};

let lab: SynthResult;
beforeAll(async () => {
  for (const tool of ["promtool", "amtool", "systemd-analyze"]) requireTool(tool);
  lab = await synthLab();
});
const file = (p: string) => {
  const content = lab.files.get(p);
  if (content === undefined) throw new Error(`${p} was not rendered`);
  return content;
};

describe("Prometheus", () => {
  it("passes promtool check config, rules included", () => {
    const d = dir();
    mkdirSync(path.join(d, "rules"));
    const config = parse(file("citadel/etc/citadel/prometheus/prometheus.yml"));
    config.rule_files = ["rules/*.yml"];
    // Debian's promtool (2.42) predates `storage: tsdb: retention:` (config/config.go@v3.16.0);
    // the conformance tier checks the whole file with the pinned promtool.
    expect(config.storage).toEqual({ tsdb: { retention: { size: "50GB", time: "30d" } } });
    delete config.storage;
    writeFileSync(path.join(d, "prometheus.yml"), stringify(config));
    writeFileSync(
      path.join(d, "rules", "citadel.yml"),
      file("citadel/etc/citadel/prometheus/rules/citadel.yml"),
    );
    expect(ok(run("promtool", ["check", "config", "prometheus.yml"], d))).toContain(
      "SUCCESS: 27 rules found",
    );
  });

  it("scrapes every service and exporter the stack runs, and vLLM", () => {
    const config = parse(file("citadel/etc/citadel/prometheus/prometheus.yml"));
    const jobs = Object.fromEntries(
      config.scrape_configs.map((j: { job_name: string; static_configs: { targets: string[] }[] }) => [
        j.job_name,
        j.static_configs.flatMap((s) => s.targets),
      ]),
    );
    expect(jobs).toEqual({
      alertmanager: ["alertmanager:9093"],
      alloy: ["alloy:12345"],
      cadvisor: ["cadvisor:8080"],
      gpu: ["gpu-exporter:9835"],
      grafana: ["grafana:3000"],
      loki: ["loki:3100"],
      node: ["192.168.10.29:9910"],
      phoenix: ["phoenix:9090"],
      prometheus: ["localhost:9090"],
      vllm: ["vllm-chat:8000", "vllm-embed:8000"],
    });
  });
});

describe("alert rules", () => {
  const groups = alertRules(defaults.thresholds);
  const rules = groups.flatMap((g) => g.rules);

  it("cover hosts and their RAID arrays, GPUs, vLLM, containers, the stack itself, backups and drift", () => {
    expect(rules.map((r) => r.alert).sort()).toEqual(
      [
        "BackupStale",
        "ContainerRestarting",
        "GpuMemoryNearlyFull",
        "GpuPowerHigh",
        "GpuTemperatureHigh",
        "GpuXidError",
        "HostDown",
        "HostFilesystemFillsWithin24h",
        "HostFilesystemReadOnly",
        "HostOomKill",
        "HostRaidDegraded",
        "HostRaidInactive",
        "HostRaidScrubFoundMismatches",
        "HostRaidScrubOverdue",
        "LabDrift",
        "LabDriftProbeStale",
        "LadonDataDiskNearlyFull",
        "LokiStorageOverBudget",
        "LvmVolumeGroupNearlyFull",
        "PrometheusStorageNearLimit",
        "ScrapeTargetDown",
        "SystemdUnitFailed",
        "VllmDown",
        "VllmKvCacheSaturated",
        "VllmPreempting",
        "VllmRequestsWaiting",
        "VllmTimeToFirstTokenHigh",
      ].sort(),
    );
    for (const r of rules) {
      expect(["critical", "warning"]).toContain(r.severity);
      expect(r.summary).toMatch(/: .+/);
    }
  });

  it("pass promtool test rules: each alert fires in one case and stays quiet in another", () => {
    const d = dir();
    writeFileSync(path.join(d, "rules.yml"), renderRulesFile(groups));
    const tests = renderRuleTests(groups, "rules.yml");
    expect(parse(tests).tests).toHaveLength(rules.length * 2);
    writeFileSync(path.join(d, "tests.yml"), tests);
    expect(ok(run("promtool", ["test", "rules", "tests.yml"], d))).toContain("SUCCESS");
  });

  it("fail promtool when a rule is wrong, so the test above can fail", () => {
    const d = dir();
    const broken = structuredClone(groups);
    (broken[0] as (typeof groups)[number]).rules[0]!.expr = 'up{job="node"} == 1';
    writeFileSync(path.join(d, "rules.yml"), renderRulesFile(broken));
    // The broken rule's own two cases, against the whole broken file: the same failure as the full
    // suite's, for a fraction of its evaluation steps.
    const first = groups[0] as (typeof groups)[number];
    writeFileSync(
      path.join(d, "tests.yml"),
      renderRuleTests([{ ...first, rules: first.rules.slice(0, 1) }], "rules.yml"),
    );
    const r = run("promtool", ["test", "rules", "tests.yml"], d);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(first.rules[0]!.alert);
  });
});

describe("dashboards", () => {
  it("are five, with stable UIDs and a version hashed from their content", () => {
    const all = dashboards();
    expect(all.map((d) => d.uid)).toEqual([
      "citadel-vllm",
      "citadel-gpus",
      "citadel-host",
      "citadel-logs",
      "citadel-ladon",
    ]);
    for (const d of all)
      expect(JSON.parse(d.json)).toMatchObject({
        uid: d.uid,
        version: dashboardVersion(JSON.parse(d.json)),
        editable: true,
      });
  });

  it("change version exactly when their content changes", () => {
    const model = JSON.parse(dashboards()[0]!.json) as Record<string, unknown>;
    expect(dashboardVersion({ ...model, version: 1 })).toBe(dashboardVersion(model));
    expect(dashboardVersion({ ...model, title: "another" })).not.toBe(dashboardVersion(model));
    const versions = dashboards().map((d) => (JSON.parse(d.json) as { version: number }).version);
    expect(new Set(versions).size).toBe(versions.length);
    for (const v of versions) expect(Number.isInteger(v) && v >= 0 && v < 2 ** 31).toBe(true);
  });

  it("use only PromQL that parses: every panel query checked by promtool as a recording rule", () => {
    const queries = dashboardPromQL();
    expect(queries.length).toBeGreaterThan(40);
    const rules = queries.map((q, i) => ({
      record: `dashboard:query_${i}`,
      expr: q.expr.replace(/\$__rate_interval/g, "5m").replace(/\$(model|gpu|host)/g, ".*"),
    }));
    const d = dir();
    writeFileSync(path.join(d, "dashboards.yml"), stringify({ groups: [{ name: "dashboards", rules }] }));
    expect(ok(run("promtool", ["check", "rules", "dashboards.yml"], d))).toContain(
      `SUCCESS: ${queries.length} rules found`,
    );
  });

  it("draw RAID progress only while md resyncs, checks or recovers: promtool evaluates the panel's query", () => {
    const panel = dashboardPromQL().find((q) => q.panel === "RAID resync, check and recovery progress");
    expect(panel).toBeDefined();
    const expr = panel!.expr.replace(/\$host/g, ".*");
    const md = (dev: string) => `job="node",host="pi",instance="192.168.10.40:9910",device="${dev}"`;
    // md127 is a quarter into its monthly check; md126 is idle (its synced blocks equal its blocks).
    const states = (dev: string, current: string) =>
      ["active", "inactive", "recovering", "resync", "check"].map((state) => ({
        series: `node_md_state{${md(dev)},state="${state}"}`,
        values: state === current ? "1x10" : "0x10",
      }));
    const d = dir();
    writeFileSync(path.join(d, "none.yml"), "groups: []\n");
    writeFileSync(
      path.join(d, "tests.yml"),
      stringify({
        rule_files: ["none.yml"],
        tests: [
          {
            interval: "1m",
            input_series: [
              ...states("md127", "check"),
              ...states("md126", "active"),
              { series: `node_md_blocks{${md("md127")}}`, values: "1000x10" },
              { series: `node_md_blocks_synced{${md("md127")}}`, values: "250x10" },
              { series: `node_md_blocks{${md("md126")}}`, values: "1000x10" },
              { series: `node_md_blocks_synced{${md("md126")}}`, values: "1000x10" },
            ],
            promql_expr_test: [
              {
                expr,
                eval_time: "5m",
                exp_samples: [{ labels: `{${md("md127")}}`, value: 0.25 }],
              },
            ],
          },
        ],
      }),
    );
    expect(ok(run("promtool", ["test", "rules", "tests.yml"], d))).toContain("SUCCESS");
  });

  it("use the current vLLM metric names, not the removed ones", () => {
    const all = dashboards()
      .map((d) => d.json)
      .join("\n");
    expect(all).toContain("vllm:kv_cache_usage_perc");
    expect(all).toContain("vllm:inter_token_latency_seconds_bucket");
    expect(all).not.toContain("gpu_cache_usage_perc");
    expect(all).not.toContain("vllm:time_per_output_token_seconds");
  });

  it("mark vLLM model loads and restarts from its logs on the vLLM and GPU dashboards", () => {
    for (const uid of ["citadel-vllm", "citadel-gpus"]) {
      const model = JSON.parse(dashboards().find((d) => d.uid === uid)!.json);
      const names = model.annotations.list.map(
        (a: { name: string; datasource: { type: string } }) => `${a.name} (${a.datasource.type})`,
      );
      expect(names).toEqual(expect.arrayContaining(["vLLM model loaded (loki)", "vLLM (re)started (loki)"]));
    }
  });
});

describe("every metric a panel or rule uses is exposed by a scraped target", () => {
  const exposed = new Map<string, string>();
  for (const s of METRIC_SOURCES) for (const m of s.metrics) exposed.set(m, s.job);

  it("holds for all dashboards and rules", () => {
    const used = [
      ...dashboardPromQL().map((q) => ({ where: `${q.dashboard} / ${q.panel}`, expr: q.expr })),
      ...alertRules(defaults.thresholds).flatMap((g) =>
        g.rules.map((r) => ({ where: `rule ${r.alert}`, expr: r.expr })),
      ),
    ];
    const scraped = new Set(
      parse(file("citadel/etc/citadel/prometheus/prometheus.yml")).scrape_configs.map(
        (j: { job_name: string }) => j.job_name,
      ),
    );
    const missing: string[] = [];
    for (const u of used) {
      for (const m of metricsIn(u.expr)) {
        if ((BUILTIN_METRICS as readonly string[]).includes(m)) continue;
        const job = exposed.get(baseMetric(m)) ?? exposed.get(m);
        if (!job || !scraped.has(job)) missing.push(`${u.where}: ${m}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("catches a metric no target exposes", () => {
    expect(metricsIn('sum(rate(vllm:gpu_cache_usage_perc{model_name="x"}[5m]))')).toEqual([
      "vllm:gpu_cache_usage_perc",
    ]);
    expect(exposed.has("vllm:gpu_cache_usage_perc")).toBe(false);
  });

  it("reads names, not functions, labels, strings or durations", () => {
    expect(
      metricsIn('histogram_quantile(0.95, sum by (le, model_name) (rate(vllm:x_bucket{a="b"}[5m]))) > 5'),
    ).toEqual(["vllm:x_bucket"]);
    expect(metricsIn("(a_total unless a_total offset 10m) or increase(a_total[10m]) > 3.5e12")).toEqual([
      "a_total",
    ]);
  });
});

describe("Alertmanager", () => {
  const check = (yaml: string) => {
    const d = dir();
    mkdirSync(path.join(d, "secrets"));
    writeFileSync(path.join(d, "secrets", "smtp_password"), "x");
    writeFileSync(
      path.join(d, "alertmanager.yml"),
      yaml.replace("/etc/alertmanager/secrets/", `${d}/secrets/`),
    );
    return ok(run("amtool", ["check-config", "alertmanager.yml"], d));
  };

  it("passes amtool with no receivers, and still evaluates alerts into a silent receiver", () => {
    const yaml = renderAlertmanagerConfig(defaults);
    expect(check(yaml)).toContain("SUCCESS");
    expect(parse(yaml).route.receiver).toBe("blackhole");
  });

  it("passes amtool with webhook and e-mail receivers, each sent every alert", () => {
    const config = LadonSchema.parse({
      alertmanager: {
        webhooks: [{ name: "hades", url: "http://192.168.10.30:5001/alerts" }],
        emails: [
          {
            name: "ops-mail",
            to: "ops@hana-x.lab",
            from: "ladon@hana-x.lab",
            smarthost: "smtp.hana-x.lab:587",
            authUsername: "ladon",
          },
        ],
      },
    });
    const yaml = renderAlertmanagerConfig(config);
    expect(check(yaml)).toContain("3 receivers");
    const parsed = parse(yaml);
    expect(
      parsed.route.routes.map((r: { receiver: string; continue: boolean }) => `${r.receiver}:${r.continue}`),
    ).toEqual(["hades:true", "ops-mail:true"]);
    expect(parsed.receivers[2].email_configs[0].auth_password_file).toBe(
      "/etc/alertmanager/secrets/smtp_password",
    );
    expect(yaml).not.toContain("auth_password:");
  });
});

describe("Loki", () => {
  it("runs v3 single binary on the filesystem with compactor retention and its delete-request store", () => {
    const config = parse(renderLokiConfig());
    expect(config.schema_config.configs[0]).toMatchObject({
      store: "tsdb",
      object_store: "filesystem",
      schema: "v13",
    });
    expect(config.compactor).toMatchObject({ retention_enabled: true, delete_request_store: "filesystem" });
    expect(JSON.stringify(config)).not.toContain("shared_store");
    expect(config.runtime_config.file).toBe("/etc/loki/runtime.yaml");
  });

  it("sets retention for the tenant in the runtime file, and a fixed global fallback, so losing the file keeps it on", () => {
    const b = LadonSchema.parse({ loki: { retentionPeriod: "168h" } });
    expect(parse(renderLokiRuntimeConfig(b))).toEqual({ overrides: { fake: { retention_period: "168h" } } });
    // loki.yaml does not follow the setting: a retention change is the runtime file alone (a reload).
    expect(parse(renderLokiConfig()).limits_config.retention_period).toBe("744h");
  });

  it("adds no service_name label of its own to the streams", () => {
    expect(parse(renderLokiConfig()).limits_config.discover_service_name).toEqual([]);
  });
});

describe("Alloy", () => {
  const config = renderAlloyConfig("citadel", "http://loki:3100/loki/api/v1/push");

  it("ships journald and every container's logs to Loki with only host, unit, container and level labels", () => {
    expect(config).toContain('loki.source.journal "journal"');
    expect(config).toContain('loki.source.docker "containers"');
    const targets = [...config.matchAll(/target_label = "([^"]+)"/g)].map((m) => m[1]);
    expect([...new Set(targets)].sort()).toEqual(["container", "level", "unit"]);
    expect(config).toMatch(/external_labels = \{\n\s+host = "citadel",\n\s+\}/);
  });

  it("drops the job label loki.source.journal adds to every journal entry", () => {
    const journal = /loki\.relabel "journal" \{[\s\S]*?\n\}/.exec(config)?.[0] ?? "";
    expect(journal).toMatch(/rule \{\n\s+action = "labeldrop"\n\s+regex = "job"\n\s+\}/);
  });

  it("counts NVIDIA Xid errors in a branch that forwards nothing to Loki", () => {
    expect(config).toMatch(/loki\.process "nvidia_xid" \{\n\s+forward_to = \[\]/);
    const xid = new RegExp(XID_PATTERN.replace(/\(\?P</g, "(?<"));
    const line =
      "NVRM: Xid (PCI:0000:01:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.";
    expect(line.match(xid)?.groups).toEqual({ pci: "0000:01:00", xid: "79" });
  });

  it("escapes every string it writes", () => {
    const tricky = renderAlloyConfig('ci"tadel', "http://x/push");
    expect(tricky).toContain('host = "ci\\"tadel"');
  });
});

describe("the textfile collector's systemd units", () => {
  it("pass systemd-analyze verify, with no warnings", () => {
    const d = dir();
    const script = path.join(d, "textfile-metrics.sh");
    writeFileSync(script, file("citadel/usr/local/lib/citadel/textfile-metrics.sh"));
    chmodSync(script, 0o755);
    const units = timerUnits({
      description: "citadel textfile metrics (LVM, data volume)",
      execStart: script,
      onBootSec: "2min",
      everySec: "15min",
    });
    expect(file("citadel/etc/systemd/system/citadel-textfile-metrics.timer")).toBe(units.timer);
    writeFileSync(path.join(d, "citadel-textfile-metrics.service"), units.service);
    writeFileSync(path.join(d, "citadel-textfile-metrics.timer"), units.timer);
    const r = run(
      "systemd-analyze",
      ["verify", "citadel-textfile-metrics.service", "citadel-textfile-metrics.timer"],
      d,
    );
    expect(r.stderr + r.stdout).toBe("");
    expect(r.status).toBe(0);
  });

  it("is Persistent only where it runs on a calendar: Persistent= does nothing on monotonic timers", () => {
    // systemd.timer(5): "this setting only has an effect on timers configured with OnCalendar=".
    const timers = [...lab.files.entries()].filter(([p]) => p.endsWith(".timer"));
    expect(timers.length).toBeGreaterThan(3);
    for (const [p, unit] of timers) {
      const calendar = /^OnCalendar=/m.test(unit);
      expect([p, /^Persistent=true$/m.test(unit)]).toEqual([p, calendar]);
      if (!calendar) expect([p, /^OnBootSec=\S+$/m.test(unit)]).toEqual([p, true]);
    }
  });

  it("fails systemd-analyze on a broken unit, so the check above can fail", () => {
    const d = dir();
    writeFileSync(path.join(d, "bad.service"), "[Service]\nType=oneshot\nExecStart=/nonexistent/citadel\n");
    expect(run("systemd-analyze", ["verify", "bad.service"], d).status).not.toBe(0);
  });
});
