/**
 * The Pi as a VM (issue 20): the Pi's own stack file (examples/Pulumi.monitoring-pi.yaml) plus a
 * small printed overlay, four emulated SSDs (sparse qcow2 of the config's memberSize) for its
 * RAID10, applied twice with the stand-in, rebooted, then one member failed and the apply run again.
 *
 * The overlay, and why each key differs from the Pi:
 *   - hosts.pi.arch: amd64, because the VM is x86 (qemu emulates q35, not the Pi's BCM2711);
 *   - hosts.pi.ssh.user: the image's admin user, and ssh.hostKey: the image's host key;
 *   - hosts.pi.docker.version: Debian's docker.io version, which stands in for docker-ce;
 *   - hosts.pi.storage.raids[0].members: the four virtio disks by id (/dev/disk/by-id/virtio-<serial>),
 *     in the place of the HAT's bays.
 * In the guest, before the first apply: `update-initramfs` is a stand-in that records its call
 * and hands mdadm.conf to the runner for the next boot's initrd (the VM boots the image's kernel
 * and initrd directly, and rebuilding one under emulation takes many minutes), and md's resync is
 * throttled to 2 MB/s (dev.raid.speed_limit_max) so that a 2 TiB resync does not take the run's CPU.
 */
import path from "node:path";
import { parse } from "yaml";
import { LabConfigSchema, type LabConfig } from "../../../components/config";
import { parseSize } from "../../../components/config/units";
import { overlay, throwawaySecrets } from "../conformance/lab";
import { synthesize } from "../../../lib/synth/harness";
import { runLab } from "../../../lib/synth/program";
import { readStackFile } from "../../../lib/synth/stackfile";
import { ensureUpstream } from "../../../lib/upstream";
import { exec, LOCAL, REMOTE, stdoutMarker, stepsOf } from "./apply";
import { applyOnce, changedSteps, diffLines, probeOpts, root, waitSsh, type SuiteContext } from "./guestops";
import { vmOverlay, type E2eLab } from "./lab";
import { BOOTCFG_INITRAMFS_OFFSET, Vm, type Disk } from "./vm";

export const PI_STACK = "examples/Pulumi.monitoring-pi.yaml";
export const PI_TAP = "tappi";
const HOST = "pi";
/** The run's own sysctl.d file that keeps md's resync throttled across the Pi's reboot. */
const RESYNC_SYSCTL = "/etc/sysctl.d/90-e2e-raid-resync.conf";
/** The node_exporter scrape port inside the guest for the metric check (loopback only). */
const EXPORTER_PORT = 19100;

/** The rendered rule file the Pi's Prometheus loads (components/ladon/render/rules). */
export const PI_RULES = `${HOST}/etc/citadel/prometheus/rules/citadel.yml`;

/** The expression of the rendered HostRaidDegraded alert, or "" when the program renders none. */
export function raidAlertExpr(lab: E2eLab): string {
  const doc = parse(lab.result.files.get(PI_RULES) ?? "") as {
    groups?: { rules?: { alert?: string; expr?: string }[] }[];
  } | null;
  const rules = (doc?.groups ?? []).flatMap((g) => g.rules ?? []);
  return rules.find((r) => r.alert === "HostRaidDegraded")?.expr ?? "";
}

