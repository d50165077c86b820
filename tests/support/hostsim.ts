/**
 * A simulated host for script tests: a scratch root (CITADEL_ROOT), fake host state for the shim
 * commands, and a runner that executes a script exactly as `hostScript` sends it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { renderScript, renderStandalone, wrapScript, type ParamValue } from "../../components/remote";
import { atEnd, releaseEach, removeTree } from "./remove";
import { LadonSchema } from "../../components/config/ladon";
import { renderLokiRuntimeConfig, renderPrometheusConfig } from "../../components/ladon/render/configs";

const SHIM = path.join(__dirname, "shims", "shim");
export const SHIMMED = [
  "dpkg-query",
  "dpkg",
  "apt-get",
  "apt-cache",
  "apt-mark",
  "systemctl",
  "systemd-run",
  "update-grub",
  "curl",
  "gpg",
  "nvidia-ctk",
  "nvidia-smi",
  "docker",
  "id",
  "usermod",
  "ssh",
  "ufw",
  // Not imitated: the real lvm2 and e2fsprogs, logged and sandboxed (SimHost.lvm).
  "vgs",
  "pvs",
  "lvs",
  "lvextend",
  "vgcfgbackup",
  "dumpe2fs",
  "resize2fs",
];

/** Calls that change a host. A converged second run makes none of them. */
export const MUTATING = [
  /^apt-get .*\b(install|update)\b/,
  /^apt-mark hold/,
  /^systemctl (enable|start|restart|disable|reboot)/,
  /^systemd-run/,
  /^update-grub/,
  /^curl/,
  /^gpg/,
  /^nvidia-ctk/,
  /^usermod/,
  /^lvextend/,
  /^resize2fs/,
  /^docker (restart|exec)/,
  /^systemctl daemon-reload/,
  /^ufw (allow|deny|delete|default|--force|reload)/,
  /^mdadm --(create|assemble|manage|grow|zero-superblock|stop)/,
  /^update-initramfs/,
];

/**
 * Commands only some tests stub, because others need the real one: mdadm and the initramfs for
 * the RAID script (whose members are real loop devices), `sleep` for scripts that wait on the kernel.
 */
export const OPTIONAL_SHIMS = ["mdadm", "update-initramfs", "udevadm", "sleep"] as const;

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Shimmed commands this run called, one per line: `name args...`. */
  calls: string[];
}

/** What an LVM sandbox made: its volume group and the loop device it lives on. */
export interface SimLvm {
  vg: string;
  pv: string;
  /** `/dev/<vg>/<lv>` when a logical volume was made. */
  lvPath?: string;
}

/**
 * lvm.conf for a SimHost: lvm2 sees only `devices` (none by default, so the host's own volume
 * groups are never listed or touched), activates nothing (device-mapper does not work here:
 * global/activation in lvm.conf(5)) and writes no metadata backups to /etc/lvm.
 */
function lvmConf(devices: readonly string[]): string {
  const accept = devices.map((d) => `"a|^${d}$|", `).join("");
  return [
    "devices {",
    `  global_filter = [ ${accept}"r|.*|" ]`,
    "  use_devicesfile = 0",
    "}",
    "global {",
    "  activation = 0",
    "}",
    "backup {",
    "  backup = 0",
    "  archive = 0",
    "}",
    "",
  ].join("\n");
}

/** Every SimHost this process made, removed when the test file ends (or the process exits). */
const live = new Set<SimHost>();
/** Disposes of every host, going on past one that fails so it strands none of the others. */
function disposeAll(): void {
  releaseEach(live, (h) => h.dispose());
}
atEnd(disposeAll);
let sandboxes = 0;

export class SimHost {
  /** The scratch directory holding root, state and bin: all this host made. */
  readonly base: string;
  private readonly loops: string[] = [];
  private readonly vgs: string[] = [];
  readonly root: string;
  readonly state: string;
  /** The shims, first on PATH. */
  readonly bin: string;

  /** `extraShims`: commands from OPTIONAL_SHIMS to stub as well. */
  constructor(extraShims: readonly (typeof OPTIONAL_SHIMS)[number][] = []) {
    const base = mkdtempSync(path.join(tmpdir(), "citadel-sim-"));
    this.base = base;
    live.add(this);
    this.root = path.join(base, "root");
    this.state = path.join(base, "state");
    this.bin = path.join(base, "bin");
    for (const dir of [this.root, this.state, this.bin]) mkdirSync(dir, { recursive: true });
    for (const name of [...SHIMMED, ...extraShims]) symlinkSync(SHIM, path.join(this.bin, name));
    this.set("lvm/lvm.conf", lvmConf([]));
    this.file("/etc/os-release", 'NAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\n');
    this.file("/proc/sys/kernel/random/boot_id", "boot-1\n");
    this.file(
      "/proc/cmdline",
      "BOOT_IMAGE=/vmlinuz root=/dev/mapper/ubuntu--vg-ubuntu--lv ro quiet splash\n",
    );
  }

