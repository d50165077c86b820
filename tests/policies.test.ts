/** citadel-guard: each policy on fixtures, the whole lab, mutated plans, and the pack's shape. */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { validateWorkflow } from "@action-validator/core";
import { stringify } from "yaml";
import { POLICIES } from "../policies/policies";
import { disallowHiddenImagePaths, hides } from "../policies/rules/disallow-hidden-image-paths";
import { disallowPlaintextSecrets } from "../policies/rules/disallow-plaintext-secrets";
import { disallowPrivilegedContainers } from "../policies/rules/disallow-privileged-containers";
import { enforceMonitoringPortRange } from "../policies/rules/enforce-monitoring-port-range";
import { enforcePinnedImages } from "../policies/rules/enforce-pinned-images";
import { enforceRetentionLimits } from "../policies/rules/enforce-retention-limits";
import { enforceUniqueHostPorts } from "../policies/rules/enforce-unique-host-ports";
import { preferImageDigests } from "../policies/rules/prefer-image-digests";
import { protectStorageCommands } from "../policies/rules/protect-storage-commands";
import { requireAdminAuth } from "../policies/rules/require-admin-auth";
import { requireBackupCoverage } from "../policies/rules/require-backup-coverage";
import { requireContainerResilience } from "../policies/rules/require-container-resilience";
import { requireFittingVramPlan } from "../policies/rules/require-fitting-vram-plan";
import { requireGpuRequests } from "../policies/rules/require-gpu-requests";
import { requirePinnedHostKeys } from "../policies/rules/require-pinned-host-keys";
import { requireScrapeCoverage } from "../policies/rules/require-scrape-coverage";
import { coversSubnet, protectDataChangingPorts } from "../policies/rules/protect-data-changing-ports";
import { runPolicies } from "../lib/synth/policies";
import type { ResourceRecord, SynthResult } from "../lib/synth/harness";
import { labConfigMap } from "./support/lab";
import { resourceViolations, stackViolations, type Fixture } from "./support/policy";
import { synthLab } from "./support/synth";
import { requireTool } from "./support/tools";

const ROOT = path.join(__dirname, "..");
const CONTAINER = "docker:index/container:Container";
const COMMAND = "command:remote:Command";
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIClq3XRqojEmRblt5PaHpmflgYxx65bhcaK3Myhm22e2";

const container = (props: Record<string, any> = {}, name = "grafana"): Fixture => ({
  type: CONTAINER,
  name: `${name}-container`,
  props: {
    name,
    image: "grafana/grafana:12.2.1",
    restart: "unless-stopped",
    memory: 512,
    logDriver: "json-file",
    logOpts: { "max-file": "5", "max-size": "50m" },
    healthcheck: { tests: ["CMD", "wget", "-q", "--spider", "http://127.0.0.1:3000/api/health"] },
    labels: [{ label: "org.hana-x.citadel.service", value: name }],
    ports: [{ internal: 3000, external: 9900 }],
    envs: [
      "GF_AUTH_ANONYMOUS_ENABLED=false",
      "GF_USERS_ALLOW_SIGN_UP=false",
      "GF_SECURITY_ADMIN_PASSWORD__FILE=/etc/grafana/secrets/admin_password",
    ],
    ...props,
  },
  provider: { type: "pulumi:providers:docker", props: { host: "ssh://hxadmin@192.168.10.29:22" } },
});
const command = (create: string, props: Record<string, any> = {}, protect = false): Fixture => ({
  type: COMMAND,
  name: "step",
  props: { connection: { host: "192.168.10.29", hostKey: KEY }, create, ...props },
  protect,
});
const vllm = (command: string[], props: Record<string, any> = {}) =>
  container(
    {
      image: "vllm/vllm-openai:v0.11.0",
      command: [
        "Qwen/Qwen3-8B",
        "--max-model-len",
        "32768",
        "--gpu-memory-utilization",
        "0.9",
        "--kv-cache-dtype",
        "auto",
        ...command,
      ],
      gpus: "all",
      envs: ["VLLM_API_KEY=0123456789abcdef"],
      labels: [{ label: "org.hana-x.citadel.service", value: "vllm" }],
      ports: [{ internal: 8000, external: 8000 }],
      ...props,
    },
    "vllm",
  );
const rv = resourceViolations;
const sv = stackViolations;

describe("enforce-pinned-images", () => {
  it("passes a tagged image and a digest, and names the fix for latest or no tag", async () => {
    expect(
      await rv(enforcePinnedImages, {
        type: "docker:index/remoteImage:RemoteImage",
        props: { name: "prom/prometheus:v3.7.3" },
      }),
    ).toEqual([]);
    expect(await rv(enforcePinnedImages, container({ image: "sha256:" + "a".repeat(64) }))).toEqual([]);
    expect(
      await rv(enforcePinnedImages, {
        type: "docker:index/remoteImage:RemoteImage",
        props: { name: "prom/prometheus:latest" },
      }),
    ).toEqual([
      "prom/prometheus:latest uses the latest tag; pin a version such as repo/name:v1.2.3 (a @sha256 digest is better).",
    ]);
    expect(
      await rv(enforcePinnedImages, {
        type: "docker:index/remoteImage:RemoteImage",
        props: { name: "localhost:5000/prometheus" },
      }),
    ).toEqual([
      "localhost:5000/prometheus has no tag, so it means latest; pin a version such as repo/name:v1.2.3 (a @sha256 digest is better).",
    ]);
  });
});

describe("prefer-image-digests", () => {
  it("asks for a digest on a tag-only image", async () => {
    const image = {
      type: "docker:index/remoteImage:RemoteImage",
      props: { name: `prom/prometheus:v3.7.3@sha256:${"b".repeat(64)}` },
    };
    expect(await rv(preferImageDigests, image)).toEqual([]);
    expect(await rv(preferImageDigests, { ...image, props: { name: "prom/prometheus:v3.7.3" } })).toEqual([
      "prom/prometheus:v3.7.3 is pinned by tag only; append @sha256:<digest> once you have pulled it.",
    ]);
  });
});