/** The Pi's stack file with the VM overlay; the members are replaced, not appended. */
export async function loadPiLab(
  image: string,
  user: string,
  members: string[],
): Promise<E2eLab & { members: string[] }> {
  const file = readStackFile(PI_STACK);
  const base = LabConfigSchema.parse(file.values);
  const vm = vmOverlay(base, image) as { hosts: Record<string, Record<string, unknown>> };
  const pi = vm.hosts[HOST] as { ssh: Record<string, unknown> };
  const over = {
    hosts: {
      [HOST]: {
        ...pi,
        arch: "amd64",
        ssh: { ...pi.ssh, user },
      },
    },
  };
  const values = overlay(file.values, over) as typeof file.values & {
    hosts: Record<string, { storage: { raids: { members: string[] }[] } }>;
  };
  const raid = values.hosts[HOST]?.storage.raids[0];
  if (!raid) throw new Error(`${PI_STACK}: hosts.pi.storage.raids[0] is missing`);
  values.hosts[HOST] = {
    ...values.hosts[HOST],
    storage: { ...values.hosts[HOST]?.storage, raids: [{ ...raid, members }] },
  } as (typeof values.hosts)[string];
  const secrets = throwawaySecrets();
  const result = await synthesize({
    stack: { ...file, values },
    program: runLab,
    secrets,
    outputs: (type, name) => (type === REMOTE || type === LOCAL ? { stdout: stdoutMarker(name) } : undefined),
  });
  const printed = {
    hosts: { [HOST]: { ...over.hosts[HOST], "storage.raids[0].members": members } },
  };
  return { config: LabConfigSchema.parse(values), result, secrets, overlay: printed, members };
}

