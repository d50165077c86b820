/** The host layer under Pulumi's mocks: which resources exist, with which inputs and options. */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { LabConfigError } from "../components/config";
import { parseLabConfig } from "../components/plan";
import { HOST_PINS } from "../components/pins";
import { fromConfigMap, stackConfigSource } from "../lib/synth/stackfile";
import { hostScript, hostTarget } from "../components/remote";
import type { SynthResult } from "../lib/synth/harness";
import { addMonitoringPi, citadelHost, LAB_SECRETS, labConfigMap, piConfigMap, piRaid } from "./support/lab";
import { byName, dependencyNames, ofType, synthFailure, synthLab } from "./support/synth";
import { requireTool } from "./support/tools";
import { scratchDir } from "./support/scratch";

const REMOTE = "command:remote:Command";
let lab: SynthResult;
beforeAll(async () => {
  lab = await synthLab();
});

const createOf = (name: string) => String(byName(lab, name).rawInputs.create);

describe("every command", () => {
  it("sends no previous output as SSH environment, which sshd would refuse on every update", () => {
    const steps = lab.resources.filter((r) => r.type === REMOTE || r.type === "command:local:Command");
    expect(steps.length).toBeGreaterThan(20);
    for (const r of steps) expect([r.name, r.rawInputs.addPreviousOutputInEnv]).toEqual([r.name, false]);
  });
});

describe("the component tree", () => {
  it("has one Host with Storage, Nvidia and Docker, and vLLM (the LadonStack is tested on its own)", () => {
    const components = lab.resources
      .filter(
        (r) =>
          !r.custom &&
          !r.type.startsWith("citadel:ladon:") &&
          !r.type.startsWith("citadel:ops:") &&
          r.type !== "citadel:host:Firewall",
      )
      .map((r) => `${r.type} ${r.name}`);
    expect(components.sort()).toEqual([
      "citadel:host:Docker citadel-docker",
      "citadel:host:Host citadel",
      "citadel:host:Nvidia citadel-nvidia",
      "citadel:host:Storage citadel-storage",
      "citadel:llm:Vllm vllm",
    ]);
  });

  it("names every child after its component and parents it there", () => {
    for (const r of lab.resources.filter((x) => x.parent && !x.parent.endsWith("pulumi:pulumi:Stack"))) {
      const parent = lab.resources.find((p) => p.urn === r.parent);
      expect(parent).toBeDefined();
      expect(r.name.startsWith(`${parent!.name}-`)).toBe(true);
    }
  });
});

