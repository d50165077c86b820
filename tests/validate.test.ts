/** Post-deploy validation: the check logic against recorded probe output, the CLI, the deploy step. */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { type LabConfig } from "../components/config";
import { parseLabConfig } from "../components/plan";
import { evaluateHost, hostExpectations, parseProbe, renderResults } from "../components/ops/validate";
import { fromConfigMap, stackConfigSource } from "../lib/synth/stackfile";
import { validateLab } from "../tools/validate";
import { LAB_SECRETS, labConfigMap, PI_SECRETS, piConfigMap, STACK_FILE } from "./support/lab";
import { dockerUserRules } from "../components/host";
import {
  citadelProbes,
  dockerUserChain,
  nvidiaSmiLines,
  probeWithContainers,
  registeredContainers,
  upLine,
} from "./support/probe";
import { byName, synthLab } from "./support/synth";
import { scratchDir } from "./support/scratch";

const ROOT = path.join(__dirname, "..");
const lab: LabConfig = parseLabConfig(stackConfigSource(fromConfigMap(labConfigMap()), LAB_SECRETS)).lab;
/** A recorded probe of citadel, its `docker ps` lines derived from the lab's registered containers. */
let fixture: (name: string) => string;
beforeAll(async () => {
  fixture = await citadelProbes(lab);
});

describe("the container checks, from each container's registered config", () => {
  it("expects `healthy` where the lab registers a healthcheck and `running` where it does not", async () => {
    const registered = registeredContainers(await synthLab());
    const expected = hostExpectations(lab, "citadel").flatMap((e) =>
      e.kind === "container" ? [{ name: e.name, healthcheck: e.state === "healthy" }] : [],
    );
    expect(expected).toEqual(registered);
    // The GPU exporter's image has no healthcheck (components/ladon/containers.ts).
    expect(registered.find((c) => c.name === "gpu-exporter")).toEqual({
      name: "gpu-exporter",
      healthcheck: false,
    });
  });

  it("passes a container without a healthcheck that is up, and fails one with a healthcheck that is not healthy", async () => {
    const registered = registeredContainers(await synthLab());
    const line = (name: string, status: string) => `${name}|running|${status}`;
    const containerChecks = (lines: Record<string, string>) => {
      const probe = probeWithContainers("citadel-healthy.txt", registered).replace(
        /^(gpu-exporter|grafana)\|.*$/gm,
        (l, name: string) => lines[name] ?? l,
      );
      return evaluateHost(lab, "citadel", probe)
        .filter((r) => r.check === "container gpu-exporter" || r.check === "container grafana")
        .map((r) => `${r.ok ? "PASS" : "FAIL"} ${r.check}: ${r.detail}`);
    };
    expect(containerChecks({})).toEqual([
      "PASS container gpu-exporter: running: Up 3 hours",
      "PASS container grafana: running: Up 3 hours (healthy)",
    ]);
    // Health states as Health.String prints them (container/health.go@v28.5.2).
    expect(
      containerChecks({
        "gpu-exporter": "gpu-exporter|exited|Exited (2) 5 minutes ago",
        grafana: line("grafana", "Up 3 hours (unhealthy)"),
      }),
    ).toEqual([
      "FAIL container gpu-exporter: exited: Exited (2) 5 minutes ago",
      "FAIL container grafana: running: Up 3 hours (unhealthy)",
    ]);
    expect(containerChecks({ grafana: line("grafana", "Up 10 seconds (health: starting)") })).toContain(
      "FAIL container grafana: running: Up 10 seconds (health: starting)",
    );
    // A container that should have a healthcheck but shows none (its state drifted) fails.
    expect(containerChecks({ grafana: upLine({ name: "grafana", healthcheck: false }) })).toContain(
      "FAIL container grafana: running: Up 3 hours",
    );
  });
});