describe("require-container-resilience", () => {
  it("passes the fixture and names each missing safeguard", async () => {
    expect(await rv(requireContainerResilience, container())).toEqual([]);
    expect(await rv(requireContainerResilience, container({ restart: "no" }))).toEqual([
      'container grafana has restart "no"; use unless-stopped.',
    ]);
    expect(await rv(requireContainerResilience, container({ healthcheck: undefined }))).toEqual([
      "container grafana has no healthcheck; add one that proves it is ready, not just running.",
    ]);
    // The GPU exporter's image has no shell, HTTP client or health command (components/pins.ts).
    const gpu = container({
      healthcheck: undefined,
      labels: [{ label: "org.hana-x.citadel.service", value: "gpuExporter" }],
    });
    expect(await rv(requireContainerResilience, gpu)).toEqual([]);
    expect(await rv(requireContainerResilience, container({ memory: 0 }))).toEqual([
      "container grafana has no memory limit; set one so it cannot exhaust the host's RAM.",
    ]);
    expect(await rv(requireContainerResilience, container({ logOpts: {} }))).toEqual([
      "container grafana does not rotate its logs (driver json-file); set log-opts max-size and max-file.",
    ]);
  });
});

describe("disallow-hidden-image-paths", () => {
  const phoenix = (containerPath: string) =>
    container(
      {
        labels: [{ label: "org.hana-x.citadel.service", value: "phoenix" }],
        volumes: [{ hostPath: "/srv/data/ladon/phoenix", containerPath }],
      },
      "phoenix",
    );

  it("refuses a data volume over the directory that holds Phoenix's own Python environment", async () => {
    expect(await rv(disallowHiddenImagePaths, phoenix("/mnt/data"))).toEqual([]);
    const found = await rv(disallowHiddenImagePaths, phoenix("/phoenix"));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(
      /^container phoenix mounts \/phoenix, which hides \/phoenix\/\.venv from its image arizephoenix\/phoenix:version-20\.26\.1 \(Dockerfile/,
    );
  });

  it("counts a mount at the path itself or above it, not beside it", () => {
    expect(hides("/phoenix", "/phoenix/.venv")).toBe(true);
    expect(hides("/phoenix/.venv", "/phoenix/.venv")).toBe(true);
    expect(hides("/", "/bin/prometheus")).toBe(true);
    expect(hides("/phoenix-data", "/phoenix/.venv")).toBe(false);
    expect(hides("/phoenix/.venv2", "/phoenix/.venv")).toBe(false);
  });

  it("passes every container of the lab", async () => {
    const lab = await synthLab();
    for (const r of lab.resources.filter((x) => x.type === CONTAINER)) {
      expect(
        await rv(disallowHiddenImagePaths, { type: CONTAINER, name: r.name, props: r.rawInputs }),
      ).toEqual([]);
    }
  });
});

describe("disallow-privileged-containers", () => {
  it("allows only the listed exporters their privileges", async () => {
    expect(await rv(disallowPrivilegedContainers, container())).toEqual([]);
    expect(await rv(disallowPrivilegedContainers, container({ privileged: true }))).toEqual([
      "container grafana runs with privileged: true; remove it, or allow grafana under privileged in the policy config.",
    ]);
    expect(
      await rv(
        disallowPrivilegedContainers,
        container({
          networkMode: "host",
          pidMode: "host",
          labels: [{ label: "org.hana-x.citadel.service", value: "nodeExporter" }],
        }),
      ),
    ).toEqual([]);
    expect(
      await rv(disallowPrivilegedContainers, container({ privileged: true }), {
        allowed: { privileged: ["grafana"] },
      }),
    ).toEqual([]);
  });
});

describe("require-gpu-requests", () => {
  it("requires GPUs for vLLM and a tensor-parallel size within them", async () => {
    expect(await rv(requireGpuRequests, vllm(["--tensor-parallel-size", "2"]))).toEqual([]);
    expect(await rv(requireGpuRequests, vllm(["--tensor-parallel-size", "2"], { gpus: undefined }))).toEqual([
      'container vllm runs a GPU workload but requests no GPUs; set gpus to "all" or a device list.',
    ]);
    expect(
      await rv(requireGpuRequests, vllm(["--tensor-parallel-size", "2"], { gpus: '"device=1"' })),
    ).toEqual([
      "container vllm has --tensor-parallel-size 2 but requests 1 GPUs; lower it to 1 or request more.",
    ]);
    expect(await rv(requireGpuRequests, container())).toEqual([]);
  });
});

describe("enforce-unique-host-ports", () => {
  it("fails two containers on one host with one port, and allows it on two hosts", async () => {
    const a = container({ name: "grafana" });
    const b = container(
      { name: "phoenix", labels: [{ label: "org.hana-x.citadel.service", value: "phoenix" }] },
      "phoenix",
    );
    expect(
      await sv(enforceUniqueHostPorts, [
        a,
        { ...b, props: { ...b.props, ports: [{ internal: 6006, external: 9905 }] } },
      ]),
    ).toEqual([]);
    expect(await sv(enforceUniqueHostPorts, [a, b])).toEqual([
      "port 9900 on 192.168.10.29 is taken by both grafana and phoenix; give one of them another port.",
    ]);
    const elsewhere = {
      ...b,
      provider: { type: "pulumi:providers:docker", props: { host: "ssh://pi@192.168.10.40:22" } },
    };
    expect(await sv(enforceUniqueHostPorts, [a, elsewhere])).toEqual([]);
  });
});

describe("enforce-monitoring-port-range", () => {
  it("keeps monitoring ports in 9900-9999 and lets vLLM keep its own", async () => {
    expect(await rv(enforceMonitoringPortRange, container())).toEqual([]);
    expect(
      await rv(enforceMonitoringPortRange, container({ ports: [{ internal: 3000, external: 3000 }] })),
    ).toEqual(["container grafana publishes port 3000, outside the monitoring range 9900-9999."]);
    expect(await rv(enforceMonitoringPortRange, vllm([]))).toEqual([]);
  });
});

describe("require-admin-auth", () => {
  const phoenix = (envs: string[]) =>
    container({ envs, labels: [{ label: "org.hana-x.citadel.service", value: "phoenix" }] }, "phoenix");
  const goodPhoenix = [
    "PHOENIX_ENABLE_AUTH=True",
    `PHOENIX_SECRET=${"s".repeat(31)}0`,
    "PHOENIX_DEFAULT_ADMIN_INITIAL_PASSWORD=long-enough-password",
  ];
  const adminStep = (password: string) =>
    command("export SECRET_PATH='/etc/citadel/grafana/secrets/admin_password'\n", { stdin: `${password}\n` });

  it("passes Grafana, Phoenix and vLLM configured with auth", async () => {
    expect(await rv(requireAdminAuth, container())).toEqual([]);
    expect(await rv(requireAdminAuth, phoenix(goodPhoenix))).toEqual([]);
    expect(await rv(requireAdminAuth, vllm([]))).toEqual([]);
    expect(await rv(requireAdminAuth, adminStep("a-strong-password-here"))).toEqual([]);
  });

  it("names each hole", async () => {
    expect(
      await rv(
        requireAdminAuth,
        container({
          envs: [
            "GF_AUTH_ANONYMOUS_ENABLED=true",
            "GF_USERS_ALLOW_SIGN_UP=false",
            "GF_SECURITY_ADMIN_PASSWORD__FILE=/x",
          ],
        }),
      ),
    ).toEqual(["Grafana allows anonymous access; set GF_AUTH_ANONYMOUS_ENABLED=false."]);
    expect(
      await rv(
        requireAdminAuth,
        container({ envs: ["GF_AUTH_ANONYMOUS_ENABLED=false", "GF_USERS_ALLOW_SIGN_UP=false"] }),
      ),
    ).toEqual(["Grafana's admin password is not set, so it is the default admin/admin."]);
    expect(await rv(requireAdminAuth, adminStep("admin"))).toEqual([
      "Grafana's admin password is a default or well-known password; set a strong one with pulumi config set --secret citadel:grafanaAdminPassword.",
    ]);
    expect(
      await rv(requireAdminAuth, phoenix(["PHOENIX_ENABLE_AUTH=False", ...goodPhoenix.slice(1)])),
    ).toEqual(["Phoenix runs without auth; set PHOENIX_ENABLE_AUTH=True."]);
    expect(
      await rv(requireAdminAuth, phoenix([goodPhoenix[0]!, "PHOENIX_SECRET=short", goodPhoenix[2]!])),
    ).toEqual(["PHOENIX_SECRET is missing or shorter than 32 characters, so Phoenix refuses to start."]);
    // Long enough is not enough: Phoenix also wants a digit and a lowercase letter.
    expect(
      await rv(
        requireAdminAuth,
        phoenix([goodPhoenix[0]!, `PHOENIX_SECRET=${"s".repeat(40)}`, goodPhoenix[2]!]),
      ),
    ).toEqual(["PHOENIX_SECRET has no digit, so Phoenix refuses to start."]);
    expect(
      await rv(
        requireAdminAuth,
        phoenix([goodPhoenix[0]!, `PHOENIX_SECRET=${"S".repeat(39)}0`, goodPhoenix[2]!]),
      ),
    ).toEqual(["PHOENIX_SECRET has no lowercase letter, so Phoenix refuses to start."]);
    expect(await rv(requireAdminAuth, vllm([], { envs: [] }))).toEqual([
      "vLLM's OpenAI API has no API key; set VLLM_API_KEY from the secret citadel:vllmApiKey.",
    ]);
  });
});

describe("disallow-plaintext-secrets", () => {
  it("allows secrets in a container's environment and a script's stdin, nowhere else", async () => {
    expect(await rv(disallowPlaintextSecrets, vllm([]))).toEqual([]);
    expect(
      await rv(
        disallowPlaintextSecrets,
        command("IFS= read -r API_TOKEN || true; export API_TOKEN\n", { stdin: "x\n" }),
      ),
    ).toEqual([]);
    expect(await rv(disallowPlaintextSecrets, vllm(["--api-key=abc"]))).toEqual([
      "container vllm passes --api-key on its command line, where ps and docker inspect show it; use an environment variable.",
    ]);
    expect(await rv(disallowPlaintextSecrets, command("export DB_PASSWORD='hunter2'\n"))).toEqual([
      "command step puts DB_PASSWORD in its command text, which a failing command prints; pass secrets on stdin (hostScript's secrets).",
    ]);
    expect(await rv(disallowPlaintextSecrets, command("true", { environment: { API_TOKEN: "x" } }))).toEqual([
      "command step sets API_TOKEN in its environment, which the command provider does not keep secret.",
    ]);
    expect(
      await rv(disallowPlaintextSecrets, {
        type: "grafana:oss/dataSource:DataSource",
        name: "ds",
        props: { jsonDataEncoded: '{"password":"x"}' },
      }),
    ).toEqual(["datasource ds keeps password in jsonDataEncoded; move it to secureJsonDataEncoded."]);
  });
});

describe("require-pinned-host-keys", () => {
  it("requires a well-formed host key on every remote command", async () => {
    expect(await rv(requirePinnedHostKeys, command("true"))).toEqual([]);
    expect(
      await rv(requirePinnedHostKeys, command("true", { connection: { host: "192.168.10.29" } })),
    ).toEqual([
      "step connects to 192.168.10.29 without a pinned host key; set hosts.<name>.ssh.hostKey from ssh-keyscan.",
    ]);
  });
});

describe("protect-storage-commands", () => {
  it("requires protection on commands that format or grow storage, and no destructive delete", async () => {
    expect(await rv(protectStorageCommands, command("mkfs.ext4 -L data /dev/sda", {}, true))).toEqual([]);
    expect(await rv(protectStorageCommands, command("apt-get install jq"))).toEqual([]);
    expect(await rv(protectStorageCommands, command("lvextend -L 3T /dev/ubuntu-vg/ubuntu-lv"))).toEqual([
      "command step formats disks or changes LVM but is not protected; set protect: true.",
    ]);
    expect(
      await rv(protectStorageCommands, command("mkfs.ext4 /dev/sda", { delete: "wipefs -a /dev/sda" }, true)),
    ).toEqual(["command step has a delete script that destroys data; remove it."]);
  });

  it("treats creating an md array as storage, and stopping or wiping one in a delete script as destruction", async () => {
    const create =
      "mdadm --create /dev/md/ladon --run --level=10 --raid-devices=4 /dev/sda /dev/sdb /dev/sdc /dev/sdd";
    expect(await rv(protectStorageCommands, command(create, {}, true))).toEqual([]);
    expect(await rv(protectStorageCommands, command(create))).toEqual([
      "command step formats disks or changes LVM but is not protected; set protect: true.",
    ]);
    expect(
      await rv(
        protectStorageCommands,
        command(create, { delete: "mdadm --stop /dev/md/ladon && mdadm --zero-superblock /dev/sda" }, true),
      ),
    ).toEqual(["command step has a delete script that destroys data; remove it."]);
    // The scrub timer only reads the arrays.
    expect(await rv(protectStorageCommands, command("echo check > /sys/block/md127/md/sync_action"))).toEqual(
      [],
    );
  });
});

describe("require-fitting-vram-plan", () => {
  it("counts fp8_per_tensor, the name vLLM 0.34.0 renders for online fp8, as 8-bit weights", async () => {
    // The lab's chat server as the program renders it: Qwen3-8B on one GPU, whose bf16 weights
    // (15.26 GiB) would not fit.
    const lab = await synthLab();
    const command = lab.resources.find((r) => r.name === "vllm-chat-container")?.rawInputs
      .command as string[];
    expect(command).toEqual(expect.arrayContaining(["--quantization", "fp8_per_tensor"]));
    expect(await sv(requireFittingVramPlan, [vllm([], { command })])).toEqual([]);
  });

  it("re-checks the plan from the container's own flags", async () => {
    expect(await sv(requireFittingVramPlan, [vllm(["--tensor-parallel-size", "2"])])).toEqual([]);
    const [message] = await sv(requireFittingVramPlan, [vllm(["--tensor-parallel-size", "1"])]);
    expect(message).toBe(
      'vLLM could not start Qwen/Qwen3-8B on 2 GPU(s): the weights need 15.26 GiB per GPU at TP=1, plus a 2.5 GiB reserve, but of each GPU\'s 15.6 GiB (the total cudaMemGetInfo reports) vLLM takes 14.04 GiB at gpu-memory-utilization 0.9. Fix: spread the model over more GPUs (vllm.gpus, vllm.tensorParallelSize); or set vllm.quantization to "fp8_per_tensor" to halve the weights; or serve a quantized build of the model (AWQ/GPTQ 4-bit)',
    );
    expect(
      await sv(requireFittingVramPlan, [
        vllm(["--tensor-parallel-size", "2"], {
          command: ["--model", "acme/unknown", "--max-model-len", "4096"],
        }),
      ]),
    ).toEqual([
      "cannot check acme/unknown: it is not in the built-in catalog; add its facts under modelFacts in the policy config.",
    ]);
  });
});

const filesStep = (dir: string, files: Record<string, string>) =>
  command(`export CONFIG_DIR='${dir}'\nexport FILES='${JSON.stringify(files)}'\n`);

describe("require-scrape-coverage", () => {
  const withMetrics = container({
    labels: [
      { label: "org.hana-x.citadel.service", value: "grafana" },
      { label: "org.hana-x.citadel.metrics-port", value: "3000" },
    ],
  });
  it("requires a scrape target for every container that exposes metrics", async () => {
    const scraped = filesStep("/etc/citadel/prometheus", {
      "prometheus.yml":
        "scrape_configs:\n  - job_name: grafana\n    static_configs:\n      - targets: [grafana:3000]\n",
    });
    expect(await sv(requireScrapeCoverage, [withMetrics, scraped])).toEqual([]);
    const blind = filesStep("/etc/citadel/prometheus", { "prometheus.yml": "scrape_configs: []\n" });
    expect(await sv(requireScrapeCoverage, [withMetrics, blind])).toEqual([
      "grafana exposes metrics on port 3000 but Prometheus scrapes none of grafana:3000, 192.168.10.29:9900.",
    ]);
  });
});

describe("enforce-retention-limits", () => {
  const container_ = container(
    { command: [], labels: [{ label: "org.hana-x.citadel.service", value: "prometheus" }] },
    "prometheus",
  );
  /** The Prometheus container and its config step, retention in prometheus.yml as given. */
  const prometheus = (retention: Record<string, string>) => [
    container_,
    filesStep("/etc/citadel/prometheus", {
      "prometheus.yml": stringify({ global: {}, storage: { tsdb: { retention } } }),
    }),
  ];
  const loki = filesStep("/etc/citadel/loki", {
    "loki.yaml": "compactor:\n  retention_enabled: true\n  delete_request_store: filesystem\n",
    "runtime.yaml": "overrides:\n  fake:\n    retention_period: 744h\n",
  });
  const disk = command("export MOUNT_POINT='/srv/data'\nexport SIZE_BYTES='1099511627776'\n");
  // The stack's textfile timer step, as the engine shows it: its script is a quoted parameter.
  const timer = command(
    [
      "export SCRIPT='export DATA_DIR='\\''/srv/data/ladon'\\''",
      "export LOKI_DAILY_BYTES='\\''1073741824'\\'''",
      "",
    ].join("\n"),
  );
  const flags = { time: "30d", size: "50GB" };

  it("passes set retention that fits the volume", async () => {
    expect(await sv(enforceRetentionLimits, [...prometheus(flags), loki, disk, timer])).toEqual([]);
  });

  it("fails missing retention, and retention larger than the volume allows", async () => {
    expect(await sv(enforceRetentionLimits, [...prometheus({ time: "30d" }), loki, disk, timer])).toEqual([
      "Prometheus has no storage.tsdb.retention.size in prometheus.yml; set ladon.prometheus.retentionSize.",
    ]);
    // The deprecated flag no longer counts: the program renders retention into prometheus.yml.
    const flagged = container(
      {
        command: ["--storage.tsdb.retention.time=30d", "--storage.tsdb.retention.size=50GB"],
        labels: [{ label: "org.hana-x.citadel.service", value: "prometheus" }],
      },
      "prometheus",
    );
    expect(await sv(enforceRetentionLimits, [flagged, loki, disk, timer])).toHaveLength(2);
    const big = { time: "30d", size: "900GB" };
    expect(await sv(enforceRetentionLimits, [...prometheus(big), loki, disk, timer])).toEqual([
      "Prometheus and Loki plan 931.0 GiB on /srv/data, more than 80% of its 1024.0 GiB; lower their retention.",
    ]);
  });

  it("sizes a RAID array from its level, member count and member size", async () => {
    const raid = (level: number, members: number, memberGiB: number) =>
      command(
        [
          "export LEVEL='" + level + "'",
          `export MEMBERS='${Array.from({ length: members }, (_, i) => `/dev/sd${"abcdefgh"[i]}`).join(" ")}'`,
          `export MEMBER_SIZE_BYTES='${memberGiB * 1024 ** 3}'`,
          "export MOUNT_POINT='/srv/data'",
          "",
        ].join("\n"),
      );
    // 81 GiB planned: RAID10 of 4 x 64 GiB gives 128 GiB (102.4 usable), RAID5 of 3 x 32 GiB gives 64 (51.2).
    expect(await sv(enforceRetentionLimits, [...prometheus(flags), loki, raid(10, 4, 64), timer])).toEqual(
      [],
    );
    expect(await sv(enforceRetentionLimits, [...prometheus(flags), loki, raid(5, 3, 32), timer])).toEqual([
      "Prometheus and Loki plan 81.0 GiB on /srv/data, more than 80% of its 64.0 GiB; lower their retention.",
    ]);
    expect(await sv(enforceRetentionLimits, [...prometheus(flags), loki, raid(6, 4, 64), timer])).toEqual([]);
    const unsized = command(
      "export LEVEL='1'\nexport MEMBERS='/dev/sda /dev/sdb'\nexport MOUNT_POINT='/srv/data'\n",
    );
    expect(await sv(enforceRetentionLimits, [...prometheus(flags), loki, unsized, timer])).toEqual([
      "the size of the volume under /srv/data/ladon is unknown, so retention cannot be checked; set storage.disks[].size or storage.raids[].memberSize.",
    ]);
  });
});

describe("require-backup-coverage", () => {
  it("reports persistent volumes nobody decided about, and accepts exclusions with a reason", async () => {
    const c = container({
      volumes: [
        { hostPath: "/srv/data/ladon/grafana", containerPath: "/var/lib/grafana" },
        { hostPath: "/var/run/docker.sock", containerPath: "/s", readOnly: true },
      ],
    });
    expect(await sv(requireBackupCoverage, [c])).toEqual([
      "grafana keeps data in /srv/data/ladon/grafana, which no backup covers; back it up or exclude it with a reason.",
    ]);
    expect(
      await sv(requireBackupCoverage, [c], { exclusions: { "/srv/data/ladon": "scratch lab" } }),
    ).toEqual([]);
    expect(
      await sv(requireBackupCoverage, [c, command("export BACKUP_PATHS='/srv/data/ladon /etc'\n")]),
    ).toEqual([]);
  });

  it("takes the vLLM caches as the program declares them disposable, wherever cacheDir points", async () => {
    const config = labConfigMap();
    config["citadel:vllm"].cacheDir = "/data/models";
    const lab = await synthLab(config);
    const coverage = (await runPolicies(lab)).filter((v) => v.policy === "require-backup-coverage");
    expect(coverage).toEqual([]);
    // The caches really moved: the policy's default exclusion (/srv/models) no longer covers them.
    const volumes = lab.resources
      .filter((r) => r.name === "vllm-chat-container")
      .flatMap((r) => (r.rawInputs.volumes as { hostPath: string }[]).map((v) => v.hostPath));
    expect(volumes).toEqual(["/data/models/huggingface", "/data/models/vllm"]);
  });

  it("takes a container's own exclusion only with a reason", async () => {
    const labelled = (reason: string) =>
      container({
        volumes: [{ hostPath: "/srv/data/ladon/grafana", containerPath: "/var/lib/grafana" }],
        labels: [
          { label: "org.hana-x.citadel.service", value: "grafana" },
          {
            label: "org.hana-x.citadel.backup-exclude",
            value: JSON.stringify({ "/srv/data/ladon": reason }),
          },
        ],
      });
    expect(await sv(requireBackupCoverage, [labelled("rebuilt from code")])).toEqual([]);
    expect(await sv(requireBackupCoverage, [labelled(" ")])).toEqual([
      "grafana keeps data in /srv/data/ladon/grafana, which no backup covers; back it up or exclude it with a reason.",
    ]);
  });
});

describe("protect-data-changing-ports", () => {
  const LAB = "192.168.10.0/24";
  /** A firewall step as the program renders it: ufw rules, the DOCKER-USER block and the access file. */
  const firewall = (rules: [number, string][], blanket: string[] = []): Fixture =>
    command(
      [
        `export RULES='${rules.map(([p, s]) => `allow from ${s} to any port ${p} proto tcp comment citadel`).join("\n")}'`,
        `export AFTER_BLOCK='${[
          "*filter",
          "-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
          "-A DOCKER-USER -s 172.16.0.0/12 -j RETURN",
          ...blanket.map((s) => `-A DOCKER-USER -s ${s} -j RETURN`),
          ...rules.map(
            ([p, s]) =>
              `-A DOCKER-USER -s ${s} -p tcp -m conntrack --ctorigdstport ${p} --ctdir ORIGINAL -j RETURN`,
          ),
          "-A DOCKER-USER -j DROP",
          "COMMIT",
        ].join("\n")}'`,
        `export ACCESS='${JSON.stringify({ labSubnet: LAB, adminSubnet: LAB, ports: [] })}'`,
        "set -euo pipefail",
      ].join("\n"),
    );
  const loki = (ip?: string) =>
    container(
      {
        image: "grafana/loki:3.7.8",
        labels: [{ label: "org.hana-x.citadel.service", value: "loki" }],
        ports: [{ internal: 3100, external: 9903, ...(ip ? { ip } : {}) }],
        envs: [],
      },
      "loki",
    );
  const prometheus = (webConfig: boolean) =>
    container(
      {
        image: "prom/prometheus:v3.16.0",
        labels: [{ label: "org.hana-x.citadel.service", value: "prometheus" }],
        command: [
          "--config.file=/etc/prometheus/prometheus.yml",
          ...(webConfig ? ["--web.config.file=/etc/prometheus/secrets/web.yml"] : []),
          "--web.enable-admin-api",
        ],
        ports: [{ internal: 9090, external: 9901 }],
        envs: [],
      },
      "prometheus",
    );

  it("passes Prometheus with its web config, Loki on loopback, and Loki open only to the host that pushes", async () => {
    expect(await sv(protectDataChangingPorts, [prometheus(true), firewall([[9901, LAB]])])).toEqual([]);
    expect(await sv(protectDataChangingPorts, [loki("127.0.0.1"), firewall([])])).toEqual([]);
    expect(await sv(protectDataChangingPorts, [loki(), firewall([[9903, "192.168.10.40/32"]])])).toEqual([]);
  });

  it("refuses the admin API open to the lab without auth, naming the port, the service and the fix", async () => {
    expect(await sv(protectDataChangingPorts, [prometheus(false), firewall([[9901, LAB]])])).toEqual([
      "port 9901 (prometheus on 192.168.10.29) can change data (TSDB deletes and snapshots (admin API), reload and quit (lifecycle API)) without authentication and is open to all of the lab subnet 192.168.10.0/24 (admitted from 192.168.10.0/24); admit only the hosts that need it in components/plan/access.ts, publish it on 127.0.0.1, or give prometheus authentication.",
    ]);
  });

  it("refuses Loki open to the lab subnet, through a blanket DOCKER-USER rule or with no firewall at all", async () => {
    expect(await sv(protectDataChangingPorts, [loki(), firewall([[9903, LAB]])])).toHaveLength(1);
    expect(await sv(protectDataChangingPorts, [loki(), firewall([], [LAB])])).toEqual([
      "port 9903 (loki on 192.168.10.29) can change data (log pushes, delete requests) without authentication and is open to all of the lab subnet 192.168.10.0/24 (admitted from 192.168.10.0/24); admit only the hosts that need it in components/plan/access.ts, publish it on 127.0.0.1, or give loki authentication.",
    ]);
    expect(await sv(protectDataChangingPorts, [loki()])).toEqual([
      "port 9903 (loki on 192.168.10.29) can change data (log pushes, delete requests) without authentication and is open to every address (no citadel:ops.firewall); admit only the hosts that need it in components/plan/access.ts, publish it on 127.0.0.1, or give loki authentication.",
    ]);
  });

  it("refuses Alertmanager's silences open to the lab without auth", async () => {
    const am = container(
      {
        image: "prom/alertmanager:v0.35.0",
        labels: [{ label: "org.hana-x.citadel.service", value: "alertmanager" }],
        command: ["--config.file=/etc/alertmanager/alertmanager.yml"],
        ports: [{ internal: 9093, external: 9902 }],
        envs: [],
      },
      "alertmanager",
    );
    const messages = await sv(protectDataChangingPorts, [am, firewall([[9902, LAB]])]);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^port 9902 \(alertmanager on 192\.168\.10\.29\) can change data \(silences/);
  });

  it("leaves read-only ports to the firewall, and refuses a port the access model does not know", async () => {
    const cadvisor = container(
      {
        labels: [{ label: "org.hana-x.citadel.service", value: "cadvisor" }],
        ports: [{ internal: 8080, external: 9912 }],
        envs: [],
      },
      "cadvisor",
    );
    expect(await sv(protectDataChangingPorts, [cadvisor, firewall([[9912, LAB]])])).toEqual([]);
    const stray = container({ labels: [], ports: [{ internal: 80, external: 9950 }], envs: [] }, "whoami");
    expect(await sv(protectDataChangingPorts, [stray, firewall([])])).toEqual([
      "port 9950 (whoami on 192.168.10.29) has no entry in the access model; add one to components/plan/access.ts, or publish it on 127.0.0.1.",
    ]);
  });

  it("counts the lab subnet as covered only when the sources together admit all of it", () => {
    expect(coversSubnet([LAB], LAB)).toBe(true);
    expect(coversSubnet(["192.168.0.0/16"], LAB)).toBe(true);
    expect(coversSubnet(["192.168.10.0/25", "192.168.10.128/25"], LAB)).toBe(true);
    expect(coversSubnet(["192.168.10.0/25"], LAB)).toBe(false);
    expect(coversSubnet(["192.168.10.40/32", "172.16.0.0/12", "127.0.0.0/8"], LAB)).toBe(false);
    expect(coversSubnet(["anywhere"], LAB)).toBe(true);
    expect(coversSubnet([], LAB)).toBe(false);
  });
});

describe("the pack", () => {
  const files = readdirSync(path.join(ROOT, "policies", "rules")).filter((f) => f.endsWith(".ts"));

  it("has one policy per file, named after the file", () => {
    expect(files.length).toBe(POLICIES.length);
    for (const f of files) {
      const mod = jest.requireActual<Record<string, unknown>>(path.join(ROOT, "policies", "rules", f));
      const policies = Object.values(mod).filter(
        (v) => typeof v === "object" && v !== null && "enforcementLevel" in (v as object),
      ) as { name: string }[];
      expect(policies.map((p) => p.name)).toEqual([f.replace(/\.ts$/, "")]);
    }
  });

  it("names policies in kebab-case starting with a verb, describes why in full sentences, and sets a level", () => {
    for (const p of POLICIES) {
      expect(p.name).toMatch(/^(enforce|require|disallow|prefer|protect|configure|missing)(-[a-z0-9]+)+$/);
      expect(p.description).toMatch(/^[A-Z].{60,}\.$/);
      expect(p.description).toMatch(/because/);
      expect(["mandatory", "advisory"]).toContain(p.enforcementLevel);
    }
    const advisory = POLICIES.filter((p) => p.enforcementLevel === "advisory")
      .map((p) => p.name)
      .sort();
    expect(advisory).toEqual(["enforce-monitoring-port-range", "prefer-image-digests"]);
  });

  it("is built as citadel-guard in index.ts, which nothing else imports", () => {
    expect(readFileSync(path.join(ROOT, "policies", "index.ts"), "utf8")).toContain(
      'new PolicyPack("citadel-guard", { policies: POLICIES });',
    );
    const sources = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        if (e.name === "node_modules" || e.name.startsWith(".")) return [];
        const full = path.join(dir, e.name);
        return e.isDirectory() ? sources(full) : e.name.endsWith(".ts") ? [full] : [];
      });
    // An import of the pack itself: "…/policies" or "…/policies/index", from anywhere.
    const importsPack = /from\s+["'][./]*(?:\.\.\/)*policies(?:\/index)?["']|from\s+["']\.\/index["']/;
    const importers = sources(ROOT).filter(
      (f) => importsPack.test(readFileSync(f, "utf8")) && !f.endsWith(path.join("policies", "index.ts")),
    );
    expect(importers.map((f) => path.relative(ROOT, f))).toEqual([]);
    expect(importsPack.test("import { X } from " + '"../policies/index";')).toBe(true);
    expect(importsPack.test('import { POLICIES } from "../policies/policies";')).toBe(false);
    expect(readFileSync(path.join(ROOT, "policies", "PulumiPolicy.yaml"), "utf8")).toMatch(
      /^runtime: nodejs$/m,
    );
  });
});

