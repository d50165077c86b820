/**
 * One e2e guest under qemu (software emulation: the machine's /dev/kvm is the PVM kind, on which a
 * stock Debian kernel hangs; see ../shared REFERENCE "Test machines"). Boots the cached image's
 * kernel directly on q35 with a qcow2 overlay of the root image per run, its disks, and a tap on
 * the lab bridge. qemu runs with -no-reboot: when the guest reboots, qemu exits and this class
 * starts it again with the kernel arguments the guest's update-grub stand-in wrote to the bootcfg
 * disk, as firmware would boot the new grub.cfg. Only the PIDs it started are ever signalled.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface Disk {
  /** Host file. */
  file: string;
  format: "qcow2" | "raw";
  /** nvme, ide-hd (q35's AHCI, /dev/sdX) or virtio-blk. */
  bus: "nvme" | "ide" | "virtio";
  serial: string;
}

export interface VmSpec {
  name: string;
  /** The image directory from image.sh (vmlinuz, initrd.img, root.img). */
  image: string;
  /** Run directory for this VM's overlay, console log and pid file. */
  dir: string;
  /** Network namespace holding the tap. */
  netns: string;
  tap: string;
  mac: string;
  /** Kernel arguments this run sets (address, hostname, ...), without the bootcfg ones. */
  append: string[];
  disks: Disk[];
  memoryMiB: number;
  cpus: number;
}

const BASE_ARGS = [
  "console=ttyS0",
  "root=/dev/vda",
  "rw",
  "clocksource=tsc",
  "tsc=reliable",
  "net.ifnames=0",
];

export class Vm {
  private child: ChildProcess | null = null;
  private consoleStart = 0;
  /** Boots so far (the first is 1); each qemu start after a guest reboot counts. */
  boots = 0;
  private stopping = false;
  private exitWaiters: (() => void)[] = [];
  readonly console: string;
  readonly bootcfg: string;
  readonly pidFile: string;
  /** Start times of every boot (ms since epoch). */
  readonly bootStarted: number[] = [];

  constructor(readonly spec: VmSpec) {
    this.console = path.join(spec.dir, `${spec.name}.console.log`);
    this.bootcfg = path.join(spec.dir, `${spec.name}.bootcfg.raw`);
    this.pidFile = path.join(spec.dir, `${spec.name}.qemu.pid`);
  }

  /** Creates the root overlay and the bootcfg disk (once per run). */
  prepare(): void {
    const overlay = path.join(this.spec.dir, `${this.spec.name}.root.qcow2`);
    if (!existsSync(overlay)) {
      run("qemu-img", [
        "create",
        "-q",
        "-f",
        "qcow2",
        "-F",
        "raw",
        "-b",
        path.join(this.spec.image, "root.img"),
        overlay,
      ]);
    }
    if (!existsSync(this.bootcfg)) writeFileSync(this.bootcfg, Buffer.alloc(1024 * 1024));
  }

