/**
 * A simulated host for script tests: a scratch root (CITADEL_ROOT), fake host state for the shim
 * commands, and a runner that executes a script exactly as `hostScript` sends it.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { renderScript, renderStandalone, wrapScript, type ParamValue } from "../../components/remote";
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
  "vgs",
  "lvs",
  "lvextend",
  "dumpe2fs",
  "resize2fs",
  "ssh",
  "pvs",
  "vgcfgbackup",
  "ufw",
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

export class SimHost {
  readonly root: string;
  readonly state: string;
  /** The shims, first on PATH. */
  readonly bin: string;

  /** `extraShims`: commands from OPTIONAL_SHIMS to stub as well. */
  constructor(extraShims: readonly (typeof OPTIONAL_SHIMS)[number][] = []) {
    const base = mkdtempSync(path.join(tmpdir(), "citadel-sim-"));
    this.root = path.join(base, "root");
    this.state = path.join(base, "state");
    this.bin = path.join(base, "bin");
    for (const dir of [this.root, this.state, this.bin]) mkdirSync(dir, { recursive: true });
    for (const name of [...SHIMMED, ...extraShims]) symlinkSync(SHIM, path.join(this.bin, name));
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

  /** Sets fake host state read by the shims (e.g. `lvm-size`). */
  set(name: string, value: string | number): void {
    mkdirSync(path.dirname(path.join(this.state, name)), { recursive: true });
    writeFileSync(path.join(this.state, name), String(value));
  }

  get(name: string): string {
    return readFileSync(path.join(this.state, name), "utf8").trim();
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

/**
 * A host as the textfile-metrics timer finds it on citadel: one volume group on one PV, the stack's
 * data, and Prometheus's config and Loki's runtime config as the program renders them with the
 * default retention (50GiB, 744h). Used by the script's tests and by the conformance tier, which
 * feeds what the script writes to the real node_exporter.
 */
export function textfileHost(): SimHost {
  const h = new SimHost();
  h.set("lvm-vg", "ubuntu-vg");
  h.set("lvm-vg-size", 3.5e12);
  h.set("lvm-free", 2.9e11);
  // du and df are the real ones, over the scratch root: the data is real bytes.
  h.file("/srv/data/ladon/prometheus/.keep", "");
  h.file("/srv/data/ladon/loki/chunk", "x".repeat(1234));
  const ladon = LadonSchema.parse({});
  h.file("/etc/citadel/prometheus/prometheus.yml", renderPrometheusConfig(ladon, []));
  h.file("/etc/citadel/loki/runtime.yaml", renderLokiRuntimeConfig(ladon));
  return h;
}

/** The parameters the stack host's textfile timer runs with. */
export const TEXTFILE_PARAMS = {
  TEXTFILE_DIR: "/var/lib/node_exporter/textfile",
  DATA_DIR: "/srv/data/ladon",
  PROMETHEUS_CONFIG: "/etc/citadel/prometheus/prometheus.yml",
  LOKI_RUNTIME_CONFIG: "/etc/citadel/loki/runtime.yaml",
  LOKI_DAILY_BYTES: 1073741824,
};
