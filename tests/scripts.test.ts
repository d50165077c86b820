/**
 * Every host script, run twice against stubbed system commands: the first run makes the change,
 * the second makes none and says so. Failures stop with a message that names the fix.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { mutations, SimHost, type RunResult } from "./support/hostsim";
import { requireTool } from "./support/tools";
import { requireRoot } from "./support/loops";
import { DOCKER_MOUNTS_DROP_IN, renderDockerMountsDropIn } from "../components/host/docker";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

function expectConverged(run: RunResult): void {
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  expect(mutations(run)).toEqual([]);
  expect(run.stdout.trim().split("\n").pop()).toMatch(/^no changes: /);
}

function expectChanged(run: RunResult): void {
  expect(run.status).toBe(0);
  expect(run.stdout).toMatch(/^changed: /m);
  expect(run.stdout.trim().split("\n").pop()).toMatch(/^done: .*\(\d+ changes\)$/);
}

describe("grow-lvm.sh", () => {
  // Real lvm2 and e2fsprogs (SimHost.lvm): a volume group on a loop device over a 512 MiB image
  // (127 extents of 4 MiB after the first MiB: 508 MiB), a 100 MiB LV holding ext4. Sizes are in
  // MiB, not the lab's TiB, so the real mkfs and resize2fs stay quick; the script's arithmetic is
  // the same.
  const script = "host/scripts/grow-lvm.sh";
  const VG_BYTES = 508 * MiB;
  const host = (lvBytes = 100 * MiB, fsBytes = lvBytes) => {
    requireRoot("grow-lvm.sh");
    const h = new SimHost();
    const lvm = h.lvm(512 * MiB, { name: "data-lv", bytes: lvBytes, fsBytes });
    const lvPath = lvm.lvPath as string;
    const params = { VG: lvm.vg, LV: "data-lv", TARGET: String(300 * MiB), FILESYSTEM: "ext4" };
    const lvSize = () => h.lvmBytes("lvs", "lv_size", lvPath);
    const vgFree = () => h.lvmBytes("vgs", "vg_free", lvm.vg);
    /** The ext4 filesystem's size, from the real dumpe2fs on the LV's blocks. */
    const fsSize = () => {
      const d = h.exec(`dumpe2fs -h ${lvPath}`);
      const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)$`, "m").exec(d.stdout)?.[1]);
      return field("Block count") * field("Block size");
    };
    return { h, lvPath, params, lvSize, vgFree, fsSize };
  };

  it("grows the LV to the target and then the filesystem, and a second run changes nothing", () => {
    const { h, lvPath, params, lvSize, vgFree, fsSize } = host();
    const first = h.run(script, params);
    expectChanged(first);
    expect(mutations(first)).toEqual([`lvextend -L ${300 * MiB}b ${lvPath}`, `resize2fs ${lvPath}`]);
    expect([lvSize(), vgFree(), fsSize()]).toEqual([300 * MiB, VG_BYTES - 300 * MiB, 300 * MiB]);
    expectConverged(h.run(script, params));
  });

  it("takes every free extent with all-free", () => {
    const { h, params, lvSize, vgFree, fsSize } = host();
    expectChanged(h.run(script, { ...params, TARGET: "all-free" }));
    expect([lvSize(), vgFree(), fsSize()]).toEqual([VG_BYTES, 0, VG_BYTES]);
    expectConverged(h.run(script, { ...params, TARGET: "all-free" }));
  });

  it("never shrinks a volume that is already larger than the target", () => {
    const { h, params, lvSize, fsSize } = host(400 * MiB);
    const run = h.run(script, params);
    expectConverged(run);
    expect(run.stdout).toContain("it is never shrunk");
    expect([lvSize(), fsSize()]).toEqual([400 * MiB, 400 * MiB]);
  });

  it("finishes the filesystem when a previous run stopped after growing the LV", () => {
    const { h, lvPath, params, fsSize } = host(300 * MiB, 100 * MiB);
    const run = h.run(script, params);
    expect(run.status).toBe(0);
    expect(mutations(run)).toEqual([`resize2fs ${lvPath}`]);
    expect(fsSize()).toBe(300 * MiB);
    expectConverged(h.run(script, params));
  });

  it("stops without touching the LV when the VG lacks the free space", () => {
    const { h, params, lvSize, vgFree } = host();
    const run = h.run(script, { ...params, TARGET: String(GiB) });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(
      `needs ${GiB - 100 * MiB} free bytes but ${params.VG} has ${VG_BYTES - 100 * MiB}; lower storage.lvm.size or add a PV`,
    );
    expect(mutations(run)).toEqual([]);
    expect([lvSize(), vgFree()]).toEqual([100 * MiB, VG_BYTES - 100 * MiB]);
  });

  it("names the config key when the VG does not exist", () => {
    // No volume group at all: the real vgs fails (exit 5), and the script says which key to fix.
    const run = new SimHost().run(script, {
      VG: "ubuntu-vg",
      LV: "ubuntu-lv",
      TARGET: "all-free",
      FILESYSTEM: "ext4",
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("volume group ubuntu-vg does not exist on this host; check storage.lvm.vg");
  });

  it("names the config key when the VG has no such LV", () => {
    const { h, params } = host();
    const run = h.run(script, { ...params, LV: "other-lv" });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(
      `logical volume /dev/${params.VG}/other-lv does not exist; check storage.lvm.lv`,
    );
    expect(mutations(run)).toEqual([]);
  });
});

describe("nvidia-driver.sh", () => {
  const script = "host/scripts/nvidia-driver.sh";
  const params = { DRIVER_BRANCH: "580", DRIVER_FLAVOR: "server", HEADLESS: true, PERSISTENCE: true };

  it("installs and holds the headless server packages, enables persistence, then converges", () => {
    const h = new SimHost();
    const first = h.run(script, params);
    expectChanged(first);
    expect(first.calls).toContainEqual(
      expect.stringMatching(
        /^apt-get .* install --no-install-recommends nvidia-headless-580-server nvidia-utils-580-server$/,
      ),
    );
    expect(first.calls).toContain("apt-mark hold nvidia-headless-580-server");
    expect(first.calls).toContain("systemctl enable nvidia-persistenced");
    // The module is not loaded before the first reboot, so the daemon is only enabled.
    expect(first.calls).not.toContain("systemctl start nvidia-persistenced");
    expectConverged(h.run(script, params));
  });

  it("installs the full driver package when not headless", () => {
    const h = new SimHost();
    const run = h.run(script, { ...params, HEADLESS: false, DRIVER_FLAVOR: "desktop" });
    expect(run.status).toBe(0);
    expect(run.calls).toContainEqual(
      expect.stringMatching(/install --no-install-recommends nvidia-driver-580$/),
    );
  });

  it("refuses a branch the archive does not have, naming the key", () => {
    const h = new SimHost();
    h.set("unavailable-nvidia-headless-999-server", "");
    const run = h.run(script, { ...params, DRIVER_BRANCH: "999" });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("check nvidia.driver.branch (999)");
    expect(run.calls.filter((c) => / install /.test(c))).toEqual([]);
  });
});

describe("nvidia-iommu.sh", () => {
  const script = "host/scripts/nvidia-iommu.sh";
  it("writes the grub drop-in once and regenerates grub only then", () => {
    const h = new SimHost();
    const first = h.run(script, { KERNEL_ARGS: "intel_iommu=on iommu=pt" });
    expectChanged(first);
    expect(first.calls).toContain("update-grub ");
    expect(h.read("/etc/default/grub.d/60-citadel-iommu.cfg")).toContain(
      'GRUB_CMDLINE_LINUX_DEFAULT="${GRUB_CMDLINE_LINUX_DEFAULT} intel_iommu=on iommu=pt"',
    );
    expectConverged(h.run(script, { KERNEL_ARGS: "intel_iommu=on iommu=pt" }));
  });

  it("removes the drop-in when no arguments are configured", () => {
    const h = new SimHost();
    h.run(script, { KERNEL_ARGS: "iommu=pt" });
    expectChanged(h.run(script, { KERNEL_ARGS: "" }));
    expect(h.exists("/etc/default/grub.d/60-citadel-iommu.cfg")).toBe(false);
    expectConverged(h.run(script, { KERNEL_ARGS: "" }));
  });
});

/**
 * An ASCII-armored block the real gpg made of random bytes (hex digits, so they pass through the
 * runner's text stdin unchanged), served where an apt key is: what the scripts fetch and
 * dearmor is then checked byte for byte.
 */
function armored(h: SimHost): { raw: Buffer; armor: string } {
  const raw = Buffer.from(randomBytes(32).toString("hex"));
  const run = h.exec("gpg --batch --enarmor", raw.toString());
  if (run.status !== 0) throw new Error(`gpg --enarmor failed: ${run.stderr}`);
  return { raw, armor: run.stdout };
}
const NVIDIA_KEY_URL = "https://nvidia.github.io/libnvidia-container/gpgkey";
const DOCKER_KEY_URL = "https://download.docker.com/linux/ubuntu/gpg";

describe("nvidia-toolkit.sh", () => {
  const script = "host/scripts/nvidia-toolkit.sh";
  const host = () => {
    const h = new SimHost();
    const key = armored(h);
    h.serve(NVIDIA_KEY_URL, key.armor);
    return { h, key };
  };
  it("pins every toolkit package, lets nvidia-ctk add the runtime, then converges", () => {
    const { h, key } = host();
    const first = h.run(script, { TOOLKIT_VERSION: "1.18.0-1" });
    // The key as the real gpg dearmored it, byte for byte.
    expect(
      readFileSync(path.join(h.root, "usr/share/keyrings/nvidia-container-toolkit-keyring.gpg")),
    ).toEqual(key.raw);
    expectChanged(first);
    expect(first.calls).toContainEqual(
      expect.stringMatching(
        /install .*nvidia-container-toolkit=1.18.0-1 nvidia-container-toolkit-base=1.18.0-1 libnvidia-container-tools=1.18.0-1 libnvidia-container1=1.18.0-1$/,
      ),
    );
    expect(h.read("/etc/apt/sources.list.d/nvidia-container-toolkit.list")).toContain(
      "https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) /",
    );
    expect(JSON.parse(h.read("/etc/docker/daemon.json")).runtimes.nvidia.path).toBe(
      "nvidia-container-runtime",
    );
    expectConverged(h.run(script, { TOOLKIT_VERSION: "1.18.0-1" }));
  });

  it("stops, naming the key's URL, when NVIDIA's repository does not serve its key, and adds no repository", () => {
    const h = new SimHost();
    const run = h.run(script, { TOOLKIT_VERSION: "1.18.0-1" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("curl: (22) The requested URL returned error: 404");
    expect(run.stderr).toContain(`error: could not download NVIDIA's apt key from ${NVIDIA_KEY_URL}`);
    expect(h.exists("/etc/apt/sources.list.d/nvidia-container-toolkit.list")).toBe(false);
    expect(run.calls.filter((c) => /^apt-get .* install .*nvidia-container/.test(c))).toEqual([]);
  });

  it("stops at nvidia-ctk's error when daemon.json is not JSON, and leaves the file as it was", () => {
    const { h } = host();
    h.file("/etc/docker/daemon.json", "{ not json");
    const run = h.run(script, { TOOLKIT_VERSION: "1.18.0-1" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("unable to load config for runtime docker");
    expect(h.read("/etc/docker/daemon.json")).toBe("{ not json");
    expect(run.stdout).not.toContain("nvidia-ctk added the nvidia runtime");
  });

  it("moves every package to a new pinned version", () => {
    const { h } = host();
    h.run(script, { TOOLKIT_VERSION: "1.18.0-1" });
    const run = h.run(script, { TOOLKIT_VERSION: "1.18.1-1" });
    expect(run.status).toBe(0);
    expect(run.calls).toContainEqual(
      expect.stringMatching(/--allow-downgrades .*nvidia-container-toolkit=1.18.1-1/),
    );
    expect(h.get("dpkg/libnvidia-container1")).toBe("1.18.1-1");
  });
});