describe("the check logic", () => {
  it("parses the probe's sections with their exit codes", () => {
    const s = parseProbe(fixture("citadel-broken.txt"));
    expect(s.get("timers")).toEqual({ rc: 3, text: "active\ninactive\nactive" });
    expect(s.get("health-loki")?.text).toBe("503");
  });

  it("passes every check on a healthy citadel", () => {
    const results = evaluateHost(lab, "citadel", fixture("citadel-healthy.txt"));
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results.map((r) => r.check)).toEqual([
      "LVM size",
      "mount /srv/data",
      "mount /srv/backup",
      "GPUs",
      "Docker nvidia runtime",
      "container alertmanager",
      "container alloy",
      "container cadvisor",
      "container gpu-exporter",
      "container grafana",
      "container loki",
      "container node-exporter",
      "container phoenix",
      "container prometheus",
      "container vllm-chat",
      "container vllm-embed",
      "vLLM chat /v1/models",
      "vLLM embed /v1/models",
      "vLLM embed /v1/embeddings",
      "Prometheus targets up",
      "grafana healthy",
      "loki healthy",
      "alertmanager healthy",
      "phoenix healthy",
      "backup timers active",
      "last backup fresh",
      "firewall",
      "DOCKER-USER rules",
    ]);
  });

  it("names every broken thing on a broken citadel", () => {
    const failed = evaluateHost(lab, "citadel", fixture("citadel-broken.txt")).filter((r) => !r.ok);
    expect(failed.map((r) => `${r.check}: ${r.detail}`)).toEqual([
      "LVM size: ubuntu-vg/ubuntu-lv is 107374182400 bytes, target 3TiB",
      "mount /srv/backup: not mounted, in fstab by UUID",
      "GPUs: 1 GPUs on driver 580 (want 2 on 580)",
      "container loki: restarting: Restarting (1) 12 seconds ago",
      "vLLM chat /v1/models: no answer with the API key",
      "Prometheus targets up: down: gpu/gpu-exporter:9835",
      "loki healthy: HTTP 503",
      "backup timers active: active, inactive, active",
      "last backup fresh: 40.0 h ago (limit 26 h)",
      "firewall: Status: inactive",
      "DOCKER-USER rules: no DROP rule: published ports bypass the firewall",
    ]);
  });

  it("reports an unreachable host as a failed check", () => {
    const results = validateLab(lab, () => {
      throw new Error("cannot reach citadel (192.168.10.29) over SSH: Connection timed out");
    });
    expect(results).toEqual([
      {
        host: "citadel",
        check: "reachable",
        ok: false,
        detail: "cannot reach citadel (192.168.10.29) over SSH: Connection timed out",
      },
    ]);
    expect(renderResults(results)).toMatch(/^FAIL {2}citadel {2}reachable {2}cannot reach citadel/);
  });
});

