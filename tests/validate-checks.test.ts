/**
 * `npm run validate`'s checks one kind at a time (components/ops/validate.ts): what each kind
 * passes, what it fails, and what it says, on the output of the commands `components/ops/scripts/
 * probe.sh` runs (each section below names its command). Pure and fast: no synthesis, so a
 * mutation run can afford every test here for every mutant.
 */
import { type LabConfig } from "../components/config";
import { parseLabConfig } from "../components/plan";
import {
  evaluateExpectations,
  hostExpectations,
  mdstatArrays,
  parseProbe,
  probeServers,
  renderResults,
  type Expectation,
} from "../components/ops/validate";
import { fromConfigMap, stackConfigSource } from "../lib/synth/stackfile";
import { readFileSync } from "node:fs";
import path from "node:path";
import { COMPONENTS_DIR } from "../components/remote/shell";
import { addMonitoringPi, LAB_SECRETS, labConfigMap, PI_SECRETS, piConfigMap } from "./support/lab";

/** The probe's output: `### <section> rc=<exit code>` then what the command printed (probe.sh `section`). */
const probe = (sections: Record<string, string | [number, string]>) =>
  Object.entries(sections)
    .map(([name, v]) => {
      const [rc, text] = typeof v === "string" ? [0, v] : v;
      return `### ${name} rc=${rc}\n${text}`;
    })
    .join("\n");

/** One expectation's verdict and detail on a probe. */
const check = (e: Expectation, sections: Record<string, string | [number, string]>) => {
  const [r] = evaluateExpectations("h", [e], probe(sections));
  return `${r!.ok ? "PASS" : "FAIL"} ${r!.detail}`;
};

const lab = (config = labConfigMap(), secrets = LAB_SECRETS): LabConfig =>
  parseLabConfig(stackConfigSource(fromConfigMap(config), secrets)).lab;

describe("the probe's sections", () => {
  it("are headed by a whole `### name rc=N` line, their text trimmed, and text before the first head belongs to none", () => {
    const s = parseProbe(
      [
        "stray",
        "### a rc=12",
        "",
        "  one",
        "two  ",
        "",
        "x ### b rc=0",
        "### c rc=1 trailing",
        "### d rc=0",
      ].join("\n"),
    );
    expect([...s.entries()]).toEqual([
      ["a", { rc: 12, text: "one\ntwo  \n\nx ### b rc=0\n### c rc=1 trailing" }],
      ["d", { rc: 0, text: "" }],
    ]);
  });
});