describe("connections", () => {
  const remotes = () => ofType(lab, REMOTE);
  const hostLayer = () =>
    remotes().filter(
      (r) =>
        r.name.startsWith("citadel-") &&
        !r.name.startsWith("citadel-firewall") &&
        !r.name.startsWith("citadel-drift"),
    );

  it("pins the host key and retries dials on every remote command", () => {
    expect(hostLayer().length).toBe(11);
    expect(remotes().length).toBeGreaterThan(11);
    for (const r of remotes()) {
      expect(r.rawInputs.connection).toMatchObject({
        host: "192.168.10.29",
        port: 22,
        user: "hxadmin",
        hostKey: citadelHost(labConfigMap()).ssh.hostKey,
        dialErrorLimit: 10,
        perDialTimeout: 15,
      });
    }
  });

  it("runs every script through passwordless sudo for the non-root admin", () => {
    for (const r of remotes())
      expect(String(r.rawInputs.create)).toMatch(/^sudo -n bash -c "\$\(cat <<'CITADEL_SCRIPT_EOF'\n/);
  });

  it("runs scripts without sudo when the SSH user is root", async () => {
    const config = labConfigMap();
    citadelHost(config).ssh.user = "root";
    citadelHost(config).sudo = "none";
    const result = await synthLab(config);
    for (const r of ofType(result, REMOTE)) expect(String(r.rawInputs.create)).toMatch(/^bash -c /);
  });

  it("passes parameters as exports in the command text, never as SSH environment", () => {
    for (const r of remotes()) expect(r.rawInputs.environment).toBeUndefined();
    expect(createOf("citadel-storage-lvm")).toContain(
      "export TARGET='3298534883328'\nexport VG='ubuntu-vg'\n",
    );
  });

  it("uses the private key secret only when a host asks for it, and keeps it secret", async () => {
    const config = labConfigMap();
    citadelHost(config).ssh.auth = "privateKey";
    const result = await synthLab(config);
    expect(result.placeholders).toEqual([...LAB_SECRETS, "sshPrivateKey"].sort());
    const lvm = byName(result, "citadel-storage-lvm");
    // The SDK marks the whole connection secret; out/ shows where it goes and masks the key only.
    expect(lvm.inputs.connection).toMatchObject({
      host: "192.168.10.29",
      user: "hxadmin",
      privateKey: "[secret]",
    });
    expect(lvm.secretInputs).toContain("connection");
    expect((lvm.rawInputs.connection as Record<string, unknown>).privateKey).toBe(
      "PLACEHOLDER-citadel-sshPrivateKey-set-by-npm-start-0",
    );
    expect(JSON.stringify(result.resources.map((r) => r.inputs))).not.toContain("PLACEHOLDER");
  });
});

describe("Storage", () => {
  const storage = () =>
    ["citadel-storage-lvm", "citadel-storage-disk-data", "citadel-storage-disk-backup"].map((n) =>
      byName(lab, n),
    );

  it("protects every storage step and retains it on delete, with no delete script", () => {
    for (const r of storage()) {
      expect(r.protect).toBe(true);
      expect(r.retainOnDelete).toBe(true);
      expect(r.rawInputs.delete).toBeUndefined();
      expect(r.rawInputs.update).toBeUndefined();
    }
  });

  it("has no content triggers, so a change updates in place instead of replacing a protected step", () => {
    for (const r of storage()) expect(r.rawInputs.triggers).toBeUndefined();
  });

  it("hands each disk its device, label, mount and the PV to keep away from", () => {
    const data = createOf("citadel-storage-disk-data");
    expect(data).toContain("export DEVICE='/dev/nvme1n1'");
    expect(data).toContain("export LABEL='data'");
    expect(data).toContain("export MOUNT_OPTIONS='defaults,noatime'");
    expect(data).toContain("export MOUNT_POINT='/srv/data'");
    expect(data).toContain("export PROTECTED_DEVICES='/dev/nvme0n1p3'");
  });

  it("grows into all free space when asked", async () => {
    const config = labConfigMap();
    citadelHost(config).storage.lvm.size = "all-free";
    expect(String(byName(await synthLab(config), "citadel-storage-lvm").rawInputs.create)).toContain(
      "export TARGET='all-free'",
    );
  });
});

describe("Storage: RAID arrays (the monitoring Pi's example stack)", () => {
  let pi: SynthResult;
  beforeAll(async () => {
    pi = await synthLab(piConfigMap());
  });
  const createIn = (result: SynthResult, name: string) => String(byName(result, name).rawInputs.create);

  it("prepares each array in a protected, retained step with no delete script and no trigger", () => {
    const raid = byName(pi, "pi-storage-raid-ladon");
    expect(raid.protect).toBe(true);
    expect(raid.retainOnDelete).toBe(true);
    expect(raid.rawInputs.delete).toBeUndefined();
    expect(raid.rawInputs.update).toBeUndefined();
    expect(raid.rawInputs.triggers).toBeUndefined();
    expect(raid.dependsOn).toEqual([]);
  });

  it("hands the script its level, members, filesystem, mount and the config key its messages name", () => {
    const create = createIn(pi, "pi-storage-raid-ladon");
    expect(create).toContain("# citadel script: host/scripts/prepare-raid.sh");
    expect(create).toContain("export LEVEL='10'");
    expect(create).toContain(
      "export MEMBERS='/dev/disk/by-id/ata-HAT_SSD_BAY1_SERIAL_UNRECORDED /dev/disk/by-id/ata-HAT_SSD_BAY2_SERIAL_UNRECORDED /dev/disk/by-id/ata-HAT_SSD_BAY3_SERIAL_UNRECORDED /dev/disk/by-id/ata-HAT_SSD_BAY4_SERIAL_UNRECORDED'",
    );
    expect(create).toContain("export NAME='ladon'");
    expect(create).toContain("export MOUNT_POINT='/srv/ladon'");
    expect(create).toContain("export MOUNT_OPTIONS='defaults,noatime'");
    expect(create).toContain("export KEY='citadel:hosts.pi.storage.raids[0]'");
    expect(create).toContain(`export MEMBER_SIZE_BYTES='${1024 ** 4}'`);
  });

  it("makes Docker, and the LadonStack services' data steps, wait for the array that holds their data", () => {
    expect(dependencyNames(pi, byName(pi, "pi-docker-daemon"))).toContain("pi-storage-raid-ladon");
    expect(dependencyNames(pi, byName(pi, "ladon-pi-prometheus-config"))).toContain("pi-storage-raid-ladon");
  });

  it("installs the monthly scrub timer after the arrays, replacing Ubuntu's own md check timers", () => {
    const scrub = byName(pi, "pi-storage-scrub");
    expect(dependencyNames(pi, scrub)).toEqual(["pi-storage-raid-ladon"]);
    expect(scrub.protect).toBe(false);
    const create = createIn(pi, "pi-storage-scrub");
    expect(create).toContain("export NAME='citadel-raid-scrub'");
    expect(create).toContain("export REPLACES='mdcheck_start.timer mdcheck_continue.timer'");
    expect(pi.files.get("pi/etc/systemd/system/citadel-raid-scrub.timer")).toContain(
      "OnCalendar=Sun *-*-1..7 01:00:00",
    );
    expect(pi.files.get("pi/usr/local/lib/citadel/citadel-raid-scrub.sh")).toContain(
      "export TEXTFILE_DIR='/var/lib/node_exporter/textfile'",
    );
  });

  it("renders scrub units that pass systemd-analyze verify, with no warnings", () => {
    requireTool("systemd-analyze");
    const d = scratchDir("citadel-scrub-");
    const script = path.join(d, "citadel-raid-scrub.sh");
    writeFileSync(script, pi.files.get("pi/usr/local/lib/citadel/citadel-raid-scrub.sh")!, { mode: 0o755 });
    for (const unit of ["service", "timer"]) {
      const text = pi.files.get(`pi/etc/systemd/system/citadel-raid-scrub.${unit}`)!;
      writeFileSync(
        path.join(d, `citadel-raid-scrub.${unit}`),
        text.replace("/usr/local/lib/citadel/citadel-raid-scrub.sh", script),
      );
    }
    const r = spawnSync(
      "systemd-analyze",
      ["verify", "citadel-raid-scrub.service", "citadel-raid-scrub.timer"],
      {
        cwd: d,
        encoding: "utf8",
      },
    );
    expect(r.stderr + r.stdout).toBe("");
    expect(r.status).toBe(0);
  });

  it("puts the scrub on the schedule in config, and no timer on a host without arrays", async () => {
    const config = piConfigMap();
    config["citadel:hosts"].pi.storage.scrubSchedule = "Sat *-*-8..14 02:30:00";
    const moved = await synthLab(config);
    expect(moved.files.get("pi/etc/systemd/system/citadel-raid-scrub.timer")).toContain(
      "OnCalendar=Sat *-*-8..14 02:30:00",
    );
    expect(lab.resources.some((r) => r.name.endsWith("-scrub"))).toBe(false);
    expect([...lab.files.keys()].some((f) => f.includes("raid-scrub"))).toBe(false);
  });

  it("adopts by the UUID in config, and names the array after its label when it has no name", async () => {
    const config = piConfigMap();
    delete piRaid(config).name;
    piRaid(config).label = "monitoring";
    piRaid(config).uuid = "3b2a6f1e:9c0d4e7a:51f2b8c3:6d7e8f90";
    const result = await synthLab(config);
    const create = createIn(result, "pi-storage-raid-monitoring");
    expect(create).toContain("export NAME='monitoring'");
    expect(create).toContain("export UUID='3b2a6f1e:9c0d4e7a:51f2b8c3:6d7e8f90'");
  });

  it("outputs each array per host, for npm start and the stack outputs", () => {
    expect(pi.outputs.hosts).toMatchObject({
      pi: {
        mounts: ["/srv/ladon"],
        raids: [
          {
            name: "ladon",
            level: 10,
            mountPoint: "/srv/ladon",
            members: expect.arrayContaining(["/dev/disk/by-id/ata-HAT_SSD_BAY1_SERIAL_UNRECORDED"]),
          },
        ],
      },
    });
    expect(lab.outputs.hosts).toMatchObject({ citadel: { raids: [] } });
  });

  it("protects only the array step: the scrub timer only reads", () => {
    expect(pi.resources.filter((r) => r.protect).map((r) => r.name)).toEqual(["pi-storage-raid-ladon"]);
  });
});

describe("Nvidia", () => {
  it("pins the driver branch, toolkit version and kernel arguments", () => {
    expect(createOf("citadel-nvidia-driver")).toContain("export DRIVER_BRANCH='580'");
    expect(createOf("citadel-nvidia-toolkit")).toContain(
      `export TOOLKIT_VERSION='${HOST_PINS.nvidiaToolkit}'`,
    );
    expect(createOf("citadel-nvidia-iommu")).toContain("export KERNEL_ARGS='intel_iommu=on iommu=pt'");
    expect(createOf("citadel-nvidia-reboot")).toContain("export ALLOW_REBOOT='false'");
    expect(createOf("citadel-nvidia-verify")).toContain("export GPU_COUNT='2'");
  });

  it("reboots only after every step that may need it and the host's storage and engine steps, then waits, then verifies", () => {
    expect(dependencyNames(lab, byName(lab, "citadel-nvidia-reboot"))).toEqual([
      "citadel-docker-engine",
      "citadel-nvidia-driver",
      "citadel-nvidia-iommu",
      "citadel-nvidia-toolkit",
      "citadel-storage-disk-backup",
      "citadel-storage-disk-data",
      "citadel-storage-lvm",
    ]);
    expect(dependencyNames(lab, byName(lab, "citadel-nvidia-wait"))).toEqual(["citadel-nvidia-reboot"]);
    expect(dependencyNames(lab, byName(lab, "citadel-nvidia-verify"))).toEqual(["citadel-nvidia-wait"]);
  });

  it("never runs a step while the host reboots: every step comes before the reboot or after it", () => {
    // The e2e tier saw the reboot cut off the Docker daemon step's restart (docs/e2e.md). A step
    // runs at the same time as another when neither depends on the other, through dependsOn
    // (a dependency on a component counts as one on everything under it).
    const byUrn = new Map(lab.resources.map((r) => [r.urn, r]));
    const under = (urn: string): string[] => [
      urn,
      ...lab.resources.filter((r) => r.parent === urn).flatMap((r) => under(r.urn)),
    ];
    const memo = new Map<string, Set<string>>();
    const before = (urn: string): Set<string> => {
      const known = memo.get(urn);
      if (known) return known;
      const out = new Set<string>();
      memo.set(urn, out);
      for (const d of byUrn.get(urn)?.dependsOn.flatMap(under) ?? []) {
        out.add(d);
        for (const a of before(d)) out.add(a);
      }
      return out;
    };
    const reboot = byName(lab, "citadel-nvidia-reboot").urn;
    const steps = lab.resources.filter((r) =>
      /^(command:|docker:index\/(container|remoteImage|network))/.test(r.type),
    );
    const alongside = steps
      .filter((r) => r.urn !== reboot && !before(r.urn).has(reboot) && !before(reboot).has(r.urn))
      .map((r) => r.name);
    expect(alongside).toEqual([]);
    expect(steps.length).toBeGreaterThan(50);
  });

  it("waits for the reboot from the pulumi machine with the pinned host key", () => {
    const wait = String(byName(lab, "citadel-nvidia-wait").rawInputs.create);
    expect(wait).toMatch(/^bash -c /);
    expect(wait).toContain(`export HOST_KEY='${citadelHost(labConfigMap()).ssh.hostKey}'`);
  });
});

describe("Docker", () => {
  it("renders daemon.json with log rotation, live-restore, data-root and the nvidia runtime", () => {
    expect(JSON.parse(lab.files.get("citadel/etc/docker/daemon.json")!)).toEqual({
      "data-root": "/srv/data/docker",
      "live-restore": true,
      "log-driver": "json-file",
      "log-opts": { "max-file": "5", "max-size": "50m" },
      runtimes: { nvidia: { args: [], path: "nvidia-container-runtime" } },
    });
  });

  it("configures the daemon after the engine, the data-root's disk and the NVIDIA chain's verification, and nothing else", () => {
    expect(dependencyNames(lab, byName(lab, "citadel-docker-daemon"))).toEqual([
      "citadel-docker-engine",
      "citadel-nvidia-verify",
      "citadel-storage-disk-data",
    ]);
  });

  it("verifies docker info against the pinned version and data-root", () => {
    const verify = createOf("citadel-docker-verify");
    expect(verify).toContain(`export DOCKER_VERSION='${HOST_PINS.dockerEngine}'`);
    expect(verify).toContain("export EXPECT_NVIDIA='true'");
  });
});

describe("parallel where independent", () => {
  it("starts the driver, disks, LVM, IOMMU, toolkit and engine without waiting on each other", () => {
    for (const name of [
      "citadel-nvidia-driver",
      "citadel-nvidia-iommu",
      "citadel-nvidia-toolkit",
      "citadel-docker-engine",
      "citadel-storage-lvm",
      "citadel-storage-disk-data",
      "citadel-storage-disk-backup",
    ]) {
      expect(byName(lab, name).dependsOn).toEqual([]);
    }
  });
});

describe("hosts without GPUs or Docker", () => {
  it("gets only the layers its config declares", async () => {
    const config = labConfigMap();
    addMonitoringPi(config);
    const result = await synthLab(config);
    expect(
      result.resources
        .filter((r) => r.name.startsWith("pi"))
        .map((r) => r.name)
        .sort(),
      // The firewall is host-level: every host gets one when ops.firewall is set; every host
      // checks itself hourly (the drift timer).
    ).toEqual([
      "pi",
      "pi-drift",
      "pi-drift-packages",
      "pi-drift-timer",
      "pi-firewall",
      "pi-firewall-ufw",
      "pi-storage",
    ]);
    expect(result.outputs.hosts).toMatchObject({
      pi: { address: "192.168.10.40", gpuCount: 0, dockerVersion: null },
    });
  });
});

describe("invalid config", () => {
  it("registers no resource at all", async () => {
    const config = labConfigMap();
    citadelHost(config).address = "192.168.10.299";
    const failure = await synthFailure(config);
    expect(failure.cause).toBeInstanceOf(LabConfigError);
    expect(failure.registered).toBe(0);
    expect(failure.message).toContain("Invalid lab config in Pulumi.citadel.yaml (1 problem)");
  });
});

describe("scripts that carry secrets", () => {
  it("feed secrets on stdin, log nothing and mark stdout and stderr secret", async () => {
    const result = await synthLab(labConfigMap(), () => {
      const { lab: parsed } = parseLabConfig(stackConfigSource(fromConfigMap(labConfigMap()), LAB_SECRETS));
      const target = hostTarget("citadel", parsed.hosts.citadel!);
      hostScript(
        "secret-step",
        {
          host: target,
          script: "host/scripts/nvidia-iommu.sh",
          params: { KERNEL_ARGS: "" },
          secrets: { API_TOKEN: pulumi.secret("s3cr3t-value") },
        },
        {},
      );
      return {};
    });
    const step = byName(result, "secret-step");
    expect(step.inputs.stdin).toBe("[secret]");
    expect(step.rawInputs.stdin).toBe("s3cr3t-value\n");
    expect(step.rawInputs.logging).toBe("none");
    expect(step.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    expect(String(step.rawInputs.create)).not.toContain("s3cr3t-value");
    expect(String(step.rawInputs.create)).toContain("IFS= read -r API_TOKEN || true; export API_TOKEN");
    expect([...result.files.values()].join("\n")).not.toContain("s3cr3t-value");
  });
});