  /** Writes a file under the scratch root, e.g. `/etc/docker/daemon.json`. */
  file(p: string, content: string): void {
    const target = path.join(this.root, p);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, content);
  }

  read(p: string): string {
    return readFileSync(path.join(this.root, p), "utf8");
  }

  exists(p: string): boolean {
    return existsSync(path.join(this.root, p));
  }

  /** Sets fake host state read by the shims (e.g. `gpu-count`). */
  set(name: string, value: string | number): void {
    mkdirSync(path.dirname(path.join(this.state, name)), { recursive: true });
    writeFileSync(path.join(this.state, name), String(value));
  }

  /**
   * Serves `body` at `url` to the curl shim (200); every other URL answers 404, so `curl -f`
   * fails there with exit 22.
   */
  serve(url: string, body: string): void {
    this.set(`serve/${Buffer.from(url).toString("base64url")}`, body);
  }

  get(name: string): string {
    return readFileSync(path.join(this.state, name), "utf8").trim();
  }

  /**
   * A real LVM volume group (lvm2's own pvcreate and vgcreate) on a loop device over a sparse
   * image of `imageBytes`, and optionally a logical volume of `lv.bytes`, holding an ext4
   * filesystem of `lv.fsBytes` when given (the real mkfs.ext4, on the image file the dumpe2fs and resize2fs
   * shims map /dev/<vg>/<lv> to). The VG's name is unique and it never autoactivates, so neither
   * this machine's LVM nor another test's sees it as its own. Needs root.
   */
  lvm(imageBytes: number, lv?: { name: string; bytes: number; fsBytes?: number }): SimLvm {
    const vg = `citadel-sim${process.pid}-${++sandboxes}`;
    this.vgs.push(vg);
    const image = path.join(this.base, "pv.img");
    execFileSync("truncate", ["-s", String(imageBytes), image]);
    const pv = execFileSync("losetup", ["--find", "--show", image], { encoding: "utf8" }).trim();
    this.loops.push(pv);
    this.set("lvm/lvm.conf", lvmConf([pv]));
    this.lvmTool("pvcreate", ["-q", pv]);
    this.lvmTool("vgcreate", ["-q", "--setautoactivation", "n", vg, pv]);
    if (lv === undefined) return { vg, pv };
    this.lvmTool("lvcreate", ["-q", "-an", "-Zn", "-L", `${lv.bytes}b`, "-n", lv.name, vg]);
    if (lv.fsBytes === undefined) return { vg, pv, lvPath: `/dev/${vg}/${lv.name}` };
    const fs = path.join(this.state, "lv", vg, lv.name);
    mkdirSync(path.dirname(fs), { recursive: true });
    execFileSync("truncate", ["-s", String(lv.fsBytes), fs]);
    execFileSync("mkfs.ext4", ["-q", "-F", fs]);
    return { vg, pv, lvPath: `/dev/${vg}/${lv.name}` };
  }

  /** Lets this host's lvm2 sandbox see `devices` (loop devices the test made) and nothing else. */
  lvmDevices(devices: readonly string[]): void {
    this.set("lvm/lvm.conf", lvmConf(devices));
  }

  /** An lvm2 command in this host's sandbox, e.g. a report to check what a script did. */
  lvmTool(cmd: string, args: string[]): string {
    return execFileSync(cmd, args, {
      encoding: "utf8",
      env: { ...process.env, LVM_SYSTEM_DIR: path.join(this.state, "lvm"), LVM_SUPPRESS_FD_WARNINGS: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
  }

  /** A size lvm2 reports in bytes, e.g. `lvmBytes("lvs", "lv_size", "/dev/vg/lv")`. */
  lvmBytes(cmd: "vgs" | "lvs", field: string, name: string): number {
    return Number(this.lvmTool(cmd, ["--noheadings", "--units", "b", "--nosuffix", "-o", field, name]));
  }

  /**
   * Removes what this host made: mounts a test made under its root, its loop devices, and its
   * scratch directory. Nothing outside them.
   */
  dispose(): void {
    if (!live.delete(this)) return;
    const mounts = readFileSync("/proc/self/mounts", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[1] ?? "")
      .filter((m) => m.startsWith(`${this.base}/`))
      .sort()
      .reverse();
    for (const m of mounts) spawnSync("umount", ["-l", m], { stdio: "ignore" });
    // The PV label first, so no scan of this machine's LVM finds the VG while the loop device's
    // detach waits for a reader to close it.
    for (const d of this.loops) {
      spawnSync("wipefs", ["-a", "-q", d], { stdio: "ignore" });
      spawnSync("losetup", ["-d", d], { stdio: "ignore" });
    }
    // The host's own lvm2 sees the loop device too, and a report it runs meanwhile (another
    // test's vgs, a monitoring agent) writes a metadata backup of our VG under /etc/lvm (lvm2
    // backs up a VG it reads without one). Those files are about this VG alone: removed.
    for (const vg of this.vgs) {
      rmSync(path.join("/etc/lvm/backup", vg), { force: true });
      const archive = "/etc/lvm/archive";
      if (existsSync(archive))
        for (const f of readdirSync(archive))
          if (f.startsWith(`${vg}_`) && f.endsWith(".vg")) rmSync(path.join(archive, f), { force: true });
    }
    // A mount the lazy unmount could not take away fails the file, naming it, instead of the
    // directory being deleted through it (or, as before, kept without a word).
    removeTree(this.base);
  }

  /** Runs a script as hostScript renders and wraps it, through /bin/sh like the remote login shell. */
  run(
    script: string,
    params: Record<string, ParamValue>,
    secrets: Record<string, string> = {},
    env: Record<string, string> = {},
  ): RunResult {
    const names = Object.keys(secrets).sort();
    const input = names.map((n) => `${secrets[n]}\n`).join("");
    return this.exec(wrapScript(renderScript(script, params, names), false), input, env);
  }

  /** Runs a standalone script (one a timer starts), rendered as it is installed. */
  runStandalone(script: string, params: Record<string, ParamValue>): RunResult {
    return this.exec(wrapScript(renderStandalone(script, params), false), "");
  }

  /** Runs shell commands with the shims and the scratch root, e.g. a runbook's restore steps. */
  exec(command: string, input = "", env: Record<string, string> = {}): RunResult {
    const log = path.join(this.state, "calls.log");
    writeFileSync(log, "");
    const result = spawnSync("/bin/sh", ["-c", command], {
      encoding: "utf8",
      input,
      env: {
        PATH: `${this.bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`,
        SHIM_STATE: this.state,
        CITADEL_ROOT: this.root,
        POLL_SECONDS: "0",
        LANG: "C.UTF-8",
        // bash sources ~/.bashrc when stdin is a socket, as it is under node; keep the runner's out.
        HOME: this.root,
        ...env,
      },
      timeout: 30_000,
    });
    const calls = readFileSync(log, "utf8").split("\n").filter(Boolean);
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
  }
}

/** The calls of a run that change the host. */
export function mutations(run: RunResult): string[] {
  return run.calls.filter((c) => MUTATING.some((re) => re.test(c)));
}

/** The textfile host's volume group: a 4 GiB PV with a 1 GiB LV (metadata only) on it. */
export const TEXTFILE_LVM = { imageBytes: 4 * 1024 ** 3, lvBytes: 1024 ** 3 };

/**
 * A host as the textfile-metrics timer finds it on citadel: one volume group on one PV (real
 * lvm2 on a loop device: needs root), the stack's data, and Prometheus's config and Loki's runtime config as the program renders them with the
 * default retention (50GiB, 744h). Used by the script's tests and by the conformance tier, which
 * feeds what the script writes to the real node_exporter.
 */
export function textfileHost(): { h: SimHost; lvm: SimLvm } {
  const h = new SimHost();
  const lvm = h.lvm(TEXTFILE_LVM.imageBytes, { name: "data", bytes: TEXTFILE_LVM.lvBytes });
  // du and df are the real ones, over the scratch root: the data is real bytes.
  h.file("/srv/data/ladon/prometheus/.keep", "");
  h.file("/srv/data/ladon/loki/chunk", "x".repeat(1234));
  const ladon = LadonSchema.parse({});
  h.file("/etc/citadel/prometheus/prometheus.yml", renderPrometheusConfig(ladon, []));
  h.file("/etc/citadel/loki/runtime.yaml", renderLokiRuntimeConfig(ladon));
  return { h, lvm };
}

/** The parameters the stack host's textfile timer runs with. */
export const TEXTFILE_PARAMS = {
  TEXTFILE_DIR: "/var/lib/node_exporter/textfile",
  DATA_DIR: "/srv/data/ladon",
  PROMETHEUS_CONFIG: "/etc/citadel/prometheus/prometheus.yml",
  LOKI_RUNTIME_CONFIG: "/etc/citadel/loki/runtime.yaml",
  LOKI_DAILY_BYTES: 1073741824,
};