describe("each kind of check", () => {
  it("lvm: finds its own VG and LV (lvs pads its lines) and passes at or above the target", () => {
    const e: Expectation = {
      check: "LVM size",
      kind: "lvm",
      vg: "vg",
      lv: "lv",
      size: "1KiB",
      minBytes: 1024,
    };
    const lvs = (size: number) => `  other|lv|99999\n  vg|other|99999\n  vg|lv|${size}`;
    expect(check(e, { lvs: lvs(1024) })).toBe("PASS vg/lv is 1024 bytes, target 1KiB");
    expect(check(e, { lvs: lvs(1023) })).toBe("FAIL vg/lv is 1023 bytes, target 1KiB");
    expect(check(e, { lvs: "  other|lv|99999\n  vg|other|99999" })).toBe("FAIL vg/lv not found");
    expect(check(e, {})).toBe("FAIL vg/lv not found");
  });

  it("mount: needs the mount point mounted and an fstab line by UUID for that very mount point", () => {
    const e: Expectation = { check: "mount /srv/data", kind: "mount", mountPoint: "/srv/data" };
    const uuid = "UUID=0b1c2d3e-4f50 /srv/data ext4 defaults,noatime,nofail 0 2";
    expect(check(e, { findmnt: "/dev/sdb1 /srv/data", fstab: uuid })).toBe("PASS mounted, in fstab by UUID");
    expect(check(e, { findmnt: "/dev/sdb1 /srv/data2\n/dev/sdb2 /srv", fstab: uuid })).toBe(
      "FAIL not mounted, in fstab by UUID",
    );
    for (const fstab of [
      "/dev/sdb1 /srv/data ext4 defaults 0 2",
      "# UUID=0b1c2d3e-4f50 /srv/data ext4 defaults 0 2",
      "UUID=0b1c2d3e-4f50 /srv/data2 ext4 defaults 0 2",
      "UUID= /srv/data ext4 defaults 0 2",
      "xUUID=0b1c2d3e-4f50 /srv/data ext4 defaults 0 2",
    ])
      expect([fstab, check(e, { findmnt: "/dev/sdb1 /srv/data", fstab })]).toEqual([
        fstab,
        "FAIL mounted, no fstab entry by UUID",
      ]);
    expect(check(e, { findmnt: "/dev/sdb1 /srv/data", fstab: "UUID=a /srv/data ext4 defaults 0 2" })).toBe(
      "PASS mounted, in fstab by UUID",
    );
    // fstab separates its fields by any run of blanks (fstab(5)).
    expect(
      check(e, { findmnt: "/dev/sdb1 /srv/data", fstab: "UUID=0b1c\t  /srv/data  ext4 defaults 0 2" }),
    ).toBe("PASS mounted, in fstab by UUID");
  });

  it("raid: reads /proc/mdstat's arrays with counts of any width, and needs as many as declared", () => {
    const e: Expectation = { check: "RAID arrays whole", kind: "raid", count: 2 };
    const md = (name: string, wanted: number, working: number) =>
      `${name} : active raid10 sdb[1] sda[0]\n      1953260544 blocks super 1.2 [${wanted}/${working}] [UU]`;
    const two = `Personalities : [raid10]\n${md("md126", 12, 12)}\n${md("md127", 4, 4)}\nunused devices: <none>`;
    expect(check(e, { mdstat: two })).toBe("PASS md126 active [12/12], md127 active [4/4]");
    expect(check(e, { mdstat: `${md("md127", 4, 4)}` })).toBe("FAIL md127 active [4/4]");
    expect(check(e, { mdstat: `${md("md126", 12, 11)}\n${md("md127", 4, 4)}` })).toBe(
      "FAIL md126 active [12/11], md127 active [4/4]",
    );
    expect(mdstatArrays("  md127 : active raid10\n      [4/4]")).toEqual([]);
  });

  it("gpus: counts nvidia-smi's lines and needs one driver branch, the configured one", () => {
    const e: Expectation = { check: "GPUs", kind: "gpus", count: 2, branch: "580" };
    const gpu = (i: number, driver: string) => `${i}, NVIDIA GeForce RTX 4070 Ti SUPER, ${driver}`;
    expect(check(e, { "nvidia-smi": `${gpu(0, "580.95.05")}\n${gpu(1, "580.95.05")}\n` })).toBe(
      "PASS 2 GPUs on driver 580 (want 2 on 580)",
    );
    expect(check(e, { "nvidia-smi": `${gpu(0, "580.95.05")}\n${gpu(1, "570.1.2")}` })).toBe(
      "FAIL 2 GPUs on driver 580, 570 (want 2 on 580)",
    );
    expect(check(e, { "nvidia-smi": `${gpu(0, "580.95.05")}\n\n${gpu(1, "580.95.05")}` })).toBe(
      "PASS 2 GPUs on driver 580 (want 2 on 580)",
    );
    expect(check(e, { "nvidia-smi": "0, NVIDIA GeForce RTX 4070 Ti SUPER\n1, x" })).toBe(
      "FAIL 2 GPUs on driver ? (want 2 on 580)",
    );
    expect(check(e, { "nvidia-smi": [9, "NVIDIA-SMI has failed"] })).toBe("FAIL nvidia-smi failed");
  });

  it("nvidia-runtime: looks for the nvidia key in docker info's runtimes, and survives JSON it cannot read", () => {
    const e: Expectation = { check: "Docker nvidia runtime", kind: "nvidia-runtime" };
    const runtimes = (names: string[]) =>
      JSON.stringify(Object.fromEntries(names.map((n) => [n, { path: n }])));
    expect(check(e, { "docker-runtimes": runtimes(["io.containerd.runc.v2", "nvidia", "runc"]) })).toBe(
      "PASS present",
    );
    for (const text of [runtimes(["runc"]), "null", "[]", "{not json", "", '"nvidia"'])
      expect([text, check(e, { "docker-runtimes": text })]).toEqual([text, "FAIL missing from docker info"]);
  });

  it("container: a health-checked one must say (healthy) at the end of its status; others need only run", () => {
    const healthy: Expectation = { check: "c", kind: "container", name: "loki", state: "healthy" };
    const running: Expectation = { check: "c", kind: "container", name: "loki", state: "running" };
    const ps = (status: string, state = "running") =>
      `grafana|running|Up 1 hour (healthy)\nloki|${state}|${status}`;
    expect(check(healthy, { containers: ps("Up 3 hours (healthy)") })).toBe(
      "PASS running: Up 3 hours (healthy)",
    );
    expect(check(healthy, { containers: ps("Up 3 hours (healthy) x") })).toBe(
      "FAIL running: Up 3 hours (healthy) x",
    );
    expect(check(healthy, { containers: ps("Up 3 hours (unhealthy)") })).toBe(
      "FAIL running: Up 3 hours (unhealthy)",
    );
    expect(check(running, { containers: ps("Up 3 hours") })).toBe("PASS running: Up 3 hours");
    expect(check(running, { containers: ps("Exited (1) 2 minutes ago", "exited") })).toBe(
      "FAIL exited: Exited (1) 2 minutes ago",
    );
    expect(check(running, { containers: "grafana|running|Up 1 hour" })).toBe("FAIL not found");
    expect(check(running, { containers: "loki|running" })).toBe("PASS running: ");
  });

  it("vllm-models: needs an answer with the key that lists the served name", () => {
    const e: Expectation = { check: "m", kind: "vllm-models", container: "vllm-chat", served: "qwen3-8b" };
    expect(check(e, { "vllm-models-vllm-chat": "qwen3-8b\nqwen3-8b-lora\n" })).toBe(
      "PASS serves qwen3-8b, qwen3-8b-lora",
    );
    expect(check(e, { "vllm-models-vllm-chat": "other\n\nmore" })).toBe("FAIL serves other, more");
    expect(check(e, { "vllm-models-vllm-chat": "" })).toBe("FAIL serves nothing");
    expect(check(e, { "vllm-models-vllm-chat": [22, "qwen3-8b"] })).toBe("FAIL no answer with the API key");
  });

  it("vllm-pooling: needs an answer with a positive count", () => {
    const e: Expectation = {
      check: "p",
      kind: "vllm-pooling",
      section: "vllm-embeddings-vllm-embed",
      path: "/v1/embeddings",
      what: "a vector of",
    };
    expect(check(e, { "vllm-embeddings-vllm-embed": "1024" })).toBe("PASS a vector of 1024");
    expect(check(e, { "vllm-embeddings-vllm-embed": "0" })).toBe("FAIL no answer: 0");
    expect(check(e, { "vllm-embeddings-vllm-embed": [22, "1024"] })).toBe("FAIL no answer: 1024");
    expect(check(e, { "vllm-embeddings-vllm-embed": "" })).toBe("FAIL no answer: nothing");
    expect(check(e, {})).toBe("FAIL no answer: nothing");
  });

  it("prometheus-targets: every active target up, and at least one (/api/v1/targets' JSON)", () => {
    const e: Expectation = { check: "t", kind: "prometheus-targets" };
    const targets = (...t: [string, string, string][]) =>
      JSON.stringify({
        status: "success",
        data: { activeTargets: t.map(([job, instance, health]) => ({ labels: { job, instance }, health })) },
      });
    expect(
      check(e, { "prometheus-targets": targets(["node", "n:9100", "up"], ["loki", "l:3100", "up"]) }),
    ).toBe("PASS 2 targets up");
    expect(
      check(e, {
        "prometheus-targets": targets(
          ["node", "n:9100", "down"],
          ["loki", "l:3100", "unknown"],
          ["x", "x:1", "up"],
        ),
      }),
    ).toBe("FAIL down: node/n:9100, loki/l:3100");
    expect(check(e, { "prometheus-targets": targets() })).toBe("FAIL 0 targets up");
    expect(check(e, { "prometheus-targets": [22, "curl: (22) 401"] })).toBe("FAIL Prometheus did not answer");
  });

  it("http-200: only 200 passes", () => {
    const e: Expectation = { check: "g", kind: "http-200", section: "health-grafana" };
    expect(check(e, { "health-grafana": "200" })).toBe("PASS HTTP 200");
    expect(check(e, { "health-grafana": "2000" })).toBe("FAIL HTTP 2000");
    expect(check(e, { "health-grafana": [7, ""] })).toBe("FAIL HTTP no answer");
  });

  it("timers-active: exactly the expected number of timers, each active (systemctl is-active, one line each)", () => {
    const e: Expectation = { check: "t", kind: "timers-active", count: 3 };
    expect(check(e, { timers: "active\nactive\nactive" })).toBe("PASS active, active, active");
    expect(check(e, { timers: "active\nactive" })).toBe("FAIL active, active");
    expect(check(e, { timers: [3, "active\ninactive\nactive"] })).toBe("FAIL active, inactive, active");
  });

  it("backup-fresh: the last success's timestamp metric, at most the limit ago", () => {
    const e: Expectation = { check: "b", kind: "backup-fresh", maxAgeHours: 26 };
    const now = 1_790_000_000;
    const metrics = (ts: number) =>
      [
        "# HELP citadel_backup_last_success_timestamp_seconds When the last backup succeeded.",
        "# TYPE citadel_backup_last_success_timestamp_seconds gauge",
        `citadel_backup_last_success_timestamp_seconds ${ts}`,
      ].join("\n");
    expect(check(e, { "backup-metrics": metrics(now - 26 * 3600), now: String(now) })).toBe(
      "PASS 26.0 h ago (limit 26 h)",
    );
    expect(check(e, { "backup-metrics": metrics(now - 26 * 3600 - 1), now: String(now) })).toBe(
      "FAIL 26.0 h ago (limit 26 h)",
    );
    expect(check(e, { "backup-metrics": metrics(0), now: String(now) })).toBe(
      "FAIL no successful backup yet",
    );
    expect(
      check(e, {
        "backup-metrics": `x_citadel_backup_last_success_timestamp_seconds ${now}`,
        now: String(now),
      }),
    ).toBe("FAIL no successful backup yet");
  });

  it("firewall: ufw status verbose's first lines, active and denying incoming, each at a line's start", () => {
    const e: Expectation = { check: "f", kind: "firewall" };
    const status = (first: string, def: string) =>
      [first, "Logging: on (low)", def, "New profiles: skip"].join("\n");
    const deny = "Default: deny (incoming), allow (outgoing), deny (routed)";
    expect(check(e, { ufw: status("Status: active", deny) })).toBe("PASS Status: active; Logging: on (low)");
    expect(check(e, { ufw: status("Status: inactive", deny) })).toBe(
      "FAIL Status: inactive; Logging: on (low)",
    );
    expect(check(e, { ufw: status("Not Status: active", `# ${deny}`) })).toBe(
      "FAIL Not Status: active; Logging: on (low)",
    );
    expect(check(e, { ufw: status("Status: active", `# ${deny}`) })).toBe(
      "FAIL Status: active; Logging: on (low)",
    );
    expect(check(e, { ufw: [1, ""] })).toBe("FAIL ufw did not answer");
  });

  it("docker-user: iptables -S must show the chain's own final DROP rule, whole", () => {
    const e: Expectation = { check: "d", kind: "docker-user" };
    const chain = (last: string) =>
      ["-N DOCKER-USER", "-A DOCKER-USER -s 10.0.0.0/8 -j RETURN", last].join("\n");
    expect(check(e, { "docker-user": chain("-A DOCKER-USER -j DROP") })).toBe("PASS drops unlisted sources");
    for (const last of ["-A DOCKER-USER -j RETURN", "-A DOCKER-USER -j DROPPED", "# -A DOCKER-USER -j DROP"])
      expect([last, check(e, { "docker-user": chain(last) }).slice(0, 4)]).toEqual([last, "FAIL"]);
    expect(check(e, { "docker-user": chain("-A DOCKER-USER -j RETURN") })).toBe(
      "FAIL no DROP rule: published ports bypass the firewall",
    );
  });
});