describe("the whole lab", () => {
  let lab: SynthResult;
  beforeAll(async () => {
    lab = await synthLab();
  });

  it("passes with zero mandatory violations", async () => {
    const violations = await runPolicies(lab);
    expect(violations.filter((v) => v.enforcementLevel === "mandatory")).toEqual([]);
    expect(new Set(violations.map((v) => v.policy))).toEqual(new Set(["prefer-image-digests"]));
  });

  /** A copy of the lab with one resource's inputs changed, as a plan that bypassed the program's checks. */
  function mutate(
    name: string,
    change: (inputs: Record<string, any>, r: ResourceRecord) => void,
  ): SynthResult {
    const copy = structuredClone(lab);
    const r = copy.resources.find((x) => x.name === name);
    if (!r) throw new Error(`no resource ${name}`);
    change(r.rawInputs, r);
    return copy;
  }
  const envsOf = (i: Record<string, any>, from: string, to: string) =>
    (i.envs = i.envs.map((e: string) => (e === from ? to : e)));

  const mutations: [string, () => SynthResult, string | string[]][] = [
    [
      "vLLM on the latest tag",
      () => mutate("vllm-image", (i) => (i.name = "vllm/vllm-openai:latest")),
      "enforce-pinned-images",
    ],
    [
      "Loki without a healthcheck",
      () => mutate("ladon-citadel-loki-container", (i) => delete i.healthcheck),
      "require-container-resilience",
    ],
    [
      "Grafana privileged",
      () => mutate("ladon-citadel-grafana-container", (i) => (i.privileged = true)),
      "disallow-privileged-containers",
    ],
    ["vLLM without GPUs", () => mutate("vllm-chat-container", (i) => delete i.gpus), "require-gpu-requests"],
    [
      "Phoenix on Prometheus's port",
      () => mutate("ladon-citadel-phoenix-container", (i) => (i.ports[0].external = 9901)),
      "enforce-unique-host-ports",
    ],
    [
      "Grafana open to anonymous users",
      () =>
        mutate("ladon-citadel-grafana-container", (i) =>
          envsOf(i, "GF_AUTH_ANONYMOUS_ENABLED=false", "GF_AUTH_ANONYMOUS_ENABLED=true"),
        ),
      // Anonymous users may be given any role: without its login, Grafana's port is open to the lab.
      ["require-admin-auth", "protect-data-changing-ports"],
    ],
    [
      "the API key on vLLM's command line",
      () => mutate("vllm-chat-container", (i) => i.command.push("--api-key=abc")),
      "disallow-plaintext-secrets",
    ],
    [
      "a command without a host key",
      () => mutate("citadel-docker-engine", (i) => delete i.connection.hostKey),
      "require-pinned-host-keys",
    ],
    [
      "the LVM step unprotected",
      () => mutate("citadel-storage-lvm", (_i, r) => (r.protect = false)),
      "protect-storage-commands",
    ],
    [
      "a disk step that wipes on delete",
      () => mutate("citadel-storage-disk-data", (i) => (i.delete = "wipefs -a /dev/nvme1n1")),
      "protect-storage-commands",
    ],
    [
      "vLLM's context beyond the KV cache",
      () =>
        mutate("vllm-chat-container", (i) => {
          i.command[i.command.indexOf("--max-model-len") + 1] = "40960";
          i.command[i.command.indexOf("--gpu-memory-utilization") + 1] = "0.8";
        }),
      "require-fitting-vram-plan",
    ],
    [
      "the GPU exporter dropped from Prometheus",
      () =>
        mutate("ladon-citadel-prometheus-config", (i) => {
          i.create = String(i.create).replace(
            /- job_name: gpu\\n {4}static_configs:\\n {6}- targets:\\n {10}- gpu-exporter:9835\\n {8}labels:\\n {10}host: citadel\\n {2}/,
            "",
          );
        }),
      "require-scrape-coverage",
    ],
    [
      "Prometheus without a size limit",
      () =>
        mutate(
          "ladon-citadel-prometheus-config",
          (i) => (i.create = String(i.create).replace(/ {6}size: \d+GB\\n/, "")),
        ),
      "enforce-retention-limits",
    ],
  ];

  /** The lab with Loki published to everyone its firewall admits, and `sources` admitted to 9903. */
  const lokiOpen = (sources: string[], blanket = false) => {
    const copy = mutate(
      "ladon-citadel-loki-container",
      (i) => (i.ports = [{ internal: 3100, external: 9903 }]),
    );
    const fw = copy.resources.find((r) => r.name === "citadel-firewall-ufw") as ResourceRecord;
    const create = String(fw.rawInputs.create);
    fw.rawInputs.create = blanket
      ? create.replace(
          "-A DOCKER-USER -j DROP",
          `-A DOCKER-USER -s 192.168.10.0/24 -j RETURN\n-A DOCKER-USER -j DROP`,
        )
      : create.replace(
          "-A DOCKER-USER -j DROP",
          [
            ...sources.map(
              (s) =>
                `-A DOCKER-USER -s ${s} -p tcp -m conntrack --ctorigdstport 9903 --ctdir ORIGINAL -j RETURN`,
            ),
            "-A DOCKER-USER -j DROP",
          ].join("\n"),
        );
    return copy;
  };
  const withoutWebConfig = (name: string) =>
    mutate(name, (i) => (i.command = i.command.filter((a: string) => !a.startsWith("--web.config.file"))));
  mutations.push(
    [
      "Prometheus without its web config",
      () => withoutWebConfig("ladon-citadel-prometheus-container"),
      "protect-data-changing-ports",
    ],
    [
      "Alertmanager without its web config",
      () => withoutWebConfig("ladon-citadel-alertmanager-container"),
      "protect-data-changing-ports",
    ],
    ["Loki published to the lab subnet", () => lokiOpen(["192.168.10.0/24"]), "protect-data-changing-ports"],
    [
      "the old firewall: the lab subnet to every published port",
      () => lokiOpen([], true),
      "protect-data-changing-ports",
    ],
  );

  it("passes Loki published only to a host that pushes to it", async () => {
    const mandatory = (await runPolicies(lokiOpen(["192.168.10.40/32"]))).filter(
      (v) => v.enforcementLevel === "mandatory",
    );
    expect(mandatory).toEqual([]);
  });

  it.each(mutations)("fails %s", async (_what, plan, policy) => {
    const mandatory = (await runPolicies(plan())).filter((v) => v.enforcementLevel === "mandatory");
    expect(mandatory.map((v) => v.policy).sort()).toEqual([policy].flat().sort());
  });

  // The loader refuses these values before anything is registered (components/config/secrets.ts
  // rules; tests/config-secret-values.test.ts); the policy stays the second line, for a stricter
  // config of its own and for resources that did not come from the loader.
  it("fails a Grafana admin password shorter than its config asks, read from the step that writes it", async () => {
    const lab = await synthLab(labConfigMap(), undefined, { grafanaAdminPassword: "twenty-characters-ok" });
    const config = { "require-admin-auth": { minPasswordLength: 24 } };
    const mandatory = (await runPolicies(lab, config)).filter((v) => v.enforcementLevel === "mandatory");
    expect(mandatory.map((v) => `${v.policy}: ${v.message}`)).toEqual([
      "require-admin-auth: Grafana's admin password is shorter than 24 characters; set a strong one with pulumi config set --secret citadel:grafanaAdminPassword.",
    ]);
    await expect(synthLab(labConfigMap(), undefined, { grafanaAdminPassword: "admin" })).rejects.toThrow(
      /citadel:grafanaAdminPassword: its value breaks a rule: at least 12 characters/,
    );
  });

  it("fails a Phoenix secret that is too short in the lab's Phoenix container", async () => {
    const short = mutate("ladon-citadel-phoenix-container", (i) => {
      i.envs = i.envs.map((e: string) =>
        e.startsWith("PHOENIX_SECRET=") ? "PHOENIX_SECRET=not-32-characters-0" : e,
      );
    });
    expect(
      (await runPolicies(short)).filter((v) => v.enforcementLevel === "mandatory").map((v) => v.message),
    ).toEqual(["PHOENIX_SECRET is missing or shorter than 32 characters, so Phoenix refuses to start."]);
    await expect(
      synthLab(labConfigMap(), undefined, { phoenixSecret: "not-32-characters-0" }),
    ).rejects.toThrow(/citadel:phoenixSecret: its value breaks a rule: at least 32 characters/);
  });
});

