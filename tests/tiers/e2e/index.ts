/**
 * `npm run e2e`: the lab converges on a machine that boots. Builds (or reuses) the cached Debian
 * image, boots each host of the stack file as a qemu VM on a private bridge inside network
 * namespaces, applies the program's command steps over SSH twice with a small pulumi-command
 * stand-in (tests/tiers/e2e/apply.ts), and checks what a booted host shows: volume, disks, Docker,
 * firewall, timers, a reboot. Prints a line per check, the timings, and `N passed, M failed`;
 * writes out/e2e.json; exits 1 when any check failed. Needs root; tears down everything it made,
 * also on failure, and a run after a killed run first removes what that run left.
 *
 * By default the Pi (tests/tiers/e2e/pi.ts) runs beside citadel in a VM of its own, and citadel's
 * faults (tests/tiers/e2e/faults.ts) follow its checks.
 *
 *   npm run e2e -- [--config Pulumi.citadel.yaml] [--out out] [--suite all|citadel|pi] [--keep]
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseSize } from "../../../components/config/units";
import { parseFlags } from "../../../lib/cli";
import { apply, ApplyError, exec, LOCAL, REMOTE, stepsOf, type Step, type StepResult } from "./apply";
import { requireBusybox } from "./images";
import { baseConfig, loadE2eLab, stepParams, vmOverlay, type E2eLab } from "./lab";
import { labGuestAddress, serviceChecks } from "./services";
import { citadelFaults } from "./faults";
import { diffLines, guestSshArgv, stopMuxes, withMux } from "./guestops";
import { PI_TAP, piSuite } from "./pi";
import { Vm, type Disk } from "./vm";
import { standInListeners } from "./standins";

const REPO = path.resolve(__dirname, "..", "..", "..");
const CACHE = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "citadel", "e2e");
const NET = path.join(__dirname, "net.sh");
const PREFIX = "cite2e";
/** The lab's primary NVMe: a 4 TB drive ("3.6 TB"), sparse. */
const SYSTEM_DISK_BYTES = 4_000_787_030_016;
const OUTSIDER_CANDIDATES = ["172.31.254.2/24", "10.254.254.2/24", "198.18.254.2/24"];

interface Check {
  name: string;
  result: "passed" | "failed";
  detail: string;
  /** Seconds since the run started when the check was made (where the run's time goes). */
  at: number;
}

class Run {
  readonly started = Date.now();
  readonly checks: Check[] = [];
  readonly timings: { what: string; seconds: number }[] = [];
  log(line: string): void {
    console.log(line);
  }
  check(name: string, ok: boolean, detail: string): boolean {
    const at = Math.round((Date.now() - this.started) / 100) / 10;
    this.checks.push({ name, result: ok ? "passed" : "failed", detail, at });
    console.log(
      `${ok ? "PASS" : "FAIL"}  [${at.toFixed(0).padStart(4)} s] ${name}${detail ? `\n      ${detail.split("\n").join("\n      ")}` : ""}`,
    );
    return ok;
  }
  time(what: string, seconds: number): void {
    this.timings.push({ what, seconds: Math.round(seconds * 10) / 10 });
    console.log(`      time: ${what} ${seconds.toFixed(1)} s`);
  }
  get passed(): number {
    return this.checks.filter((c) => c.result === "passed").length;
  }
  get failed(): number {
    return this.checks.filter((c) => c.result === "failed").length;
  }
}

const TOOLS: [string, string][] = [
  ["qemu-system-x86_64", "qemu-system-x86"],
  ["qemu-img", "qemu-utils"],
  ["debootstrap", "debootstrap"],
  ["sfdisk", "fdisk"],
  ["mkfs.ext4", "e2fsprogs"],
  ["dpkg-scanpackages", "dpkg-dev"],
  ["gpg", "gnupg"],
  ["openssl", "openssl"],
  ["ssh", "openssh-client"],
  ["ssh-agent", "openssh-client"],
  ["ip", "iproute2"],
  ["unshare", "util-linux"],
  ["timeout", "coreutils"],
  ["curl", "curl"],
  ["tar", "tar"],
];

function preflight(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      "npm run e2e needs root (debootstrap, network namespaces, taps); run it as root, as CI does",
    );
  }
  const missing = TOOLS.filter(([t]) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
  if (missing.length > 0) {
    throw new Error(
      `missing: ${missing.map(([t]) => t).join(", ")}; install with: apt-get install -y ${[...new Set(missing.map(([, p]) => p))].join(" ")}`,
    );
  }
  requireBusybox();
}

function sh(argv: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: "utf8", input });
  return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? r.error?.message ?? "" };
}