describe("what a host is expected to have, from its config", () => {
  it("the Pi: its array, mounted by UUID, and the stack's services, no GPUs, LVM or vLLM", () => {
    const pi = lab(piConfigMap(), PI_SECRETS);
    const e = hostExpectations(pi, "pi");
    const kinds = e.map((x) => x.kind);
    expect(kinds).not.toContain("lvm");
    expect(kinds).not.toContain("gpus");
    expect(kinds).not.toContain("vllm-models");
    expect(e.filter((x) => x.kind === "raid")).toEqual([
      { check: "RAID arrays whole", kind: "raid", count: 1 },
    ]);
    expect(e.filter((x) => x.kind === "mount").map((x) => x.check)).toEqual(
      pi.hosts.pi!.storage!.raids!.map((r) => `mount ${r.mountPoint}`),
    );
    expect(kinds).toContain("prometheus-targets");
    expect(probeServers(pi, "pi")).toBe("");
    // Only the stack's own containers: no vLLM server is expected where vLLM does not run.
    const containers = e.filter((x) => x.kind === "container").map((x) => (x as { name: string }).name);
    expect(containers.length).toBeGreaterThan(3);
    expect(containers.filter((c) => c.startsWith("vllm"))).toEqual([]);
    expect(new Set(containers).size).toBe(containers.length);
  });

  it("a host without the stack, backups or a firewall gets none of their checks", () => {
    const config = labConfigMap();
    delete config["citadel:ladon"];
    delete config["citadel:ops"].backups;
    delete config["citadel:ops"].firewall;
    const e = hostExpectations(
      lab(
        config,
        LAB_SECRETS.filter((s) => s === "vllmApiKey"),
      ),
      "citadel",
    );
    const kinds = new Set(e.map((x) => x.kind));
    for (const k of [
      "prometheus-targets",
      "http-200",
      "timers-active",
      "backup-fresh",
      "firewall",
      "docker-user",
    ])
      expect([k, kinds.has(k as Expectation["kind"])]).toEqual([k, false]);
    // Only vLLM's containers remain, each with its readiness healthcheck.
    expect(e.filter((x) => x.kind === "container")).toEqual(
      Object.keys(lab(config, ["vllmApiKey"]).vllm!.servers)
        .sort()
        .map((n) => ({
          check: `container vllm-${n}`,
          kind: "container",
          name: `vllm-${n}`,
          state: "healthy",
        })),
    );
    expect(() => hostExpectations(lab(), "nowhere")).toThrow("no host nowhere");
    // Backups without the stack: the check keeps its own limit of 26 hours.
    const alone = labConfigMap();
    delete alone["citadel:ladon"];
    const secrets = LAB_SECRETS.filter((k) => k === "vllmApiKey" || k === "resticPassword");
    expect(hostExpectations(lab(alone, secrets), "citadel").find((x) => x.kind === "backup-fresh")).toEqual({
      check: "last backup fresh",
      kind: "backup-fresh",
      maxAgeHours: 26,
    });
  });

  it("a host with no storage section gets no LVM, mount or RAID check", () => {
    const config = labConfigMap();
    addMonitoringPi(config, "192.168.10.40");
    const kinds = hostExpectations(lab(config), "pi").map((x) => x.kind);
    expect(kinds.filter((k) => k === "lvm" || k === "mount" || k === "raid")).toEqual([]);
  });

  it("an LV of all-free is held to the size it had, a sized LV to its size", () => {
    const config = labConfigMap();
    const lvm = config["citadel:hosts"].citadel.storage.lvm;
    const sized = hostExpectations(lab(config), "citadel").find((x) => x.kind === "lvm");
    expect(sized).toMatchObject({ size: lvm.size, minBytes: 3 * 1024 ** 4 });
    lvm.size = "all-free";
    lvm.currentSize = "100GiB";
    const free = hostExpectations(lab(config), "citadel").find((x) => x.kind === "lvm");
    expect(free).toMatchObject({ size: "all-free", minBytes: 100 * 1024 ** 3 });
  });

  it("asks a rerank server at vLLM's own /rerank and an embed server at /v1/embeddings, in the sections probe.sh prints", () => {
    const config = labConfigMap();
    const servers = config["citadel:vllm"].servers;
    // A cross-encoder beside the embedder on GPU 1, where the committed lab leaves room for one.
    servers.rerank = {
      model: "BAAI/bge-reranker-v2-m3",
      kind: "rerank",
      gpus: [1],
      maxModelLen: 8192,
      gpuMemoryUtilization: 0.15,
      reserveGiB: 1,
      port: 8002,
      memoryLimit: "8GiB",
    };
    const l = lab(config);
    const pooling = hostExpectations(l, "citadel").filter((x) => x.kind === "vllm-pooling");
    expect(pooling).toEqual([
      {
        check: "vLLM embed /v1/embeddings",
        kind: "vllm-pooling",
        section: "vllm-embeddings-vllm-embed",
        path: "/v1/embeddings",
        what: "a vector of",
      },
      {
        check: "vLLM rerank /rerank",
        kind: "vllm-pooling",
        section: "vllm-rerank-vllm-rerank",
        path: "/rerank",
        what: "results:",
      },
    ]);
    // probe.sh asks each kind at that path and heads its answer with that section.
    const probeScript = readFileSync(path.join(COMPONENTS_DIR, "ops", "scripts", "probe.sh"), "utf8");
    for (const [kind, e] of [
      ["embed", pooling[0]],
      ["rerank", pooling[1]],
    ] as const) {
      const p = e as { section: string; path: string };
      const line = probeScript.split("\n").find((x) => x.trim().startsWith(`${kind})`))!;
      expect(line).toContain(
        `section "${p.section.replace(/vllm-(embed|rerank)$/, "${container}")}" vllm_call "$container" ${p.path} `,
      );
    }
    expect(probeServers(l, "citadel")).toBe(
      Object.entries(servers)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(
          ([n, s]) =>
            `vllm-${n}|${(s as { kind?: string }).kind ?? "generate"}|${(s as { servedModelName?: string; model: string }).servedModelName ?? (s as { model: string }).model}`,
        )
        .join(" "),
    );
  });

  it("the backup check's age limit is the stack's threshold", () => {
    const config = labConfigMap();
    config["citadel:ladon"].thresholds = {
      ...(config["citadel:ladon"].thresholds ?? {}),
      backupMaxAgeHours: 50,
    };
    expect(hostExpectations(lab(config), "citadel").find((x) => x.kind === "backup-fresh")).toEqual({
      check: "last backup fresh",
      kind: "backup-fresh",
      maxAgeHours: 50,
    });
  });
});

describe("the results table", () => {
  it("pads the verdict, host and check into columns at least 5 wide, and counts what passed and failed", () => {
    const table = renderResults([
      { host: "citadel", check: "GPUs", ok: true, detail: "2 GPUs" },
      { host: "pi", check: "RAID arrays whole", ok: false, detail: "md127 active [4/3]" },
      { host: "pi", check: "x", ok: false, detail: "d" },
    ]);
    expect(table).toBe(
      [
        "PASS  citadel  GPUs               2 GPUs",
        "FAIL  pi       RAID arrays whole  md127 active [4/3]",
        "FAIL  pi       x                  d",
        "",
        "1 passed, 2 failed",
      ].join("\n"),
    );
    expect(renderResults([{ host: "h", check: "c", ok: true, detail: "d" }])).toBe(
      "PASS  h      c      d\n\n1 passed, 0 failed",
    );
  });
});