describe("recorded program output that disagrees with the config", () => {
  /** The healthy probe with one section's text swapped, and that check's verdict. */
  const verdict = (section: string, text: string, check: string) => {
    const probe = fixture("citadel-healthy.txt").replace(
      new RegExp(`^### ${section} rc=0\\n(?:(?!### ).*\\n?)*`, "m"),
      () => `### ${section} rc=0\n${text}\n`,
    );
    const r = evaluateHost(lab, "citadel", probe).find((x) => x.check === check);
    return `${r?.ok ? "PASS" : "FAIL"} ${check}: ${r?.detail}`;
  };

  it("fails GPUs on a driver of another branch than the pinned one", () => {
    expect(verdict("nvidia-smi", nvidiaSmiLines(lab, "citadel", 2, "570"), "GPUs")).toBe(
      "FAIL GPUs: 2 GPUs on driver 570 (want 2 on 580)",
    );
  });

  it("fails a firewall that is active but lets everything in (ufw 0.36.2's status format)", () => {
    const ufw = [
      "Status: active",
      "Logging: on (low)",
      "Default: allow (incoming), allow (outgoing), disabled (routed)",
      "New profiles: skip",
    ].join("\n");
    expect(verdict("ufw", ufw, "firewall")).toBe("FAIL firewall: Status: active; Logging: on (low)");
  });

  it("fails DOCKER-USER rules that the real iptables shows without the final DROP", () => {
    const rules = dockerUserRules({
      sshPort: 22,
      adminSubnet: "192.168.10.0/24",
      labSubnet: "192.168.10.0/24",
      ports: [{ port: 9901, sources: ["192.168.10.0/24"] }],
    }).replace("-A DOCKER-USER -j DROP\n", "");
    const chain = dockerUserChain(rules);
    expect(chain).toMatch(/^-A DOCKER-USER -s 192\.168\.10\.0\/24 .*--ctorigdstport 9901 .*-j RETURN$/m);
    expect(verdict("docker-user", chain, "DOCKER-USER rules")).toBe(
      "FAIL DOCKER-USER rules: no DROP rule: published ports bypass the firewall",
    );
  });

  it("fails an LV smaller than the configured size, and a data disk not in fstab by UUID", () => {
    expect(verdict("lvs", "  ubuntu-vg|ubuntu-lv|1099511627776", "LVM size")).toBe(
      "FAIL LVM size: ubuntu-vg/ubuntu-lv is 1099511627776 bytes, target 3TiB",
    );
    expect(
      verdict("fstab", "/dev/nvme1n1 /srv/data ext4 defaults,noatime,nofail 0 2", "mount /srv/data"),
    ).toBe("FAIL mount /srv/data: mounted, no fstab entry by UUID");
  });
});

describe("the RAID checks, on the monitoring Pi's example", () => {
  const pi: LabConfig = parseLabConfig(stackConfigSource(fromConfigMap(piConfigMap()), PI_SECRETS)).lab;
  const probe = (mdstat: string, mounted = true) =>
    [
      "### findmnt rc=0",
      mounted ? "/dev/md127 /srv/ladon" : "/dev/mmcblk0p2 /",
      "### fstab rc=0",
      "UUID=0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0 /srv/ladon ext4 defaults,noatime,nofail 0 2",
      "### mdstat rc=0",
      mdstat,
    ].join("\n");
  const raidChecks = (output: string) =>
    evaluateHost(pi, "pi", output)
      .filter((r) => r.check === "mount /srv/ladon" || r.check === "RAID arrays whole")
      .map((r) => `${r.ok ? "PASS" : "FAIL"} ${r.check}: ${r.detail}`);
  const mdstat = (state: string, counts: string) =>
    [
      "Personalities : [raid10]",
      `md127 : ${state} raid10 sdd[3] sdc[2] sdb[1] sda[0]`,
      `      1953260544 blocks super 1.2 512K chunks 2 near-copies ${counts}`,
      "      bitmap: 0/15 pages [0KB], 65536KB chunk",
      "",
      "unused devices: <none>",
    ].join("\n");

  it("passes a whole array mounted by UUID", () => {
    expect(raidChecks(probe(mdstat("active", "[4/4] [UUUU]")))).toEqual([
      "PASS mount /srv/ladon: mounted, in fstab by UUID",
      "PASS RAID arrays whole: md127 active [4/4]",
    ]);
  });

  it("fails a degraded array, one that is not running, and an array that is not mounted", () => {
    expect(raidChecks(probe(mdstat("active", "[4/3] [UUU_]")))).toEqual([
      "PASS mount /srv/ladon: mounted, in fstab by UUID",
      "FAIL RAID arrays whole: md127 active [4/3]",
    ]);
    expect(
      raidChecks(probe("md127 : inactive sda[0](S)\n      976630272 blocks super 1.2\n", false)),
    ).toEqual([
      "FAIL mount /srv/ladon: not mounted, in fstab by UUID",
      "FAIL RAID arrays whole: md127 inactive [0/0]",
    ]);
    expect(raidChecks(probe("Personalities : \nunused devices: <none>"))).toContain(
      "FAIL RAID arrays whole: no md array running; config declares 1",
    );
  });

  it("adds no RAID check to a host without arrays", () => {
    expect(evaluateHost(lab, "citadel", fixture("citadel-healthy.txt")).map((r) => r.check)).not.toContain(
      "RAID arrays whole",
    );
  });
});