/** Boots the Pi VM, applies its stack twice, fails one RAID member and applies again. */
export async function piSuite(ctx: SuiteContext, user: string): Promise<void> {
  const { run } = ctx;
  const t0 = Date.now();
  const bays = [1, 2, 3, 4].map((n) => `e2e-bay${n}`);
  // virtio-blk disks with a serial appear as /dev/disk/by-id/virtio-<serial> (udev's 60-persistent-storage).
  const members = bays.map((s) => `/dev/disk/by-id/virtio-${s}`);
  const lab = await loadPiLab(ctx.image, user, members);
  const config: LabConfig = lab.config;
  const host = config.hosts[HOST];
  const raidCfg = host?.storage?.raids?.[0];
  if (!host || !raidCfg) throw new Error(`${PI_STACK} has no host pi with a RAID`);
  run.log(`pi: config ${PI_STACK} with the e2e overlay ${JSON.stringify(lab.overlay)}`);
  const md = `/dev/md/${raidCfg.name}`;
  const mount = raidCfg.mountPoint;
  const memberBytes = parseSize(raidCfg.memberSize ?? "64GiB") as number;
  const disks: Disk[] = bays.map((serial) => ({
    file: path.join(ctx.dir, `${HOST}-${serial}.qcow2`),
    format: "qcow2",
    bus: "virtio",
    serial,
  }));
  for (const d of disks) {
    const r = await exec(
      ["qemu-img", "create", "-q", "-f", "qcow2", d.file, String(memberBytes)],
      "",
      process.env,
    );
    if (r.code !== 0) throw new Error(`qemu-img create ${d.file} failed: ${r.stderr}`);
  }
  const vm = new Vm({
    name: HOST,
    image: ctx.image,
    dir: ctx.dir,
    netns: ctx.labNs,
    tap: PI_TAP,
    mac: "52:54:00:e2:00:40",
    append: [
      `e2e.hostname=${HOST}`,
      `e2e.addr=${host.address}/${ctx.adminBits}`,
      `e2e.onlink=${ctx.outsider.replace(/\.\d+\//, ".0/")}`,
    ],
    disks,
    memoryMiB: 2048,
    // One vCPU: it runs beside citadel on a 2-core machine, and its steps are apt, mdadm and mkfs.
    cpus: 1,
  });
  vm.prepare();
  ctx.vms.push(vm);
  const sh = (cmd: string, timeoutS?: number) => root(ctx, config, vm, cmd, timeoutS);
  vm.start();
  await waitSsh(ctx, config, vm, "first boot");

  const seen = await sh(`for m in ${members.join(" ")}; do echo "$m $(readlink -f "$m")"; done`);
  run.check(
    `pi: the four SSDs are at the config's member paths (${members.map((m) => path.basename(m)).join(", ")})`,
    seen.code === 0 && seen.out.split("\n").filter((l) => / \/dev\/vd[a-z]$/.test(l)).length === 4,
    seen.out,
  );
  const prep = await sh(
    [
      "set -euo pipefail",
      "install -d /var/lib/e2e",
      // The stand-in records its call and hands the runner what mdadm's initramfs hook copies
      // into a rebuilt initramfs: /etc/mdadm/mdadm.conf, its CREATE lines commented out
      // (/usr/share/initramfs-tools/hooks/mdadm, the image's mdadm 4.2-5). The runner appends
      // it to the next boot's initrd (Vm.initrd), so that boot assembles the array by its ARRAY
      // line, as the lab's does after the real update-initramfs.
      "cat >/usr/local/sbin/update-initramfs <<'EOF'",
      "#!/bin/sh",
      "# citadel e2e stand-in for update-initramfs (tests/tiers/e2e/pi.ts)",
      "set -eu",
      'echo "$*" >>/var/lib/e2e/update-initramfs.calls',
      "[ -f /etc/mdadm/mdadm.conf ] || exit 0",
      "conf=$(sed '/^CREATE/s/^/#/' /etc/mdadm/mdadm.conf)",
      `{ printf 'e2e-initramfs /etc/mdadm/mdadm.conf %d\\n' "$(printf '%s\\n' "$conf" | wc -c)"; printf '%s\\n' "$conf"; } | dd of=/dev/disk/by-id/virtio-e2e-bootcfg bs=4096 seek=${BOOTCFG_INITRAMFS_OFFSET / 4096} conv=sync,fsync status=none`,
      "EOF",
      "chmod 0755 /usr/local/sbin/update-initramfs",
      "sysctl -qw dev.raid.speed_limit_max=2000",
      // The same throttle for the boots after a reboot: systemd-sysctl.service applies
      // /etc/sysctl.d at boot (sysctl.d(5), systemd 252); md_mod is loaded by then (the image's
      // initramfs carries mdadm's hook, which loads it).
      `echo 'dev.raid.speed_limit_max = 2000' >${RESYNC_SYSCTL}`,
    ].join("\n"),
  );
  if (prep.code !== 0) throw new Error(`pi: could not prepare the guest: ${prep.out}`);

  const steps = stepsOf(lab.result.resources);
  const blocked = steps.filter((s) => s.blockedBy);
  run.log(`pi apply: ${steps.length - blocked.length} of ${steps.length} command steps`);
  for (const s of blocked) run.log(`  not applied by the stand-in: ${s.name} (needs ${s.blockedBy})`);

  // First apply, and once more after a failure, as a second `pulumi up` would.
  let first = await applyOnce(ctx, steps, "pi first apply");
  run.check("pi first apply: every step succeeded", first.ok, first.error.slice(-3000));
  if (!first.ok) {
    first = await applyOnce(ctx, steps, "pi first apply, run again after its failure");
    run.check("pi first apply, run again: every step succeeded", first.ok, first.error.slice(-3000));
    if (!first.ok) return;
  }
  for (const r of [...first.results].sort((a, b) => b.seconds - a.seconds).slice(0, 3))
    run.time(`pi slowest step ${r.name}`, r.seconds);

  const state = async () => {
    const r = await sh(
      [
        `d=$(readlink -f ${md}); echo "dev=$d"`,
        `mdadm --detail --export ${md} | grep -E '^MD_(LEVEL|DEVICES|UUID)='`,
        `echo "degraded=$(cat /sys/block/\${d#/dev/}/md/degraded)"`,
        `echo "active=$(mdadm --detail ${md} | sed -n 's/^ *Active Devices : //p')"`,
        `fs=$(blkid -p -o value -s UUID "$d"); echo "fs_uuid=$fs"`,
        `echo "fs_type=$(blkid -p -o value -s TYPE "$d") fs_label=$(blkid -p -o value -s LABEL "$d")"`,
        `echo "mounted=$(findmnt -rno SOURCE --mountpoint ${mount})"`,
        `echo "fstab=$(grep -c "^UUID=$fs ${mount} " /etc/fstab)"`,
        `echo "conf=$(grep -c "^ARRAY ${md} .*UUID=$(mdadm --detail --export ${md} | sed -n 's/^MD_UUID=//p')" /etc/mdadm/mdadm.conf)"`,
        `echo "marker=$(cat ${mount}/e2e-marker 2>/dev/null)"`,
      ].join("\n"),
    );
    const v: Record<string, string> = {};
    for (const m of r.out.matchAll(/(\w+)=(\S*)/g)) v[m[1] as string] = m[2] as string;
    return { v, out: r.out };
  };
  const s1 = await state();
  run.check(
    `pi after the first apply: RAID${raidCfg.level} ${md} is created with real md from the four SSDs, complete`,
    s1.v.MD_LEVEL === `raid${raidCfg.level}` && s1.v.MD_DEVICES === "4" && s1.v.degraded === "0",
    s1.out,
  );
  run.check(
    `pi after the first apply: ${md} holds ${raidCfg.filesystem} labelled ${raidCfg.label}, mounted at ${mount} by UUID, its ARRAY line in mdadm.conf`,
    s1.v.fs_type === raidCfg.filesystem &&
      s1.v.fs_label === raidCfg.label &&
      s1.v.mounted === s1.v.dev &&
      s1.v.fstab === "1" &&
      s1.v.conf === "1",
    s1.out,
  );
  const timers = [...lab.result.files.keys()]
    .filter((p) => p.startsWith(`${HOST}/etc/systemd/system/`) && p.endsWith(".timer"))
    .map((p) => path.basename(p));
  const dataRoot = host.docker?.dataRoot ?? "";
  /** The timers, ufw and Docker on the array: after the first apply, and after a reboot. */
  const serviceState = async (when: string, dev: string | undefined) => {
    const tm = await sh(
      `for t in ${timers.join(" ")}; do echo "$t $(systemctl is-enabled $t) $(systemctl is-active $t)"; done`,
    );
    run.check(
      `pi ${when}: the timers are enabled and active, the RAID scrub's among them (${timers.join(", ")})`,
      timers.includes("citadel-raid-scrub.timer") &&
        tm.out.split("\n").filter((l) => / enabled active$/.test(l)).length === timers.length,
      tm.out,
    );
    // After a boot, Docker's unit is "activating" until dockerd reports ready, which under
    // emulation comes well after sshd answers: wait for the boot's jobs to finish first.
    const dk = await sh(
      `timeout 300 systemctl is-system-running --wait >/dev/null 2>&1 || true; systemctl is-active docker; docker info --format '{{.DockerRootDir}}'; findmnt -rno SOURCE -T ${dataRoot}; ufw status verbose | grep -E '^(Status|Default):'`,
    );
    const [dActive, dRoot, dSrc, ufwStatus = "", ufwDefault = ""] = dk.out.split("\n");
    run.check(
      `pi ${when}: Docker is active with its data-root ${dataRoot} on the array, and ufw is active with deny incoming`,
      dActive === "active" &&
        dRoot === dataRoot &&
        dSrc === dev &&
        ufwStatus === "Status: active" &&
        /deny \(incoming\)/.test(ufwDefault),
      dk.out,
    );
  };
  await serviceState("after the first apply", s1.v.dev);
  const initramfs = await sh("cat /var/lib/e2e/update-initramfs.calls 2>/dev/null | wc -l");
  run.check(
    "pi after the first apply: the initramfs was rebuilt once for the new ARRAY line (update-initramfs stand-in)",
    initramfs.out === "1",
    `calls: ${initramfs.out}`,
  );
  const marker = `written-after-the-first-apply-${Date.now()}`;
  await sh(`echo ${marker} >${mount}/e2e-marker && sync`);
  const snapshot = async () =>
    (
      await sh(
        [
          "sha256sum /etc/fstab /etc/mdadm/mdadm.conf /etc/docker/daemon.json /etc/ufw/user.rules /etc/systemd/system/*.service /etc/systemd/system/*.timer /etc/systemd/system/*.d/* 2>/dev/null | sort",
          "systemctl list-unit-files --no-legend --state=enabled,disabled,masked | awk '{print $1, $2}' | sort",
          "findmnt -rn -o TARGET,SOURCE,FSTYPE,OPTIONS | grep -Ev '^/(proc|sys|dev|run)' | sort",
          `mdadm --detail --export ${md} | grep -E '^MD_(UUID|LEVEL|DEVICES)='`,
          "iptables-save | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'",
          "cat /var/lib/e2e/update-initramfs.calls",
        ].join("\n"),
      )
    ).out;
  const snap1 = await snapshot();

  // Second apply: nothing changes.
  const second = await applyOnce(ctx, steps, "pi second apply");
  const changed = second.ok ? changedSteps(steps, second.results) : [];
  run.check(
    "pi second apply: every step succeeded and reports that nothing changed",
    second.ok && changed.length === 0,
    second.ok ? changed.join("\n") : second.error.slice(-3000),
  );
  const snap2 = await snapshot();
  run.check(
    "pi second apply: no file, unit, mount, array or rule differs from after the first",
    snap1 === snap2,
    diffLines(snap1, snap2),
  );

  // Reboot by hand: the array is assembled again (by mdadm's udev rules, from its ARRAY line),
  // mounted by UUID, and Docker, ufw and the timers come back on it.
  const bootId = (await sh("cat /proc/sys/kernel/random/boot_id")).out;
  await sh("systemd-run --on-active=2 --unit=e2e-reboot systemctl reboot");
  await waitSsh(ctx, config, vm, "reboot", bootId);
  const sr = await state();
  run.check(
    `pi after a reboot: ${md} is assembled again, complete (md UUID ${s1.v.MD_UUID}), and mounted at ${mount} by UUID with the file written after the first apply`,
    sr.v.MD_UUID === s1.v.MD_UUID &&
      sr.v.MD_DEVICES === "4" &&
      sr.v.degraded === "0" &&
      sr.v.fs_uuid === s1.v.fs_uuid &&
      sr.v.mounted === sr.v.dev &&
      sr.v.marker === marker,
    sr.out,
  );
  await serviceState("after a reboot", sr.v.dev);

  // RAID fault: one member failed, as the kernel fails a dying disk (it stays listed, faulty),
  // the apply again; then the member removed by hand, and the apply again.
  const failed = members[1] as string;
  const raidStepName = `${HOST}-storage-raid-${raidCfg.name}`;
  const warnings = (o: { ok: boolean; error: string; results: { name: string; stdout: string }[] }) =>
    o.ok
      ? (o.results.find((r) => r.name === raidStepName)?.stdout ?? "(no raid step result)")
          .split("\n")
          .filter((l) => /WARNING|changed:|done:|no changes:/.test(l))
          .join("\n")
      : o.error.slice(-3000);
  const raidOut = (o: { results: { name: string; stdout: string }[] }) =>
    o.results.find((r) => r.name === raidStepName)?.stdout ?? "";
  const f = await sh(`set -euo pipefail; mdadm ${md} --fail "$(readlink -f ${failed})"; cat /proc/mdstat`);
  run.check(`pi fault: ${failed} failed in ${md} (mdadm --fail)`, f.code === 0, f.out);
  const addCmd = `mdadm --manage ${md} --add ${failed}`;
  const faulty = await applyOnce(ctx, steps, "pi apply with one RAID member failed (still listed, faulty)");
  run.check(
    "pi fault, member faulty: the apply succeeds, warns that the array is degraded and names the --remove and --add commands",
    faulty.ok &&
      /WARNING: .*DEGRADED/.test(raidOut(faulty)) &&
      raidOut(faulty).includes(`mdadm --manage ${md} --remove ${failed} && ${addCmd}`),
    warnings(faulty),
  );
  // md takes the member out of its slot shortly after --fail; until then --remove says busy.
  const rm = await sh(
    `dev=$(readlink -f ${failed}); for _ in $(seq 60); do mdadm ${md} --remove "$dev" 2>&1 && exit 0; sleep 1; done; exit 1`,
  );
  run.check(`pi fault: ${failed} removed from ${md} (mdadm --remove)`, rm.code === 0, rm.out);
  const third = await applyOnce(ctx, steps, "pi apply with one RAID member failed and removed");
  run.check(
    "pi fault, member removed: the apply succeeds (a warning never changes the exit code), warns that the array is degraded and names the mdadm --add command",
    third.ok && /WARNING: .*DEGRADED/.test(raidOut(third)) && raidOut(third).includes(addCmd),
    warnings(third),
  );
  const s3 = await state();
  run.check(
    `pi fault: the array was not recreated (md UUID ${s1.v.MD_UUID}, filesystem UUID ${s1.v.fs_uuid} kept) and the file written after the first apply is still there`,
    s3.v.MD_UUID === s1.v.MD_UUID &&
      s3.v.fs_uuid === s1.v.fs_uuid &&
      s3.v.marker === marker &&
      s3.v.mounted === sr.v.dev &&
      s3.v.degraded === "1",
    s3.out,
  );

  // The RAID alert's metric, as the pinned node_exporter reads this guest's /proc/mdstat.
  const rule = raidAlertExpr(lab);
  const exporter = await ensureUpstream("nodeExporter", (l) => run.log(l));
  const hostCfg = config.hosts[HOST];
  const scp = await exec(
    [
      ...ctx.inLab,
      "scp",
      "-q",
      ...probeOpts(ctx.image),
      exporter.bin("node_exporter"),
      `${hostCfg?.ssh.user}@${hostCfg?.address}:/tmp/e2e-node-exporter`,
    ],
    "",
    ctx.env,
  );
  // node_exporter@v1.12.1: --collector.disable-defaults (node_exporter.go), the mdadm collector
  // and its node_md_disks_required{device} and node_md_disks{device,state} (collector/mdadm_linux.go),
  // --web.listen-address (exporter-toolkit web/kingpinflag/flag.go).
  const m = await sh(
    [
      "set -euo pipefail",
      `systemd-run --unit=e2e-node-exporter /tmp/e2e-node-exporter --collector.disable-defaults --collector.mdadm --web.listen-address=127.0.0.1:${EXPORTER_PORT} >/dev/null`,
      `for _ in $(seq 60); do curl -fsS http://127.0.0.1:${EXPORTER_PORT}/metrics >/tmp/e2e-metrics 2>/dev/null && break; sleep 1; done`,
      "grep -E '^node_md_disks(_required)?\\{' /tmp/e2e-metrics",
      "systemctl stop e2e-node-exporter",
    ].join("\n"),
    180,
  );
  const dev = path.basename(s3.v.dev ?? "");
  const num = (re: RegExp) => Number(re.exec(m.out)?.[1] ?? NaN);
  const required = num(new RegExp(`^node_md_disks_required\\{device="${dev}"\\} (\\d+)`, "m"));
  const active = num(new RegExp(`^node_md_disks\\{device="${dev}",state="active"\\} (\\d+)`, "m"));
  run.check(
    `pi fault: the RAID alert's metric shows the degraded array: node_exporter ${exporter.version} reports ${dev} with ${active} of ${required} disks active (HostRaidDegraded: ${rule || "rule not found"})`,
    scp.code === 0 &&
      rule.includes("node_md_disks_required") &&
      rule.includes('node_md_disks{state="active"}') &&
      required === 4 &&
      active === 3,
    `${scp.stderr}${m.out}`.trim(),
  );
  run.time("pi suite (boot, four applies, a reboot, checks)", (Date.now() - t0) / 1000);
}
