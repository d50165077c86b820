/** The LadonStack under mocks: ports, secrets, reloads rather than replacements, placement, memory. */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { LabConfigError } from "../components/config";
import { parseLabConfig } from "../components/plan";
import { archProblem, ladonProblems, portRegistry, SERVICES } from "../components/plan";
import type { ResourceRecord, SynthResult } from "../lib/synth/harness";
import { fromConfigMap, stackConfigSource } from "../lib/synth/stackfile";
import { renderServiceTable } from "../lib/synth/report";
import { addMonitoringPi, LAB_SECRETS, labConfigMap } from "./support/lab";
import { byName, dependencyNames, ofType, synthLab } from "./support/synth";
import { hostPort } from "./support/catalog";

const CONTAINER = "docker:index/container:Container";
let lab: SynthResult;
beforeAll(async () => {
  lab = await synthLab();
});

const ladonOf = (config: Record<string, any>) => config["citadel:ladon"];
const hostPorts = (result: SynthResult, host: string) =>
  ofType(result, CONTAINER)
    .filter((c) => c.provider?.endsWith(`${host}-docker-provider`))
    .flatMap((c) =>
      ((c.rawInputs.ports as { external: number }[] | undefined) ?? []).map((p) => ({
        name: c.name,
        port: p.external,
      })),
    );

describe("services and ports", () => {
  it("runs every service, with exporters and Alloy on citadel and the GPU exporter on the GPU host", () => {
    const names = ofType(lab, CONTAINER)
      .map((c) => c.rawInputs.name)
      .sort();
    expect(names).toEqual([
      "alertmanager",
      "alloy",
      "cadvisor",
      "gpu-exporter",
      "grafana",
      "loki",
      "node-exporter",
      "phoenix",
      "prometheus",
      "vllm-chat",
      "vllm-embed",
    ]);
  });

  it("publishes every monitoring port in 9900-9999, none twice on a host, and vLLM keeps its own", () => {
    const ports = hostPorts(lab, "citadel");
    const monitoring = ports.filter((p) => !/^vllm-.*-container$/.test(p.name));
    expect(monitoring.length).toBeGreaterThan(0);
    for (const p of monitoring) expect(p.port).toBeGreaterThanOrEqual(9900);
    for (const p of monitoring) expect(p.port).toBeLessThanOrEqual(9999);
    const all = ports.map((p) => p.port);
    expect(new Set(all).size).toBe(all.length);
    expect(ports.find((p) => p.name === "vllm-chat-container")?.port).toBe(8000);
    expect(ports.find((p) => p.name === "vllm-embed-container")?.port).toBe(8001);
  });

  it("exports the registry and renders it into the README's service table", () => {
    const registry = (lab.outputs.ladon as { ports: unknown }).ports;
    expect(registry).toEqual(portRegistry());
    const readme = readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
    expect(readme).toContain(renderServiceTable());
  });

  it("gives every container a restart policy, healthcheck, memory limit, log rotation and a pinned image", () => {
    for (const c of ofType(lab, CONTAINER)) {
      const i = c.rawInputs as Record<string, any>;
      expect(i.restart).toBe("unless-stopped");
      if (i.name === "gpu-exporter") {
        // A distroless image with no shell and no health command (components/pins.ts): nothing
        // can run a healthcheck in it, and nothing waits for one.
        expect([i.healthcheck, i.wait]).toEqual([undefined, false]);
      } else {
        expect(i.healthcheck.tests.length).toBeGreaterThan(1);
        expect(i.wait).toBe(true);
      }
      expect(i.memory).toBeGreaterThan(0);
      expect(i.logOpts).toMatchObject({ "max-file": "5", "max-size": "50m" });
      expect(i.image).toMatch(/^[a-z0-9./_-]+:[A-Za-z0-9._-]+$/);
      expect(i.image).not.toMatch(/:latest$/);
      expect(c.deleteBeforeReplace).toBe(true);
    }
  });

  it("keeps persistent data on the configured mount, waiting for that disk", () => {
    const prometheus = byName(lab, "ladon-citadel-prometheus-container").rawInputs as Record<string, any>;
    expect(prometheus.volumes).toContainEqual({
      containerPath: "/prometheus",
      hostPath: "/srv/data/ladon/prometheus",
    });
    expect(dependencyNames(lab, byName(lab, "ladon-citadel-prometheus-config"))).toContain(
      "citadel-storage-disk-data",
    );
    expect(prometheus.command).toContain("--web.enable-lifecycle");
    // Retention is in prometheus.yml, not in the deprecated flags (cmd/prometheus/main.go@v3.16.0).
    expect((prometheus.command as string[]).filter((a) => a.startsWith("--storage.tsdb.retention"))).toEqual(
      [],
    );
  });
});