function must(argv: string[], input?: string): string {
  const r = sh(argv, input);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes what killed runs left: their qemu (by recorded PID, if it still is theirs), namespaces, dirs. */
function cleanStale(run: Run): void {
  const runs = path.join(CACHE, "runs");
  if (existsSync(runs)) {
    for (const id of readdirSync(runs)) {
      const owner = Number(id.split("-").pop());
      if (owner === process.pid || alive(owner)) continue;
      const dir = path.join(runs, id);
      for (const f of readdirSync(dir).filter((x) => x.endsWith(".qemu.pid"))) {
        const pid = Number(readFileSync(path.join(dir, f), "utf8").trim());
        const cmdline = existsSync(`/proc/${pid}/cmdline`)
          ? readFileSync(`/proc/${pid}/cmdline`, "utf8")
          : "";
        if (pid > 0 && cmdline.includes(dir)) {
          process.kill(pid, "SIGKILL");
          run.log(`stale: killed qemu ${pid} of the killed run ${id}`);
        }
      }
      const agent = path.join(dir, "ssh-agent.pid");
      if (existsSync(agent)) {
        const pid = Number(readFileSync(agent, "utf8").trim());
        const cmdline = existsSync(`/proc/${pid}/cmdline`)
          ? readFileSync(`/proc/${pid}/cmdline`, "utf8")
          : "";
        if (pid > 0 && cmdline.includes(dir)) process.kill(pid, "SIGKILL");
      }
      sh(["bash", NET, "down", id]);
      rmSync(dir, { recursive: true, force: true });
      run.log(`stale: removed the namespaces and files of the killed run ${id}`);
    }
  }
  for (const ns of must(["bash", NET, "list", `${PREFIX}-`])
    .split("\n")
    .filter(Boolean)) {
    const id = ns.replace(/-(lab|out|guest)$/, "");
    const owner = Number(id.split("-").pop());
    if (owner !== process.pid && !alive(owner)) {
      sh(["bash", NET, "down", id]);
      run.log(`stale: removed namespace ${ns}`);
    }
  }
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((a, o) => a * 256 + Number(o), 0);
}
function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}
function inCidr(ip: string, cidr: string): boolean {
  const [net, bits] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  const base = Math.floor(ipToInt(net as string) / size) * size;
  const n = ipToInt(ip);
  return n >= base && n < base + size;
}