  /**
   * The initrd of the next boot: the image's, plus what the guest's update-initramfs stand-in
   * (tests/tiers/e2e/pi.ts) wrote at BOOTCFG_INITRAMFS_OFFSET of the bootcfg disk, the files a
   * rebuilt initramfs would carry, appended as one more newc archive (the kernel unpacks
   * concatenated initramfs archives in order, later files over earlier ones:
   * Documentation/driver-api/early-userspace/buffer-format.rst).
   */
  initrd(): string {
    const base = path.join(this.spec.image, "initrd.img");
    const fd = openSync(this.bootcfg, "r");
    const head = Buffer.alloc(4096);
    readSync(fd, head, 0, head.length, BOOTCFG_INITRAMFS_OFFSET);
    const m = /^e2e-initramfs (\S+) (\d+)\n/.exec(head.toString("latin1"));
    if (!m) {
      closeSync(fd);
      return base;
    }
    const name = m[1] as string;
    const data = Buffer.alloc(Number(m[2]));
    readSync(fd, data, 0, data.length, BOOTCFG_INITRAMFS_OFFSET + m[0].length);
    closeSync(fd);
    const out = path.join(this.spec.dir, `${this.spec.name}.initrd.img`);
    const img = readFileSync(base);
    const pad = Buffer.alloc((4 - (img.length % 4)) % 4);
    writeFileSync(out, Buffer.concat([img, pad, newcArchive(name.replace(/^\//, ""), data)]));
    return out;
  }

  /** The kernel arguments the guest's update-grub stand-in asked for. */
  bootArgs(): string[] {
    const fd = openSync(this.bootcfg, "r");
    const buf = Buffer.alloc(4096);
    readSync(fd, buf, 0, 4096, 0);
    closeSync(fd);
    const text = buf.toString("utf8").replace(/\0.*$/s, "").trim();
    if (!text.startsWith("e2e-bootcfg")) return [];
    return text.slice("e2e-bootcfg".length).trim().split(/\s+/).filter(Boolean);
  }

  cmdline(): string {
    return [...BASE_ARGS, ...this.spec.append, ...this.bootArgs()].join(" ");
  }

  qemuArgs(): string[] {
    const s = this.spec;
    const args = [
      "-name",
      s.name,
      "-machine",
      "q35",
      "-accel",
      "tcg,thread=multi,tb-size=256",
      "-cpu",
      "max",
      "-smp",
      String(s.cpus),
      "-m",
      String(s.memoryMiB),
      "-nodefaults",
      "-display",
      "none",
      "-no-reboot",
      "-chardev",
      `file,id=con,path=${this.console},append=on`,
      "-serial",
      "chardev:con",
      "-kernel",
      path.join(s.image, "vmlinuz"),
      "-initrd",
      this.initrd(),
      "-append",
      this.cmdline(),
      "-drive",
      `if=none,id=root,file=${path.join(s.dir, `${s.name}.root.qcow2`)},format=qcow2,discard=unmap,detect-zeroes=unmap`,
      "-device",
      "virtio-blk-pci,drive=root",
      "-drive",
      `if=none,id=bootcfg,file=${this.bootcfg},format=raw`,
      "-device",
      "virtio-blk-pci,drive=bootcfg,serial=e2e-bootcfg",
      "-netdev",
      `tap,id=net0,ifname=${s.tap},script=no,downscript=no`,
      "-device",
      `virtio-net-pci,netdev=net0,mac=${s.mac}`,
      "-pidfile",
      this.pidFile,
    ];
    let ide = 0;
    s.disks.forEach((d, i) => {
      args.push(
        "-drive",
        `if=none,id=d${i},file=${d.file},format=${d.format},discard=unmap,detect-zeroes=unmap`,
      );
      if (d.bus === "nvme") args.push("-device", `nvme,drive=d${i},serial=${d.serial}`);
      else if (d.bus === "ide")
        args.push("-device", `ide-hd,drive=d${i},bus=ide.${ide++},serial=${d.serial}`);
      else args.push("-device", `virtio-blk-pci,drive=d${i},serial=${d.serial}`);
    });
    return args;
  }

  /** Starts qemu; a guest reboot starts it again unless `stop`/`kill` was called. */
  start(): void {
    this.stopping = false;
    this.consoleStart = existsSync(this.console) ? statSync(this.console).size : 0;
    this.boots += 1;
    this.bootStarted.push(Date.now());
    const child = spawn("ip", ["netns", "exec", this.spec.netns, "qemu-system-x86_64", ...this.qemuArgs()], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    this.child = child;
    child.on("exit", (code) => {
      this.child = null;
      const tail = this.consoleSince();
      if (!this.stopping && /reboot: Restarting system/.test(tail)) {
        this.start();
        return;
      }
      if (!this.stopping && code !== 0)
        process.stderr.write(`qemu (${this.spec.name}) exited ${code}: ${stderr}\n`);
      for (const w of this.exitWaiters.splice(0)) w();
    });
  }

  get running(): boolean {
    return this.child !== null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Console output of the current boot. */
  consoleSince(): string {
    if (!existsSync(this.console)) return "";
    return readFileSync(this.console).subarray(this.consoleStart).toString("utf8");
  }

  /** Resolves when qemu has exited for good (not a reboot). */
  waitExit(timeoutMs: number): Promise<boolean> {
    if (!this.child) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.exitWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Pulls the power: SIGKILL to the qemu this run started (no guest shutdown). */
  async kill(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child?.pid) return;
    const done = this.waitExit(10_000);
    child.kill("SIGKILL");
    await done;
  }
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr || r.error?.message}`);
}

/** Where on the bootcfg disk the update-initramfs stand-in writes the file for the next initrd. */
export const BOOTCFG_INITRAMFS_OFFSET = 64 * 1024;

/**
 * A newc cpio archive (cpio(5), "New ASCII Format": the format the kernel's initramfs unpacker
 * reads) holding `file` (a path without its leading slash), its parent directories and the trailer.
 */
export function newcArchive(file: string, data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const entry = (name: string, mode: number, body: Buffer) => {
    const fields = [
      ino++,
      mode,
      0,
      0,
      mode & 0o040000 ? 2 : 1,
      0,
      body.length,
      0,
      0,
      0,
      0,
      name.length + 1,
      0,
    ];
    const header = Buffer.from(
      `070701${fields.map((f) => f.toString(16).padStart(8, "0")).join("")}${name}\0`,
      "latin1",
    );
    parts.push(
      header,
      Buffer.alloc((4 - (header.length % 4)) % 4),
      body,
      Buffer.alloc((4 - (body.length % 4)) % 4),
    );
  };
  const dirs = file.split("/").slice(0, -1);
  dirs.forEach((_, i) => entry(dirs.slice(0, i + 1).join("/"), 0o040755, Buffer.alloc(0)));
  entry(file, 0o100644, data);
  entry("TRAILER!!!", 0, Buffer.alloc(0));
  return Buffer.concat(parts);
}