describe("secrets", () => {
  it("never appear in visible inputs, files or outputs", () => {
    const visible = JSON.stringify([
      lab.resources.map((r) => r.inputs),
      [...lab.files.values()],
      lab.outputs,
    ]);
    expect(visible).not.toContain("PLACEHOLDER");
  });

  it("reach Phoenix as secret environment, with auth on and the admin password set", () => {
    const phoenix = byName(lab, "ladon-citadel-phoenix-container");
    expect(phoenix.inputs.envs).toBe("[secret]");
    expect(phoenix.rawInputs.envs).toEqual(
      expect.arrayContaining([
        "PHOENIX_ENABLE_AUTH=True",
        "PHOENIX_ENABLE_PROMETHEUS=True",
        "PHOENIX_SECRET=PLACEHOLDER-citadel-phoenixSecret-set-by-npm-start-0",
        "PHOENIX_DEFAULT_ADMIN_INITIAL_PASSWORD=PLACEHOLDER-citadel-phoenixAdminPassword-set-by-npm-start-0",
      ]),
    );
  });

  it("reach Grafana through a root-held file written from stdin, with anonymous access and sign-up off", () => {
    const grafana = byName(lab, "ladon-citadel-grafana-container").rawInputs as Record<string, any>;
    expect(grafana.envs).toEqual(
      expect.arrayContaining([
        "GF_AUTH_ANONYMOUS_ENABLED=false",
        "GF_USERS_ALLOW_SIGN_UP=false",
        "GF_SECURITY_ADMIN_PASSWORD__FILE=/etc/grafana/secrets/admin_password",
      ]),
    );
    expect(JSON.stringify(grafana.envs)).not.toContain("PLACEHOLDER");
    const step = byName(lab, "ladon-citadel-grafana-admin-password");
    expect(step.inputs.stdin).toBe("[secret]");
    expect(step.rawInputs.logging).toBe("none");
    expect(String(step.rawInputs.create)).not.toContain("PLACEHOLDER");
  });

  it("log the Grafana provider in with a secret, retrying while Grafana starts", () => {
    const provider = byName(lab, "ladon-grafana-provider");
    expect(provider.inputs.auth).toBe("[secret]");
    expect(provider.rawInputs).toMatchObject({
      url: `http://192.168.10.29:${hostPort("grafana")}`,
      retries: "12",
      retryWait: "5",
    });
  });
});

describe("Grafana objects", () => {
  it("create a folder, three datasources and five dashboards after the Grafana container", () => {
    const dashboards = ofType(lab, "grafana:oss/dashboard:Dashboard");
    expect(dashboards.map((d) => d.name).sort()).toEqual([
      "ladon-grafana-citadel-gpus",
      "ladon-grafana-citadel-host",
      "ladon-grafana-citadel-ladon",
      "ladon-grafana-citadel-logs",
      "ladon-grafana-citadel-vllm",
    ]);
    expect(
      ofType(lab, "grafana:oss/dataSource:DataSource")
        .map((d) => d.rawInputs.uid)
        .sort(),
    ).toEqual(["alertmanager", "loki", "prometheus"]);
    for (const d of dashboards) {
      expect(d.provider).toBe(byName(lab, "ladon-grafana-provider").urn);
      expect(dependencyNames(lab, d)).toContain("ladon-citadel-grafana-container");
      expect(d.rawInputs.overwrite).toBe(true);
    }
  });
});

/** Inputs of every resource, by name, to compare two synths. */
const inputsByName = (r: SynthResult) =>
  new Map(r.resources.map((x) => [x.name, JSON.stringify(x.rawInputs)]));
function changedBetween(a: SynthResult, b: SynthResult): string[] {
  const before = inputsByName(a);
  return [...inputsByName(b).entries()]
    .filter(([name, inputs]) => before.get(name) !== inputs)
    .map(([name]) => name)
    .sort();
}