async function main(): Promise<number> {
  const flags = { config: "Pulumi.citadel.yaml", out: "out", suite: "all" };
  const args = parseFlags(process.argv.slice(2), flags, ["keep"], {
    usage: "npm run e2e -- [--config <stack yaml>] [--out <dir>] [--suite all|citadel|pi] [--keep]",
    flags: {
      config: "the lab's stack file; the VMs get it plus the overlay the run prints",
      out: "where out/e2e.json (every check with its result and the timings) is written",
      suite:
        "all (CI: citadel with its faults, and the Pi beside it), citadel (its checks and faults), or pi (examples/Pulumi.monitoring-pi.yaml alone)",
      keep: "leave the VMs, namespaces and files of the run in place for a look (tear down by hand)",
    },
    exits: {
      0: "every check passed",
      1: "a check failed (each failure is printed with its detail)",
      2: "bad flags or stack config",
    },
  });
  if (!["all", "citadel", "pi"].includes(args.suite)) {
    console.error(`e2e: --suite ${args.suite}: use all, citadel or pi`);
    return 2;
  }
  const run = new Run();
  const t0 = Date.now();
  console.log(
    "e2e: the lab's command steps applied to qemu VMs by a stand-in for pulumi-command v1.2.1 (tests/tiers/e2e/apply.ts), not by the Pulumi engine",
  );
  preflight();
  mkdirSync(CACHE, { recursive: true });
  cleanStale(run);

  // 1. The image, with what the program's own steps install.
  const base = baseConfig(args.config);
  const plain = await loadE2eLab(args.config, {});
  const hostNames = Object.keys(base.hosts);
  const first = hostNames[0] as string;
  const driver = stepParams(plain.result, `${first}-nvidia-driver`);
  const toolkit = stepParams(plain.result, `${first}-nvidia-toolkit`);
  // The package names as host/scripts/nvidia-driver.sh computes them.
  const suffix = driver.DRIVER_FLAVOR === "server" ? "-server" : "";
  const driverPackages =
    driver.HEADLESS === "true"
      ? [`nvidia-headless-${driver.DRIVER_BRANCH}${suffix}`, `nvidia-utils-${driver.DRIVER_BRANCH}${suffix}`]
      : [`nvidia-driver-${driver.DRIVER_BRANCH}${suffix}`];
  const user = base.hosts[first]?.ssh.user ?? "root";
  const t = Date.now();
  const built = spawnSync("bash", [path.join(__dirname, "image.sh"), CACHE, REPO], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    env: {
      ...process.env,
      E2E_USER: user,
      E2E_DRIVER_PACKAGES: driverPackages.join(" "),
      E2E_DRIVER_VERSION: `${driver.DRIVER_BRANCH}.95.05-0ubuntu1`,
      E2E_TOOLKIT_VERSION: toolkit.TOOLKIT_VERSION as string,
    },
  });
  process.stdout.write(
    built.stdout
      .split("\n")
      .slice(0, -2)
      .map((l) => `${l}\n`)
      .join(""),
  );
  if (built.status !== 0) throw new Error("the image build failed (see above)");
  const image = built.stdout.trim().split("\n").pop() as string;
  const cached = built.stdout.includes("image: cached");
  run.time(`image ${cached ? "(cached)" : "(built)"}`, (Date.now() - t) / 1000);

  // 2. The lab as the VMs see it: the stack file plus the overlay.
  const over = vmOverlay(base, image);
  const lab = await loadE2eLab(args.config, over);
  console.log(`config: ${args.config} with the e2e overlay ${JSON.stringify(over)}`);
  const firewall = lab.config.ops?.firewall;
  // Every source the firewall admits anything from, the access model's included (node-exporter
  // admits Docker's address pool, 172.16.0.0/12, on the stack host): an outsider is outside all.
  const ruleSources = Object.keys(lab.config.hosts).flatMap((h) =>
    [...(lab.result.files.get(`${h}/etc/ufw/citadel-rules.txt`) ?? "").matchAll(/allow from (\S+) to/g)].map(
      (m) => m[1] as string,
    ),
  );
  const subnets = [firewall?.adminSubnet, firewall?.labSubnet, ...ruleSources].filter((s): s is string =>
    Boolean(s),
  );
  const admin = firewall?.adminSubnet ?? `${lab.config.hosts[first]?.address}/24`;
  const used = new Set(Object.values(lab.config.hosts).map((h) => h.address));
  const [adminNet, adminBits] = admin.split("/");
  let runnerIp = ipToInt(adminNet as string) + 1;
  while (used.has(intToIp(runnerIp))) runnerIp += 1;
  const runner = `${intToIp(runnerIp)}/${adminBits}`;
  const outsider = OUTSIDER_CANDIDATES.find(
    (c) => !subnets.some((s) => inCidr(c.split("/")[0] as string, s)),
  );
  if (!outsider) throw new Error("no outsider address outside every configured subnet and firewall source");

  const id = `${PREFIX}-${process.pid}`;
  const dir = path.join(CACHE, "runs", id);
  mkdirSync(dir, { recursive: true });
  const vms: Vm[] = [];
  /** The VMs of the suites in other modules (the Pi, tests/tiers/e2e/pi.ts): torn down with the run's. */
  const suiteVms: Vm[] = [];
  let agentPid: number | undefined;
  const labNs = `${id}-lab`;
  const inLab = ["ip", "netns", "exec", labNs];
  const inOut = ["ip", "netns", "exec", `${id}-out`];
  const teardown = async () => {
    for (const vm of [...vms, ...suiteVms]) await vm.kill();
    stopMuxes();
    if (agentPid && alive(agentPid)) process.kill(agentPid, "SIGTERM");
    sh(["bash", NET, "down", id]);
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (sig: NodeJS.Signals) => {
    void teardown().then(() => process.exit(sig === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let piRun: Promise<void> | undefined;
  try {
    const taps = [...hostNames.map((_, i) => `tap${i}`), ...(args.suite === "citadel" ? [] : [PI_TAP])];
    must(["bash", NET, "up", id, runner, outsider, ...taps]);
    for (const h of hostNames) must(["bash", NET, "route", id, lab.config.hosts[h]?.address as string]);
    console.log(
      `network: bridge in namespace ${labNs}; build machine's side ${runner} (admin subnet ${admin}); outsider ${outsider} in ${id}-out`,
    );
    // ssh-agent for the steps' `auth: agent`, holding the image's client key.
    const sock = path.join(dir, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
    agentPid = agent.pid;
    writeFileSync(path.join(dir, "ssh-agent.pid"), `${agentPid}\n`);
    for (let i = 0; i < 50 && !existsSync(sock); i++) await sleep(100);
    const env = { ...process.env, SSH_AUTH_SOCK: sock };
    const added = spawnSync("ssh-add", ["-q", path.join(image, "client_ed25519")], { env, encoding: "utf8" });
    if (added.status !== 0) throw new Error(`ssh-add failed: ${added.stderr}`);
    // The Pi (tests/tiers/e2e/pi.ts) runs beside citadel, in a VM of its own on the same bridge.
    const ctx = {
      run,
      image,
      dir,
      labNs,
      inLab,
      env,
      adminBits: adminBits as string,
      outsider,
      vms: suiteVms,
    };
    if (args.suite !== "citadel")
      piRun = piSuite(ctx, user).catch(
        (e: unknown) => void run.check("the pi suite finished", false, String(e)),
      );
    if (args.suite === "pi") throw new SuiteDone();

    // 3. One VM per host.
    for (const [i, h] of hostNames.entries()) {
      const host = lab.config.hosts[h];
      if (!host) continue;
      const disks: Disk[] = [];
      const lvm = host.storage?.lvm;
      if (lvm) {
        const file = path.join(dir, `${h}-nvme0.raw`);
        must(["truncate", "-s", String(SYSTEM_DISK_BYTES), file]);
        // The installer's layout: EFI, /boot, and the LVM PV filling the rest.
        must(
          ["sfdisk", "-q", file],
          "label: gpt\n,1GiB,U\n,2GiB,L\n,,E6D6D379-F507-44C2-A23C-238F2A3DF928\n",
        );
        disks.push({ file, format: "raw", bus: "nvme", serial: "e2e-system" });
      }
      for (const d of host.storage?.disks ?? []) {
        const file = path.join(dir, `${h}-${d.label}.qcow2`);
        must(["qemu-img", "create", "-q", "-f", "qcow2", file, String(parseSize(d.size ?? "64GiB"))]);
        const bus = d.device.startsWith("/dev/nvme")
          ? "nvme"
          : d.device.startsWith("/dev/sd")
            ? "ide"
            : "virtio";
        disks.push({ file, format: "qcow2", bus, serial: `e2e-${d.label}` });
      }
      const vm = new Vm({
        name: h,
        image,
        dir,
        netns: labNs,
        tap: `tap${i}`,
        mac: `52:54:00:e2:00:${(i + 16).toString(16)}`,
        append: [
          `e2e.hostname=${h}`,
          `e2e.addr=${host.address}/${adminBits}`,
          `e2e.onlink=${outsider.replace(/\.\d+\//, ".0/")}`,
          ...(host.nvidia ? [`e2e.gpus=${host.nvidia.gpus.count}`] : []),
        ],
        disks,
        memoryMiB: 2048,
        cpus: 2,
      });
      vm.prepare();
      vms.push(vm);
    }
    const sshArgv = (vm: Vm, cmd: string, timeoutS = 300) =>
      guestSshArgv(inLab, image, lab.config.hosts[vm.spec.name], cmd, timeoutS);
    const guest = (vm: Vm, cmd: string, timeoutS = 300) => {
      const host = lab.config.hosts[vm.spec.name];
      return withMux({ inLab, image, host, vm, dir }, (mux) =>
        exec(guestSshArgv(inLab, image, host, cmd, timeoutS, mux), undefined, env),
      );
    };
    const root = async (vm: Vm, cmd: string, timeoutS = 300) => {
      const r = await guest(vm, `sudo -n bash -c ${shq(cmd)}`, timeoutS);
      return { ...r, out: `${r.stdout}${r.stderr}`.trim() };
    };
    const waitSsh = async (vm: Vm, what: string, bootId?: string) => {
      const started = Date.now();
      for (;;) {
        if (!vm.running && vm.boots > 0 && !(await vm.waitExit(1).then(() => false))) {
          /* restarting */
        }
        const r = await guest(vm, "cat /proc/sys/kernel/random/boot_id", 15);
        const id = r.stdout.trim();
        if (r.code === 0 && id && id !== bootId) {
          run.time(`${vm.spec.name}: ${what} until ssh answers`, (Date.now() - started) / 1000);
          return id;
        }
        if (Date.now() - started > 600_000) {
          throw new Error(
            `${vm.spec.name} did not answer ssh within 600 s; console:\n${vm.consoleSince().slice(-3000)}`,
          );
        }
        await sleep(3000);
      }
    };

    for (const vm of vms) {
      vm.start();
      const bootId = await waitSsh(vm, "first boot");
      // Device names as the config has them (kernel names can reorder; the serials tell).
      const names = await root(vm, "lsblk -dno NAME,SERIAL");
      const host = lab.config.hosts[vm.spec.name];
      const expected = [
        ...(host?.storage?.lvm
          ? [`${path.basename(host.storage.lvm.pv).replace(/p\d+$/, "")} e2e-system`]
          : []),
        ...(host?.storage?.disks ?? []).map((d) => `${path.basename(d.device)} e2e-${d.label}`),
      ];
      const seen = names.out.split("\n").map((l) => l.trim().replace(/\s+/g, " "));
      run.check(
        `${vm.spec.name}: the disks have the config's device names (${expected.map((e) => e.split(" ")[0]).join(", ")})`,
        expected.every((e) => seen.includes(e)),
        `lsblk: ${seen.join("; ")}`,
      );
      // The lab as the installer left it: the VG on the PV with today's LV, mounted.
      const lvm = host?.storage?.lvm;
      if (lvm) {
        const current = parseSize(lvm.currentSize) as number;
        const r = await root(
          vm,
          [
            "set -euo pipefail",
            `pvcreate -q ${lvm.pv}`,
            `vgcreate -q ${lvm.vg} ${lvm.pv}`,
            `lvcreate -q -y -L ${current}b -n ${lvm.lv} ${lvm.vg}`,
            `mkfs.${lvm.filesystem} -q /dev/${lvm.vg}/${lvm.lv}`,
            "mkdir -p /srv/lab-lv",
            `echo "UUID=$(blkid -o value -s UUID /dev/${lvm.vg}/${lvm.lv}) /srv/lab-lv ${lvm.filesystem} defaults 0 2" >>/etc/fstab`,
            "mount /srv/lab-lv",
            "echo before-first-apply >/srv/lab-lv/e2e-marker",
          ].join("\n"),
        );
        run.check(
          `${vm.spec.name}: the installer's layout: ${lvm.vg}/${lvm.lv} at ${lvm.currentSize} on ${lvm.pv}, mounted`,
          r.code === 0,
          r.out,
        );
        if (r.code !== 0) throw new Error("could not lay out the VM's LVM");
      }
      void bootId;
    }

    // 4. First apply.
    const steps = stepsOf(lab.result.resources);
    const blocked = steps.filter((s) => s.blockedBy);
    console.log(
      `apply: ${steps.length - blocked.length} of ${steps.length} command steps (${steps.filter((s) => s.type === REMOTE).length} remote, ${steps.filter((s) => s.type === LOCAL).length} local)`,
    );
    for (const s of blocked) console.log(`  not applied by the stand-in: ${s.name} (needs ${s.blockedBy})`);
    const applyOnce = async (what: string): Promise<{ ok: boolean; results: StepResult[] }> => {
      console.log(`${what}:`);
      const started = Date.now();
      try {
        const results = await apply(steps, { netnsPrefix: inLab, env, log: (l) => console.log(l) });
        run.time(what, (Date.now() - started) / 1000);
        run.check(`${what}: every step succeeded`, true, `${results.length} steps`);
        return { ok: true, results };
      } catch (e) {
        run.time(what, (Date.now() - started) / 1000);
        run.check(`${what}: every step succeeded`, false, (e as Error).message.slice(-4000));
        return { ok: false, results: e instanceof ApplyError ? e.results : [] };
      }
    };
    const vm = vms[0] as Vm;
    const hostName = vm.spec.name;
    const host = lab.config.hosts[hostName];
    const bootsBefore = vm.boots;
    const first = await applyOnce("first apply");
    slowest(run, first.results);
    let firstResults = first.results;
    if (!first.ok) {
      // A failed create is not recorded, so the next `pulumi up` retries it: apply again.
      const retry = await applyOnce("first apply, run again after its failure (as a second pulumi up would)");
      if (!retry.ok || !host) throw new Error("the first apply did not converge when run again");
      firstResults = [
        ...first.results,
        ...retry.results.filter((r) => !first.results.some((f) => f.name === r.name && f.ok)),
      ];
    }
    const first1 = firstResults;
    const rebooted = vm.boots > bootsBefore;
    const rebootStep = first1.find((r) => r.name === `${hostName}-nvidia-reboot`);
    const waitStep = first1.find((r) => r.name === `${hostName}-nvidia-wait`);
    run.check(
      `${hostName}: the NVIDIA step's reboot really rebooted the VM and the wait step saw it back`,
      rebooted &&
        /reboot=scheduled/.test(rebootStep?.stdout ?? "") &&
        /is back with boot id/.test(waitStep?.stdout ?? ""),
      `qemu boots: ${vm.boots}; reboot step: ${rebootStep?.report}; wait step: ${waitStep?.report}`,
    );
    if (rebooted && vm.bootStarted.length > 1) {
      run.time(
        `${hostName}: reboot by the NVIDIA step (qemu restart to the wait step's success)`,
        waitStep?.seconds ?? 0,
      );
    }
    const cmdline = await root(vm, "cat /proc/cmdline");
    const iommu = stepParams(lab.result, `${hostName}-nvidia-iommu`).KERNEL_ARGS ?? "";
    run.check(
      `${hostName}: the IOMMU kernel arguments (${iommu}) are active after the reboot (update-grub stand-in -> bootcfg)`,
      iommu
        .split(/\s+/)
        .filter(Boolean)
        .every((a) => ` ${cmdline.out} `.includes(` ${a} `)),
      cmdline.out,
    );

    await hostChecks(run, lab, vm, root, "after the first apply");
    const snap1 = await snapshot(vm, root, lab);

    // 5. Second apply: nothing changes.
    const second = (await applyOnce("second apply")).results;
    if (second.length > 0) {
      const changed = second.filter(
        (r) => !r.report.startsWith("no changes:") && !stepOf(steps, r.name)?.quiet,
      );
      const quietChanged = second.filter(
        (r) => stepOf(steps, r.name)?.quiet && !/no changes:/.test(r.stdout),
      );
      run.check(
        "second apply: every step reports that nothing changed",
        changed.length === 0 && quietChanged.length === 0,
        [...changed, ...quietChanged]
          .map((r) => `${r.name}: ${stepOf(steps, r.name)?.quiet ? "(secret step) changed" : r.report}`)
          .join("\n"),
      );
    }
    const snap2 = await snapshot(vm, root, lab);
    run.check(
      "second apply: no file, unit, mount, rule or volume differs from after the first",
      snap1 === snap2,
      diffLines(snap1, snap2),
    );

    // 6. Reboot by hand: everything comes back.
    const before = (await root(vm, "cat /proc/sys/kernel/random/boot_id")).out;
    await root(vm, "systemd-run --on-active=2 --unit=e2e-reboot systemctl reboot");
    await waitSsh(vm, "reboot", before);
    await hostChecks(run, lab, vm, root, "after a reboot");
    await timerChecks(run, lab, vm, root);
    await firewallChecks(run, lab, vm, root, inLab, inOut, runner.split("/")[0] as string);

    // Fault: a wrong host key pinned for a real step, with the step's own dial settings. It only
    // dials (and is refused before any command runs), so it runs beside the service checks.
    const wrongHostKey = async (): Promise<void> => {
      const probe = steps.find((s) => s.name === `${hostName}-drift-packages`);
      if (probe?.connection) {
        const wrongKey = readFileSync(path.join(image, "wrong_host_ed25519.pub"), "utf8")
          .trim()
          .split(/\s+/)
          .slice(0, 2)
          .join(" ");
        const wrong: Step = { ...probe, deps: [], connection: { ...probe.connection, hostKey: wrongKey } };
        const started = Date.now();
        let message = "";
        try {
          await apply([wrong], { netnsPrefix: inLab, env, log: (l) => console.log(l) });
        } catch (e) {
          message = (e as Error).message;
        }
        const seconds = (Date.now() - started) / 1000;
        run.time(`wrong host key: until ${probe.name} fails`, seconds);
        run.check(
          `fault: a wrong host key fails ${probe.name}, naming the host and its key`,
          message.includes(probe.name) &&
            message.includes(probe.connection.host) &&
            /host key/i.test(message),
          message
            .split("\n")
            .filter((l) => /failed|Host key|fingerprint/i.test(l))
            .join("\n"),
        );
        run.check(
          "fault: a wrong host key fails within 60 s",
          message !== "" && seconds <= 60,
          `${seconds.toFixed(0)} s: dialErrorLimit ${probe.connection.dialErrorLimit} retries a host-key mismatch like any dial error (components/remote/host.ts)`,
        );
      }
    };
    const wrongKeyDone = wrongHostKey().catch(
      (e: unknown) => void run.check("fault: the wrong host key check finished", false, String(e)),
    );

    // Prometheus and node-exporter from their registered inputs; issue 24's proof from a lab guest.
    if (lab.config.ladon?.host === hostName && firewall) {
      const guestCidr = labGuestAddress(
        firewall.labSubnet,
        firewall.adminSubnet,
        new Set([...used, runner.split("/")[0] as string]),
      );
      must(["bash", NET, "guest", id, guestCidr]);
      await serviceChecks({
        lab,
        host: hostName,
        cache: CACHE,
        check: (n, ok, d) => run.check(n, ok, d),
        time: (w, s) => run.time(w, s),
        log: (l) => run.log(l),
        root: (cmd, t) => root(vm, cmd, t),
        sshArgv: (cmd, t) => sshArgv(vm, cmd, t),
        env,
        inLab,
        inGuest: ["ip", "netns", "exec", `${id}-guest`],
        runnerIp: runner.split("/")[0] as string,
        guestIp: guestCidr.split("/")[0] as string,
      });
    }
    await wrongKeyDone;

    // The faults (tests/tiers/e2e/faults.ts): power cut mid-disk-step, data disk detached, sshd killed.
    await citadelFaults(ctx, lab, vm, args.config, over);
  } catch (err) {
    if (!(err instanceof SuiteDone))
      run.check("the e2e run finished", false, err instanceof Error ? err.message : String(err));
  } finally {
    await piRun;
    await teardown();
    const left = must(["bash", NET, "list", id]).trim();
    run.check(
      "teardown: no VM, namespace, bridge or tap of this run is left",
      ![...vms, ...suiteVms].some((v) => v.running) && left === "",
      left,
    );
  }
  run.time("whole e2e run", (Date.now() - t0) / 1000);
  mkdirSync(args.out, { recursive: true });
  writeFileSync(
    path.join(args.out, "e2e.json"),
    `${JSON.stringify({ checks: run.checks, timings: run.timings }, null, 2)}\n`,
  );
  console.log("\ntimings:");
  for (const t of run.timings) console.log(`  ${t.what}: ${t.seconds} s`);
  // The failed checks again, after the timings: the end of a long log names them.
  const failed = run.checks.filter((c) => c.result === "failed");
  if (failed.length > 0) console.log(`\nfailed:\n${failed.map((c) => `  [${c.at} s] ${c.name}`).join("\n")}`);
  console.log(`\n${run.passed} passed, ${run.failed} failed`);
  return run.failed > 0 ? 1 : 0;
}

/** Thrown when the selected suites need nothing of citadel's flow (--suite pi). */
class SuiteDone extends Error {}

type Root = (
  vm: Vm,
  cmd: string,
  timeoutS?: number,
) => Promise<{ code: number | null; out: string; stdout: string }>;

function stepOf(steps: Step[], name: string): Step | undefined {
  return steps.find((s) => s.name === name);
}

function slowest(run: Run, results: StepResult[]): void {
  const top = [...results].sort((a, b) => b.seconds - a.seconds).slice(0, 5);
  for (const r of top) run.time(`slowest step ${r.name}`, r.seconds);
}

/** What a booted host shows: volume, disks, Docker, firewall, timers. */
async function hostChecks(run: Run, lab: E2eLab, vm: Vm, root: Root, when: string): Promise<void> {
  const h = vm.spec.name;
  const host = lab.config.hosts[h];
  if (!host) return;
  const lvm = host.storage?.lvm;
  if (lvm) {
    const target = lvm.size === "all-free" ? "all-free" : String(parseSize(lvm.size));
    const r = await root(
      vm,
      `lvs --noheadings --units b --nosuffix -o lv_size /dev/${lvm.vg}/${lvm.lv} | tr -d ' '; df -B1 --output=size /srv/lab-lv | tail -1 | tr -d ' '; findmnt -rno SOURCE /srv/lab-lv; cat /srv/lab-lv/e2e-marker`,
    );
    const [lv, fs, src, marker] = r.out.split("\n");
    run.check(
      `${h} ${when}: ${lvm.vg}/${lvm.lv} is ${lvm.size} and its mounted ext4 filled it online (data kept)`,
      r.code === 0 &&
        (target === "all-free" || lv === target) &&
        Number(fs) > Number(lv) * 0.95 &&
        Boolean(src) &&
        marker === "before-first-apply",
      `lv ${lv} bytes, filesystem ${fs} bytes, mounted from ${src}, marker ${marker}`,
    );
  }
  for (const d of host.storage?.disks ?? []) {
    const r = await root(
      vm,
      `uuid=$(blkid -p -o value -s UUID ${d.device}); echo "$uuid"; blkid -p -o value -s LABEL ${d.device}; blkid -p -o value -s TYPE ${d.device}; grep -c "^UUID=$uuid ${d.mountPoint} " /etc/fstab; findmnt -rno SOURCE ${d.mountPoint}`,
    );
    const [uuid, label, type, inFstab, src] = r.out.split("\n");
    run.check(
      `${h} ${when}: ${d.device} is ${d.filesystem} labelled ${d.label}, mounted at ${d.mountPoint} by UUID`,
      Boolean(uuid) && label === d.label && type === d.filesystem && inFstab === "1" && src === d.device,
      `UUID ${uuid}, label ${label}, type ${type}, fstab lines ${inFstab}, mounted from ${src}`,
    );
  }
  // Rendered files are on the host as rendered (units, scripts, configs); the firewall's two are
  // merged by its step: the DOCKER-USER block into /etc/ufw/after.rules, the rules into ufw's own.
  const files = [...lab.result.files.entries()].filter(
    ([p]) => p.startsWith(`${h}/`) && !p.startsWith(`${h}/commands/`),
  );
  const wrong: string[] = [];
  for (const [p, content] of files) {
    const hostPath = p.slice(h.length);
    if (hostPath === "/etc/ufw/after.rules.citadel") {
      const r = await root(vm, "cat /etc/ufw/after.rules");
      if (!r.stdout.includes(content.trim()))
        wrong.push("/etc/ufw/after.rules: lacks the rendered DOCKER-USER block");
      continue;
    }
    if (hostPath === "/etc/ufw/citadel-rules.txt") {
      const r = await root(vm, "ufw show added");
      const added = r.stdout.split("\n").map((l) => l.replace(/ comment '?citadel'?$/, "").trim());
      for (const rule of content.split("\n").filter(Boolean)) {
        if (!added.includes(rule.replace(/ comment '?citadel'?$/, "").trim()))
          wrong.push(`ufw lacks the rule: ${rule}`);
      }
      continue;
    }
    const r = await root(vm, `cat ${shq(hostPath)}`);
    if (r.code !== 0) wrong.push(`${hostPath}: missing`);
    else if (r.stdout !== content) {
      // Byte for byte: a difference in trailing newlines alone fails too (it once hid one).
      const same = r.stdout.replace(/\n+$/, "") === content.replace(/\n+$/, "");
      wrong.push(
        `${hostPath}: differs${same ? ` only in trailing newlines (host ${trailing(r.stdout)}, out/files ${trailing(content)})` : ""}`,
      );
    }
  }
  run.check(
    `${h} ${when}: the ${files.length} rendered files are on the host byte for byte as rendered`,
    wrong.length === 0,
    wrong.join("\n"),
  );
  if (host.docker) {
    const r = await root(
      vm,
      `systemctl is-active docker; docker info --format '{{.DockerRootDir}} {{.LoggingDriver}} {{range $k, $v := .Runtimes}}{{$k}},{{end}}'; findmnt -rno SOURCE -T ${host.docker.dataRoot}`,
    );
    const [active, info, src] = r.out.split("\n");
    const dataDisk = (host.storage?.disks ?? []).find(
      (d) => host.docker && host.docker.dataRoot.startsWith(`${d.mountPoint}/`),
    );
    run.check(
      `${h} ${when}: Docker is active with data-root ${host.docker.dataRoot} on ${dataDisk?.device ?? "?"} (not the root disk) and the nvidia runtime`,
      active === "active" &&
        (info ?? "").startsWith(`${host.docker.dataRoot} `) &&
        (info ?? "").includes("nvidia,") &&
        src === dataDisk?.device,
      `docker ${active}; info: ${info}; ${host.docker.dataRoot} is on ${src}`,
    );
    const order = await root(vm, "systemctl show -p RequiresMountsFor -p After docker.service");
    run.check(
      `${h} ${when}: docker.service waits for the mount holding its data-root (RequiresMountsFor)`,
      order.out.includes(host.docker.dataRoot) ||
        (dataDisk ? order.out.includes(`${unitPath(dataDisk.mountPoint)}.mount`) : false),
      order.out,
    );
  }
  const fw = lab.config.ops?.firewall;
  if (fw) {
    const r = await root(vm, "ufw status verbose");
    run.check(
      `${h} ${when}: ufw is active with deny incoming`,
      /Status: active/.test(r.out) && /Default: deny \(incoming\)/.test(r.out),
      r.out.split("\n").slice(0, 3).join("; "),
    );
  }
  const timers = [...lab.result.files.keys()]
    .filter((p) => p.startsWith(`${h}/etc/systemd/system/`) && p.endsWith(".timer"))
    .map((p) => path.basename(p));
  if (timers.length > 0) {
    const r = await root(
      vm,
      `for t in ${timers.join(" ")}; do echo "$t $(systemctl is-enabled $t) $(systemctl is-active $t)"; done`,
    );
    const bad = r.out.split("\n").filter((l) => !/ enabled active$/.test(l));
    run.check(
      `${h} ${when}: the timers are enabled and active (${timers.join(", ")})`,
      r.code === 0 && bad.length === 0,
      bad.join("; "),
    );
  }
}

async function timerChecks(run: Run, lab: E2eLab, vm: Vm, root: Root): Promise<void> {
  const h = vm.spec.name;
  const services = [...lab.result.files.keys()]
    .filter((p) => p.startsWith(`${h}/etc/systemd/system/`) && p.endsWith(".service"))
    .map((p) => path.basename(p));
  if (services.includes("citadel-backup.service")) {
    const r = await root(
      vm,
      [
        "set -euo pipefail",
        "mkdir -p /etc/citadel && echo e2e-restore-probe >/etc/citadel/e2e-probe",
        "systemctl start citadel-backup.service",
        "export RESTIC_PASSWORD_FILE=/etc/citadel/restic/password",
        `export RESTIC_REPOSITORY=${shq(lab.config.ops?.backups?.repository ?? "")}`,
        "restic snapshots --json | jq length",
        "rm -rf /tmp/e2e-restore && restic restore latest --target /tmp/e2e-restore --include /etc/citadel/e2e-probe >/dev/null",
        "cat /tmp/e2e-restore/etc/citadel/e2e-probe",
        "rm -rf /tmp/e2e-restore /etc/citadel/e2e-probe",
      ].join("\n"),
      900,
    );
    const lines = r.out.split("\n");
    run.check(
      `${h}: citadel-backup.service makes a restic snapshot that restores`,
      r.code === 0 && Number(lines[lines.length - 2]) >= 1 && lines[lines.length - 1] === "e2e-restore-probe",
      r.out.slice(-1500),
    );
  }
  for (const svc of ["citadel-drift.service", "citadel-textfile-metrics.service"]) {
    if (!services.includes(svc)) continue;
    // The metrics files this start wrote: newer than a stamp taken just before it.
    const r = await root(
      vm,
      `set -euo pipefail; d=/var/lib/node_exporter/textfile; stamp=$(mktemp); sleep 1; systemctl start ${svc}; find $d -name '*.prom' -newer "$stamp" -printf '%f %s bytes\\n'; rm -f "$stamp"`,
      600,
    );
    const written = r.stdout.split("\n").filter(Boolean);
    run.check(
      `${h}: ${svc} writes its textfile metrics`,
      r.code === 0 && written.length >= 1,
      written.join("; ") || r.out.slice(-800),
    );
  }
}

async function firewallChecks(
  run: Run,
  lab: E2eLab,
  vm: Vm,
  root: Root,
  inLab: string[],
  inOut: string[],
  runnerIp: string,
): Promise<void> {
  const fw = lab.config.ops?.firewall;
  const h = vm.spec.name;
  const address = lab.config.hosts[h]?.address as string;
  // The rules the program rendered from the access model (components/plan/access.ts): each port
  // with the sources it is admitted from.
  const rules = lab.result.files.get(`${h}/etc/ufw/citadel-rules.txt`) ?? "";
  const opened = [...rules.matchAll(/allow from (\S+) to any port (\d+) proto tcp/g)]
    .map((m) => ({ source: m[1] as string, port: Number(m[2]) }))
    .filter((r) => r.port !== 22);
  const ports = [...new Set(opened.map((r) => r.port))].sort((a, b) => a - b);
  if (!fw || ports.length === 0) return;
  const admitted = (port: number) => opened.some((r) => r.port === port && inCidr(runnerIp, r.source));
  // Stand-in listeners on every opened port (the services themselves run in containers).
  const listening = await root(vm, standInListeners("e2e-listen", ports), 240);
  if (listening.code !== 0) throw new Error(listening.out);
  const probe = async (prefix: string[], port: number) =>
    (
      await exec(
        [...prefix, "timeout", "6", "bash", "-c", `exec 3<>/dev/tcp/${address}/${port}`],
        undefined,
        process.env,
      )
    ).code === 0;
  const ssh = await probe(inLab, 22);
  run.check(`${h}: from the admin subnet (${fw.adminSubnet}) SSH answers`, ssh, "");
  const lab1 = await Promise.all(ports.map(async (p) => [p, await probe(inLab, p)] as const));
  const mine = lab1.filter(([p]) => admitted(p));
  run.check(
    `${h}: from ${runnerIp} in the admin subnet, every port the access model admits it to answers (${mine.map(([p]) => p).join(", ")})`,
    mine.length > 0 && mine.every(([, ok]) => ok),
    mine
      .filter(([, ok]) => !ok)
      .map(([p]) => `port ${p} did not answer`)
      .join("; "),
  );
  const others = lab1.filter(([p]) => !admitted(p));
  if (others.length > 0)
    run.check(
      `${h}: from ${runnerIp}, the ports the access model admits only others to stay closed (${others.map(([p]) => p).join(", ")})`,
      others.every(([, ok]) => !ok),
      others
        .filter(([, ok]) => ok)
        .map(([p]) => `port ${p} answered`)
        .join("; "),
    );
  const out = await Promise.all([22, ...ports].map(async (p) => [p, await probe(inOut, p)] as const));
  run.check(
    `${h}: from the outsider namespace nothing answers (ports 22, ${ports.join(", ")})`,
    out.every(([, ok]) => !ok),
    out
      .filter(([, ok]) => ok)
      .map(([p]) => `port ${p} answered`)
      .join("; "),
  );
  await root(vm, `for p in ${ports.join(" ")}; do systemctl stop e2e-listen-$p || true; done`);
}

/** Files, units, mounts, rules and volumes that an apply may change, for comparing two applies. */
async function snapshot(vm: Vm, root: Root, lab: E2eLab): Promise<string> {
  const h = vm.spec.name;
  const rendered = [...lab.result.files.keys()]
    .filter((p) => p.startsWith(`${h}/`) && !p.startsWith(`${h}/commands/`))
    .map((p) => p.slice(h.length));
  const r = await root(
    vm,
    [
      "echo '== files'",
      `for f in /etc/fstab /etc/docker/daemon.json /etc/ufw/user.rules /etc/ufw/user6.rules /etc/ufw/after.rules /etc/default/grub.d/* /etc/apt/sources.list.d/* /etc/systemd/system/*.service /etc/systemd/system/*.timer /etc/systemd/system/*.d/* ${rendered.map(shq).join(" ")}; do [ -f "$f" ] && sha256sum "$f"; done | sort -u`,
      "echo '== units'",
      "systemctl list-unit-files --no-legend --state=enabled,disabled,masked | awk '{print $1, $2}' | sort",
      "echo '== mounts'",
      "findmnt -rn -o TARGET,SOURCE,FSTYPE,OPTIONS | grep -Ev '^/(proc|sys|dev|run)' | sort",
      "echo '== rules'",
      "iptables-save | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//' ",
      "echo '== volumes'",
      "lvs --noheadings --units b -o vg_name,lv_name,lv_size 2>/dev/null | sort",
      "echo '== held'",
      "apt-mark showhold | sort",
    ].join("\n"),
  );
  return r.out;
}

function trailing(s: string): string {
  const n = s.length - s.replace(/\n+$/, "").length;
  return `${n} trailing newline${n === 1 ? "" : "s"}`;
}

function unitPath(p: string): string {
  return p.replace(/^\//, "").replace(/\//g, "-");
}

function shq(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`e2e: ${err instanceof Error ? err.message : String(err)}`);
    console.log("0 passed, 1 failed");
    process.exit(1);
  },
);