describe("nvidia-reboot.sh", () => {
  const script = "host/scripts/nvidia-reboot.sh";
  const params = {
    ALLOW_REBOOT: true,
    KERNEL_ARGS: "intel_iommu=on iommu=pt",
    HOST_NAME: "citadel",
    DRIVER_BRANCH: "580",
  };

  it("schedules a reboot when the module is not loaded, and none after the host came back", () => {
    const h = new SimHost();
    const first = h.run(script, params);
    expectChanged(first);
    expect(first.stdout).toContain("boot-id=boot-1");
    expect(first.stdout).toContain("reboot=scheduled");
    expect(first.calls).toContainEqual(
      expect.stringMatching(/^systemd-run --on-active=5 .* systemctl reboot$/),
    );
    // The reboot: module loaded, new kernel arguments active, new boot id.
    h.set("nvidia-loaded", "");
    h.file("/proc/cmdline", "BOOT_IMAGE=/vmlinuz ro quiet intel_iommu=on iommu=pt\n");
    h.file("/proc/sys/kernel/random/boot_id", "boot-2\n");
    const second = h.run(script, params);
    expectConverged(second);
    expect(second.stdout).toContain("reboot=none");
  });

  it("refuses to reboot when config does not allow it, and says how to fix it", () => {
    const run = new SimHost().run(script, { ...params, ALLOW_REBOOT: false });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("hosts.citadel.nvidia.allowReboot is false");
    expect(run.stderr).toContain("the NVIDIA kernel module is not loaded");
    expect(mutations(run)).toEqual([]);
  });
});