describe("CI workflows", () => {
  const workflows = ["pr.yml", "deploy.yml"].map((f) => path.join(ROOT, ".github", "workflows", f));

  it("pass yamllint", () => {
    requireTool("yamllint");
    const run = spawnSync("yamllint", ["-c", path.join(ROOT, ".yamllint.yml"), ...workflows], {
      encoding: "utf8",
    });
    expect(run.stdout + run.stderr).toBe("");
    expect(run.status).toBe(0);
  });

  it("pass GitHub's workflow schema", () => {
    for (const f of workflows) expect(validateWorkflow(readFileSync(f, "utf8")).errors).toEqual([]);
    expect(
      validateWorkflow("on: push\njobs:\n  x:\n    runs-on: [self-hosted]\n    stepz: []\n").errors.length,
    ).toBeGreaterThan(0);
  });

  it("run on the lab's self-hosted runner, preview with the pack on PRs, and gate up behind an environment", () => {
    const pr = readFileSync(workflows[0]!, "utf8");
    const deploy = readFileSync(workflows[1]!, "utf8");
    for (const w of [pr, deploy]) expect(w).toContain("runs-on: [self-hosted, linux, hana-x]");
    expect(pr).toMatch(/command: preview[\s\S]*policyPacks: policies[\s\S]*comment-on-pr: true/);
    expect(pr).toContain("run: bash .ci/run");
    expect(deploy).toMatch(/environment: lab[\s\S]*command: up[\s\S]*policyPacks: policies/);
  });
});