describe("config changes reload instead of replacing containers", () => {
  it("an alert threshold changes only the rules step, which reloads Prometheus", async () => {
    const config = labConfigMap();
    ladonOf(config).thresholds = { gpuTemperatureCelsius: 80 };
    const changed = changedBetween(lab, await synthLab(config));
    expect(changed).toEqual(["ladon-citadel-prometheus-rules"]);
    expect(String(byName(lab, "ladon-citadel-prometheus-rules").rawInputs.create)).toContain(
      `export RELOAD='http:http://127.0.0.1:${hostPort("prometheus")}/-/reload'`,
    );
  });

  it("Loki retention changes only its runtime file, which Loki re-reads: no restart", async () => {
    const config = labConfigMap();
    ladonOf(config).loki.retentionPeriod = "336h";
    const changed = changedBetween(lab, await synthLab(config));
    expect(changed).toEqual(["ladon-citadel-loki-runtime"]);
    expect(String(byName(lab, "ladon-citadel-loki-runtime").rawInputs.create)).toContain(
      "export RELOAD='none'",
    );
  });

  it("a new alert receiver changes only the Alertmanager config step, which reloads it", async () => {
    const config = labConfigMap();
    ladonOf(config).alertmanager.webhooks = [{ name: "hades", url: "http://192.168.10.30:5001/alerts" }];
    expect(changedBetween(lab, await synthLab(config))).toEqual(["ladon-citadel-alertmanager-config"]);
  });

  it("Prometheus retention is in prometheus.yml, so its config step changes and reloads it", async () => {
    const config = labConfigMap();
    ladonOf(config).prometheus.retentionTime = "60d";
    ladonOf(config).prometheus.retentionSize = "40GiB";
    const changed = await synthLab(config);
    expect(changedBetween(lab, changed)).toEqual(["ladon-citadel-prometheus-config"]);
    const create = String(byName(changed, "ladon-citadel-prometheus-config").rawInputs.create);
    expect(create).toContain(`export RELOAD='http:http://127.0.0.1:${hostPort("prometheus")}/-/reload'`);
    expect(create).toContain("retention:\\n      size: 40GB\\n      time: 60d\\n");
  });
});

describe("placement on the monitoring Raspberry Pi", () => {
  let pi: SynthResult;
  beforeAll(async () => {
    const config = labConfigMap();
    addMonitoringPi(config, "192.168.10.40", true);
    ladonOf(config).host = "pi";
    ladonOf(config).dataDir = "/srv/ladon/data";
    ladonOf(config).prometheus.retentionSize = "20GiB";
    pi = await synthLab(config);
  });

  const servicesOn = (host: string) =>
    ofType(pi, CONTAINER)
      .filter((c) => c.provider?.endsWith(`${host}-docker-provider`))
      .map((c) => c.rawInputs.name)
      .sort();

  it("runs the stack on the Pi, and keeps exporters on the hosts they measure", () => {
    expect(servicesOn("pi")).toEqual([
      "alertmanager",
      "alloy",
      "cadvisor",
      "grafana",
      "loki",
      "node-exporter",
      "phoenix",
      "prometheus",
    ]);
    expect(servicesOn("citadel")).toEqual([
      "alloy",
      "cadvisor",
      "gpu-exporter",
      "node-exporter",
      "vllm-chat",
      "vllm-embed",
    ]);
  });

  it("scrapes citadel's GPU exporter and vLLM across hosts, and ships citadel's logs to the Pi", () => {
    const prometheus = pi.files.get("pi/etc/citadel/prometheus/prometheus.yml") as string;
    expect(prometheus).toContain(`192.168.10.29:${hostPort("gpuExporter")}`);
    // One target per vLLM server, labelled with its name.
    expect(prometheus).toContain("192.168.10.29:8000");
    expect(prometheus).toContain("192.168.10.29:8001");
    expect(prometheus).toMatch(/- 192\.168\.10\.29:8001\n\s+labels:\n\s+host: citadel\n\s+server: embed/);
    expect(prometheus).toContain(`192.168.10.29:${hostPort("nodeExporter")}`);
    expect(pi.files.get("citadel/etc/citadel/alloy/config.alloy")).toContain(
      `url = "http://192.168.10.40:${hostPort("loki")}/loki/api/v1/push"`,
    );
    expect((byName(pi, "vllm-chat-container").rawInputs.command as string[]).slice(-1)).toEqual([
      `grpc://192.168.10.40:${hostPort("phoenix", "otlpGrpc")}`,
    ]);
  });

  it("uses only multi-arch images on the arm64 Pi", () => {
    for (const c of ofType(pi, CONTAINER).filter((x) => x.provider?.endsWith("pi-docker-provider"))) {
      const spec = Object.values(SERVICES).find((s) => s.container === c.rawInputs.name);
      expect(spec?.arches).toContain("arm64");
    }
  });
});