describe("wait-for-reboot.sh (runs where pulumi runs)", () => {
  const script = "host/scripts/wait-for-reboot.sh";
  const base = {
    ADDRESS: "192.168.10.29",
    PORT: 22,
    SSH_USER: "hxadmin",
    HOST_KEY: "ssh-ed25519 AAAA",
    TIMEOUT_SECONDS: 2,
  };

  it("returns at once when no reboot was scheduled", () => {
    const run = new SimHost().run(script, { ...base, REBOOT_OUTPUT: "boot-id=boot-1\nreboot=none" });
    expectConverged(run);
    expect(run.calls).toEqual([]);
  });

  it("waits for a new boot id over SSH with the pinned key", () => {
    const h = new SimHost();
    h.set("boot-id", "boot-2");
    const run = h.run(script, { ...base, REBOOT_OUTPUT: "boot-id=boot-1\nreboot=scheduled" });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("192.168.10.29 is back with boot id boot-2");
    expect(run.calls[0]).toMatch(
      /^ssh .*-o StrictHostKeyChecking=yes -o UserKnownHostsFile=\S+ -p 22 hxadmin@192.168.10.29 /,
    );
  });

  it("gives up after the timeout when the host does not come back", () => {
    const h = new SimHost();
    h.set("boot-id", "boot-1");
    const run = h.run(script, {
      ...base,
      TIMEOUT_SECONDS: 1,
      REBOOT_OUTPUT: "boot-id=boot-1\nreboot=scheduled",
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("did not come back within 1 s");
  });

  it("keeps trying while ssh cannot connect (exit 255), then gives up naming the host", () => {
    const run = new SimHost().run(script, {
      ...base,
      TIMEOUT_SECONDS: 1,
      REBOOT_OUTPUT: "boot-id=boot-1\nreboot=scheduled",
    });
    expect(run.status).toBe(1);
    expect(run.calls.filter((c) => c.startsWith("ssh ")).length).toBeGreaterThan(0);
    expect(run.stderr).toContain("error: 192.168.10.29 did not come back within 1 s after the reboot");
  });
});

describe("nvidia-verify.sh", () => {
  const script = "host/scripts/nvidia-verify.sh";
  const params = { GPU_COUNT: 2, DRIVER_BRANCH: "580", HOST_NAME: "citadel" };
  const host = (count: number, version: string) => {
    const h = new SimHost();
    h.set("nvidia-loaded", "");
    h.set("gpu-count", count);
    h.set("driver-version", version);
    return h;
  };

  it("passes, read-only, when both GPUs are on the pinned branch", () => {
    const run = host(2, "580.95.05").run(script, params);
    expectConverged(run);
    expect(run.stdout).toContain("verified 2 GPUs on driver 580.95.05");
  });

  it("fails with the config key when a GPU is missing", () => {
    const run = host(1, "580.95.05").run(script, params);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("nvidia-smi sees 1 GPUs but hosts.citadel.nvidia.gpus.count is 2");
  });

  it("fails when another driver branch is loaded", () => {
    const run = host(2, "570.172.08").run(script, params);
    expect(run.stderr).toContain(
      "the loaded driver is 570.172.08 but hosts.citadel.nvidia.driver.branch is 580",
    );
  });
});

describe("docker-engine.sh", () => {
  const script = "host/scripts/docker-engine.sh";
  const params = { DOCKER_VERSION: "28.5.1", ADMIN_USER: "hxadmin", HOST_NAME: "citadel" };
  const host = () => {
    const h = new SimHost();
    h.serve(DOCKER_KEY_URL, armored(h).armor);
    h.set(
      "madison-docker-ce",
      [
        " docker-ce | 5:28.5.2-1~ubuntu.24.04~noble | https://download.docker.com/linux/ubuntu noble/stable amd64 Packages",
        " docker-ce | 5:28.5.1-1~ubuntu.24.04~noble | https://download.docker.com/linux/ubuntu noble/stable amd64 Packages",
      ].join("\n"),
    );
    return h;
  };

  it("installs the pinned engine, holds it, adds the admin to docker, then converges", () => {
    const h = host();
    const first = h.run(script, params);
    expectChanged(first);
    expect(first.calls).toContainEqual(
      expect.stringMatching(
        /install .*docker-ce=5:28.5.1-1~ubuntu.24.04~noble docker-ce-cli=5:28.5.1-1~ubuntu.24.04~noble/,
      ),
    );
    expect(h.read("/etc/apt/sources.list.d/docker.list")).toBe(
      "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu noble stable\n",
    );
    expect(first.calls).toContain("usermod -aG docker hxadmin");
    expect(first.calls).toContain("apt-mark hold docker-ce");
    expectConverged(h.run(script, params));
  });

  it("stops, naming the key's URL, when Docker's repository does not serve its key", () => {
    const h = new SimHost();
    const run = h.run(script, params);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("curl: (22) The requested URL returned error: 404");
    expect(run.stderr).toContain(`error: could not download Docker's apt key from ${DOCKER_KEY_URL}`);
    expect(h.exists("/etc/apt/keyrings/docker.asc")).toBe(false);
    expect(h.exists("/etc/apt/sources.list.d/docker.list")).toBe(false);
  });

  it("stops at enabling docker when its unit does not exist, with systemctl's own words", () => {
    const h = host();
    h.set("systemd/docker.not-found", "");
    const run = h.run(script, params);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(
      "error: could not enable docker: Failed to enable unit: Unit file docker does not exist.",
    );
    expect(run.calls).not.toContain("systemctl start docker");
  });

  it("stops with the config key when the admin user does not exist on the host", () => {
    const h = host();
    h.set("no-user-hxadmin", "");
    const run = h.run(script, params);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("id: ‘hxadmin’: no such user");
    expect(run.stderr).toContain(
      "error: user hxadmin does not exist on this host; check hosts.citadel.ssh.user",
    );
    expect(run.calls).not.toContainEqual(expect.stringMatching(/^usermod /));
  });

  it("stops with the config key when the version is not in the repository", () => {
    const run = host().run(script, { ...params, DOCKER_VERSION: "19.3.0" });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("Docker 19.3.0 is not in Docker's repository for noble");
    expect(run.stderr).toContain("set hosts.citadel.docker.version");
  });
});

describe("docker-daemon.sh", () => {
  const script = "host/scripts/docker-daemon.sh";
  const fragment = JSON.stringify({
    "data-root": "/srv/data/docker",
    "live-restore": true,
    "log-driver": "json-file",
  });
  const dropIn = renderDockerMountsDropIn("/srv/data/docker", ["/srv/data/ladon"]);
  const daemon = (json = fragment, mounts = dropIn) => ({
    DAEMON_JSON: json,
    DATA_ROOT: "/srv/data/docker",
    MOUNTS_DROP_IN: mounts,
    MOUNTS_DROP_IN_PATH: DOCKER_MOUNTS_DROP_IN,
  });

  it("orders docker.service after the mounts of its data, reloading systemd only when the drop-in changed", () => {
    const h = new SimHost();
    const first = h.run(script, daemon());
    expectChanged(first);
    expect(h.read(DOCKER_MOUNTS_DROP_IN)).toBe(
      "[Unit]\nRequiresMountsFor=/srv/data/docker /srv/data/ladon\n",
    );
    expect(first.calls).toContain("systemctl daemon-reload");
    expectConverged(h.run(script, daemon()));
    const moved = h.run(
      script,
      daemon(fragment, renderDockerMountsDropIn("/srv/data/docker", ["/srv/models"])),
    );
    expect(moved.status).toBe(0);
    expect(moved.calls).toContain("systemctl daemon-reload");
    // Ordering takes effect at Docker's next start: changing it restarts nothing.
    expect(moved.calls).not.toContain("systemctl restart docker");
  });

  it("merges its keys next to nvidia-ctk's runtime, restarts once, then converges", () => {
    const h = new SimHost();
    h.file(
      "/etc/docker/daemon.json",
      JSON.stringify({ runtimes: { nvidia: { args: [], path: "nvidia-container-runtime" } } }, null, 4),
    );
    const first = h.run(script, daemon());
    expectChanged(first);
    expect(first.calls).toContain("systemctl restart docker");
    const merged = JSON.parse(h.read("/etc/docker/daemon.json"));
    expect(merged).toEqual({
      "data-root": "/srv/data/docker",
      "live-restore": true,
      "log-driver": "json-file",
      runtimes: { nvidia: { args: [], path: "nvidia-container-runtime" } },
    });
    expect(h.exists("/srv/data/docker")).toBe(true);
    expectConverged(h.run(script, daemon()));
  });

  it("refuses to overwrite a daemon.json that is not JSON", () => {
    const h = new SimHost();
    h.file("/etc/docker/daemon.json", "{ broken");
    const run = h.run(script, daemon());
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("is not valid JSON; fix or remove it by hand");
    expect(h.read("/etc/docker/daemon.json")).toBe("{ broken");
  });
});

describe("docker-verify.sh", () => {
  const script = "host/scripts/docker-verify.sh";
  const params = {
    DOCKER_VERSION: "28.5.1",
    DATA_ROOT: "/srv/data/docker",
    LOG_DRIVER: "json-file",
    EXPECT_NVIDIA: true,
    HOST_NAME: "citadel",
  };
  const info = {
    ServerVersion: "28.5.1",
    DockerRootDir: "/srv/data/docker",
    LoggingDriver: "json-file",
    Runtimes: { nvidia: {}, runc: {} },
  };

  it("passes, read-only, when docker info matches the config", () => {
    const h = new SimHost();
    h.set("docker-info.json", JSON.stringify(info));
    expectConverged(h.run(script, params));
  });

  it("fails, saying what to check, when the docker daemon does not answer", () => {
    const run = new SimHost().run(script, params);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("Cannot connect to the Docker daemon at unix:///var/run/docker.sock");
    expect(run.stderr).toContain("error: docker info failed; is the docker service running?");
  });

  it("fails when the nvidia runtime is missing", () => {
    const h = new SimHost();
    h.set("docker-info.json", JSON.stringify({ ...info, Runtimes: { runc: {} } }));
    const run = h.run(script, params);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(
      "docker nvidia runtime is 'missing', expected 'present' (hosts.citadel.docker)",
    );
  });

  it("fails when data-root is not where config puts it", () => {
    const h = new SimHost();
    h.set("docker-info.json", JSON.stringify({ ...info, DockerRootDir: "/var/lib/docker" }));
    expect(h.run(script, params).stderr).toContain(
      "docker data-root is '/var/lib/docker', expected '/srv/data/docker'",
    );
  });
});

describe("raid-scrub.sh (the monthly timer's script)", () => {
  const script = "host/scripts/raid-scrub.sh";
  const params = { TEXTFILE_DIR: "/var/lib/node_exporter/textfile" };
  const prom = "/var/lib/node_exporter/textfile/citadel_raid_scrub.prom";
  /** A host whose kernel has md arrays: each one's md/ attributes in sysfs, as the kernel shows them. */
  const host = (arrays: Record<string, { level: string; action: string }>) => {
    // `sleep` is the shim's kernel: a check it sleeps through finishes (tests/support/shims/shim).
    const h = new SimHost(["sleep"]);
    for (const [dev, a] of Object.entries(arrays)) {
      h.file(`/sys/block/${dev}/md/level`, `${a.level}\n`);
      h.file(`/sys/block/${dev}/md/sync_action`, `${a.action}\n`);
      h.file(`/sys/block/${dev}/md/mismatch_cnt`, "0\n");
    }
    return h;
  };
  const samples = (h: SimHost) =>
    h
      .read(prom)
      .split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => l.replace(/ \d{10}$/, " <now>"));

  it("checks each idle redundant array in turn, waits for md, and records mismatches and the time", () => {
    requireTool("promtool");
    const h = host({
      md126: { level: "raid10", action: "idle" },
      md127: { level: "raid1", action: "idle" },
      md0: { level: "raid0", action: "idle" },
    });
    h.set("md-mismatch-md127", 128);
    const run = h.runStandalone(script, params);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("md126: check started\nmd126: check finished, 0 sectors found inconsistent");
    expect(run.stdout).toContain("md127: check finished, 128 sectors found inconsistent");
    // RAID0 has nothing to compare.
    expect(run.stdout).not.toContain("md0");
    expect(run.calls.filter((c) => c.startsWith("sleep"))).toEqual(["sleep 0", "sleep 0"]);
    expect(h.read("/sys/block/md126/md/last_sync_action")).toBe("check\n");
    expect(samples(h)).toEqual([
      'citadel_md_scrub_mismatch_sectors{device="md126"} 0',
      'citadel_md_scrub_mismatch_sectors{device="md127"} 128',
      'citadel_md_scrub_last_completed_timestamp_seconds{device="md126"} <now>',
      'citadel_md_scrub_last_completed_timestamp_seconds{device="md127"} <now>',
    ]);
    const check = spawnSync("promtool", ["check", "metrics"], { input: h.read(prom), encoding: "utf8" });
    expect(check.stdout + check.stderr).toBe("");
    expect(check.status).toBe(0);
  });

  it("skips an array that is busy, keeping its last result, and never interrupts what runs", () => {
    const h = host({ md127: { level: "raid10", action: "idle" } });
    expect(h.runStandalone(script, params).status).toBe(0);
    const before = h.read(prom);
    h.file("/sys/block/md127/md/sync_action", "recover\n");
    const run = h.runStandalone(script, params);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(
      "md127: not scrubbed this time (sync_action was recover); its last result is kept",
    );
    expect(h.read("/sys/block/md127/md/sync_action")).toBe("recover\n");
    expect(run.calls.filter((c) => c.startsWith("sleep"))).toEqual([]);
    expect(h.read(prom)).toBe(before);
  });

  it("writes only the metric headers on a host whose arrays are gone", () => {
    const h = new SimHost(["sleep"]);
    expect(h.runStandalone(script, params).status).toBe(0);
    expect(samples(h)).toEqual([]);
  });
});
