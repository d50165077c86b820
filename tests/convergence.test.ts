/** Convergence quality: deterministic plans, no work on a no-op, the smallest blast radius, parallel steps. */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import {
  BLAST_RADIUS,
  BLAST_SECRETS,
  criticalPath,
  diffPlans,
  effectOf,
  unappliedKeys,
  programWith,
} from "../lib/convergence";
import type { SynthResult } from "../lib/synth/harness";
import { labConfigMap, STACK_FILE } from "./support/lab";
import { synthLab } from "./support/synth";
import { scratchDir } from "./support/scratch";

const ROOT = path.join(__dirname, "..");
let lab: SynthResult;
beforeAll(async () => {
  lab = await synthLab();
});

describe("determinism", () => {
  const start = (out: string, env: Record<string, string>) =>
    spawnSync(
      path.join(ROOT, "node_modules", ".bin", "tsx"),
      ["tools/synth.ts", "--config", STACK_FILE, "--out", out],
      {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, ...env },
      },
    );
  const files = (dir: string) =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
      .sort();

  it("writes byte-identical out/ whatever the time zone, locale or working directory", () => {
    const a = scratchDir("citadel-det-");
    const b = scratchDir("citadel-det-");
    expect(start(a, { TZ: "UTC", LANG: "C.UTF-8" }).status).toBe(0);
    expect(start(b, { TZ: "Pacific/Auckland", LANG: "de_DE.UTF-8", LC_ALL: "de_DE.UTF-8" }).status).toBe(0);
    expect(files(b)).toEqual(files(a));
    for (const f of files(a))
      expect(readFileSync(path.join(b, f), "utf8")).toBe(readFileSync(path.join(a, f), "utf8"));
  });
});

describe("a no-op", () => {
  it("changes no input of any resource, so no command runs and no container is replaced", async () => {
    expect(diffPlans(lab, await synthLab())).toEqual([]);
  });

  it("has every command's create and triggers depend on config alone", () => {
    for (const r of lab.resources.filter((x) => x.type.startsWith("command:"))) {
      const text = JSON.stringify([r.rawInputs.create, r.rawInputs.triggers]);
      expect(text).not.toMatch(/\[unknown\]|undefined|\d{4}-\d{2}-\d{2}T\d{2}:/);
    }
  });
});

describe("blast radius", () => {
  it.each(BLAST_RADIUS.map((row) => [row.change, row] as const))(
    "%s changes exactly what it must",
    async (_name, row) => {
      const config = labConfigMap();
      row.config?.(config);
      const variant = await synthLab(config, programWith(row.overrides?.()), BLAST_SECRETS[row.change] ?? {});
      const changes = diffPlans(lab, variant);
      expect(Object.fromEntries(changes.map((c) => [c.name, c.effect]))).toEqual(row.expect);
    },
  );

  it("classifies changes the way the providers apply them", () => {
    expect(effectOf("command:remote:Command", ["create"])).toBe("update");
    expect(effectOf("command:remote:Command", ["create", "triggers"])).toBe("replace");
    expect(effectOf("docker:index/container:Container", ["memory"])).toBe("update");
    expect(effectOf("docker:index/container:Container", ["command"])).toBe("replace");
    expect(effectOf("grafana:oss/dashboard:Dashboard", ["configJson"])).toBe("update");
  });

  it("counts what the docker provider records but never applies as an in-place update, and flags it", () => {
    // resource_docker_container_funcs.go: Update sends only restart, memory, CPU and block-IO limits.
    for (const k of ["healthcheck", "tmpfs", "init", "cpuPeriod", "cpuQuota"]) {
      expect(effectOf("docker:index/container:Container", [k])).toBe("update");
      expect(unappliedKeys("docker:index/container:Container", [k, "memory"])).toEqual([k]);
    }
    expect(effectOf("docker:index/container:Container", ["labels"])).toBe("replace");
  });

  it("replaces a dashboard whose uid changes, and updates one whose panels change", () => {
    const dash = (uid: string, title: string) => ({ configJson: JSON.stringify({ uid, title }) });
    const type = "grafana:oss/dashboard:Dashboard";
    expect(effectOf(type, ["configJson"], dash("a", "x"), dash("a", "y"))).toBe("update");
    expect(effectOf(type, ["configJson"], dash("a", "x"), dash("b", "x"))).toBe("replace");
  });

  it("never leaves a container input change unapplied in the lab: each one replaces the container", async () => {
    for (const row of BLAST_RADIUS) {
      const config = labConfigMap();
      row.config?.(config);
      const variant = await synthLab(config, programWith(row.overrides?.()), BLAST_SECRETS[row.change] ?? {});
      for (const c of diffPlans(lab, variant)) {
        if (unappliedKeys(c.type, c.keys).length > 0)
          expect([row.change, c.name, c.effect]).toEqual([row.change, c.name, "replace"]);
      }
    }
  });

  it("notices an unexpected change, so the table can fail", async () => {
    const config = labConfigMap();
    config["citadel:ladon"].prometheus.retentionTime = "60d";
    config["citadel:vllm"].servers.chat.maxModelLen = 16384;
    const changes = diffPlans(lab, await synthLab(config));
    expect(changes.map((c) => c.name)).toEqual(["ladon-citadel-prometheus-config", "vllm-chat-container"]);
  });
});

describe("parallel where independent", () => {
  it("bounds a first up by a critical path through the reboot: Docker's engine, the NVIDIA reboot, Docker, Phoenix and its key, then vLLM", () => {
    // The reboot waits for the engine's apt work, and Docker is configured only after the host is
    // back (a reboot cut off the daemon step's restart on the e2e tier's VM); vLLM's traces need
    // Phoenix's API key, so vLLM starts after Phoenix.
    expect(criticalPath(lab)).toEqual({
      length: 8,
      chain: [
        "citadel-docker-engine",
        "citadel-nvidia-reboot",
        "citadel-nvidia-wait",
        "citadel-nvidia-verify",
        "citadel-docker-daemon",
        "citadel-docker-verify",
        "ladon-citadel-phoenix-dirs",
        "ladon-citadel-phoenix-container",
        "ladon-phoenix-trace-key",
        "vllm-chat-container",
      ],
    });
  });

  it("lets a disk format and the driver install start together", () => {
    const byName = new Map(lab.resources.map((r) => [r.name, r]));
    expect(byName.get("citadel-storage-disk-data")?.dependsOn).toEqual([]);
    expect(byName.get("citadel-nvidia-driver")?.dependsOn).toEqual([]);
  });

  it("makes monitoring containers wait only for Docker, their disk and their own steps", () => {
    const byUrn = new Map(lab.resources.map((r) => [r.urn, r.name]));
    const prometheus = lab.resources.find((r) => r.name === "ladon-citadel-prometheus-container")!;
    expect(prometheus.dependsOn.map((u) => byUrn.get(u)).sort()).toEqual([
      "citadel-docker-network",
      "ladon-citadel-prometheus-alertmanager-password",
      "ladon-citadel-prometheus-client-netrc",
      "ladon-citadel-prometheus-config",
      "ladon-citadel-prometheus-image",
      "ladon-citadel-prometheus-rules",
      "ladon-citadel-prometheus-web-config",
      "ladon-citadel-prometheus-web-password",
    ]);
  });
});