describe("plan-time checks", () => {
  const problems = (mutate: (config: Record<string, any>) => void) => {
    const config = labConfigMap();
    mutate(config);
    try {
      parseLabConfig(stackConfigSource(fromConfigMap(config), LAB_SECRETS));
    } catch (err) {
      if (err instanceof LabConfigError) return err.message;
      throw err;
    }
    return "";
  };

  it("fail when the containers' memory limits do not fit the host's RAM with headroom", () => {
    const message = problems((c) => {
      addMonitoringPi(c, "192.168.10.40", true);
      c["citadel:hosts"].pi.memoryGiB = 4;
      ladonOf(c).host = "pi";
      ladonOf(c).dataDir = "/srv/ladon/data";
    });
    expect(message).toContain("citadel:ladon.memoryMiB: containers on pi are limited to");
    expect(message).toContain("but pi has 4 GiB of RAM less 2 GiB headroom");
    expect(message).toContain("largest: prometheus 2048 MiB");
  });

  it("pass the same Pi with its real 8 GiB", () => {
    expect(
      problems((c) => {
        addMonitoringPi(c, "192.168.10.40", true);
        ladonOf(c).host = "pi";
        ladonOf(c).dataDir = "/srv/ladon/data";
        ladonOf(c).prometheus.retentionSize = "20GiB";
      }),
    ).toBe("");
  });

  it("fail an image without the host's architecture", () => {
    expect(
      archProblem("gpuExporter", { image: "example/amd64-only:1.0", arches: ["amd64"] }, "pi", "arm64"),
    ).toBe(
      "example/amd64-only:1.0 has no arm64 image, so gpuExporter cannot run on pi; only multi-arch images run on arm64 hosts",
    );
    expect(
      archProblem("gpuExporter", { image: "example/multi:1.0", arches: ["amd64", "arm64"] }, "pi", "arm64"),
    ).toBe(undefined);
  });

  it("let every service run on an arm64 host: each pinned image is published for arm64", () => {
    // The GPU exporter was wrongly listed as amd64-only (.goreleaser.yml@v1.14.0 publishes arm64).
    const config = labConfigMap();
    const { lab: parsed } = parseLabConfig(stackConfigSource(fromConfigMap(config), LAB_SECRETS));
    const armGpuHost = { ...parsed.hosts.citadel!, arch: "arm64" as const };
    const found = ladonProblems({ hosts: { citadel: armGpuHost }, vllm: parsed.vllm }, parsed.ladon!);
    expect(found.filter((p) => /image/.test(p.message))).toEqual([]);
  });

  it("fail retention that does not fit its volume", () => {
    expect(problems((c) => (ladonOf(c).prometheus.retentionSize = "900GiB"))).toContain(
      "citadel:ladon.prometheus.retentionSize: Prometheus (900GiB) and Loki (31GiB over 744h) need 931GiB, more than 80% of the 1TiB volume at /srv/data",
    );
  });

  it("fail a stack host that does not exist", () => {
    expect(problems((c) => (ladonOf(c).host = "olympus"))).toContain(
      'citadel:ladon.host: no host named "olympus"',
    );
  });

  it("fail a typo in the section", () => {
    expect(problems((c) => (ladonOf(c).prometheus.retention = "30d"))).toContain(
      "citadel:ladon.prometheus.retention: unknown key",
    );
  });
});

describe("exporters", () => {
  const inputs = (name: string) => byName(lab, name).rawInputs as Record<string, any>;

  it("node-exporter reads the host with the systemd, mdadm and textfile collectors", () => {
    const n = inputs("ladon-citadel-node-exporter-container");
    expect(n.networkMode).toBe("host");
    expect(n.pidMode).toBe("host");
    expect(n.command).toEqual(
      expect.arrayContaining([
        "--path.rootfs=/host",
        "--collector.systemd",
        "--collector.textfile.directory=/host/var/lib/node_exporter/textfile",
      ]),
    );
    expect(n.command.join(" ")).not.toContain("no-collector.mdadm");
  });

  it("the GPU exporter gets the GPUs, after the NVIDIA check", () => {
    expect(inputs("ladon-citadel-gpu-exporter-container").gpus).toBe("all");
    expect(dependencyNames(lab, byName(lab, "ladon-citadel-gpu-exporter-dirs"))).toContain(
      "citadel-nvidia-verify",
    );
  });

  it("cAdvisor reads the configured Docker data-root", () => {
    expect(inputs("ladon-citadel-cadvisor-container").volumes).toContainEqual({
      containerPath: "/var/lib/docker",
      hostPath: "/srv/data/docker",
      readOnly: true,
    });
  });

  it("every host gets the textfile timer", () => {
    const steps = ofType(lab, "command:remote:Command").filter((r: ResourceRecord) =>
      r.name.endsWith("-textfile"),
    );
    expect(steps.map((s) => s.name)).toEqual(["ladon-citadel-textfile"]);
    expect(String(steps[0]!.rawInputs.create)).toMatch(/export DATA_DIR='\\''\/srv\/data\/ladon'\\''/);
  });
});

describe("outputs", () => {
  it("export Grafana's URL and Phoenix's OTLP endpoints for HADES", () => {
    expect(lab.outputs.ladon).toMatchObject({
      grafanaUrl: `http://192.168.10.29:${hostPort("grafana")}`,
      phoenixOtlp: {
        grpc: `grpc://192.168.10.29:${hostPort("phoenix", "otlpGrpc")}`,
        http: `http://192.168.10.29:${hostPort("phoenix")}/v1/traces`,
      },
      phoenixUi: `http://192.168.10.29:${hostPort("phoenix")}`,
    });
  });
});