describe("npm run validate", () => {
  /** A stand-in `ssh` on PATH that prints a recorded probe output and records how it was called. */
  function fakeSsh(output: string): { dir: string; log: string } {
    const dir = scratchDir("citadel-ssh-");
    const log = path.join(dir, "args.log");
    writeFileSync(path.join(dir, "out.txt"), output);
    writeFileSync(
      path.join(dir, "ssh"),
      `#!/usr/bin/env bash\nprintf '%s\\n' "$@" > '${log}'\ncat '${path.join(dir, "out.txt")}'\n`,
    );
    chmodSync(path.join(dir, "ssh"), 0o755);
    return { dir, log };
  }
  const run = (ssh: { dir: string }) =>
    spawnSync(path.join(ROOT, "node_modules", ".bin", "tsx"), ["tools/validate.ts", "--config", STACK_FILE], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, PATH: `${ssh.dir}:${process.env.PATH}` },
    });

  it("prints a table and exits 0 when the lab is healthy, connecting with the pinned host key", () => {
    const ssh = fakeSsh(fixture("citadel-healthy.txt"));
    const result = run(ssh);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^PASS {2}citadel {2}LVM size/m);
    expect(result.stdout.trim().split("\n").pop()).toBe("28 passed, 0 failed");
    const log = readFileSync(ssh.log, "utf8");
    expect(log.split("\n")).toEqual(
      expect.arrayContaining(["BatchMode=yes", "StrictHostKeyChecking=yes", "hxadmin@192.168.10.29"]),
    );
    expect(log).toMatch(
      /^sudo -n bash -c "\$\(cat <<'CITADEL_SCRIPT_EOF'\n#!\/usr\/bin\/env bash\n# citadel script: ops\/scripts\/probe.sh$/m,
    );
  });

  it("exits 3, not 1, when the host cannot be reached, and says on stderr which host it probes", () => {
    const down = scratchDir("citadel-ssh-down-");
    writeFileSync(
      path.join(down, "ssh"),
      '#!/usr/bin/env bash\necho "ssh: connect to host 192.168.10.29 port 22: No route to host" >&2\nexit 255\n',
    );
    chmodSync(path.join(down, "ssh"), 0o755);
    const result = run({ dir: down });
    expect(result.status).toBe(3);
    expect(result.stderr).toContain("validate: probing citadel (192.168.10.29), host 1 of 1");
    expect(result.stdout).toMatch(/^FAIL {2}citadel {2}reachable +cannot reach .*No route to host/m);
  });

  it("exits 1 and marks each failure when the lab is broken", () => {
    const result = run(fakeSsh(fixture("citadel-broken.txt")));
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^FAIL {2}citadel {2}firewall +Status: inactive$/m);
    expect(result.stdout.trim().split("\n").pop()).toBe("17 passed, 11 failed");
  });
});

describe("validation as the last step of pulumi up", () => {
  it("runs npm run validate after every container, timer and firewall, only when enabled", async () => {
    const config = labConfigMap();
    config["citadel:ops"].validateAfterDeploy = true;
    const result = await synthLab(config);
    const step = byName(result, "validate");
    expect(step.type).toBe("command:local:Command");
    expect(step.rawInputs.create).toBe("npm run --silent validate -- --config Pulumi.citadel.yaml");
    const byUrn = new Map(result.resources.map((r) => [r.urn, r.name]));
    const deps = step.dependsOn.map((u) => byUrn.get(u));
    expect(deps).toEqual(
      expect.arrayContaining([
        "vllm-chat-container",
        "vllm-embed-container",
        "ladon-citadel-grafana-container",
        "backups-backup",
        "citadel-firewall-ufw",
      ]),
    );
    expect((await synthLab()).resources.some((r) => r.name === "validate")).toBe(false);
  });
});
