/**
 * Faults on citadel (issue 20, item 5), run after its own checks, on the converged VM. In the
 * cheapest order that still proves each claim on its own evidence (every boot and apply under
 * emulation costs a minute or more):
 *   (a) the power cut in the middle of the disk step: a file is written on each disk, the operator
 *       grows the volume (storage.lvm.size raised in the overlay, printed), and qemu is killed (no
 *       guest shutdown) while the step's lvextend or resize2fs runs;
 *   (c) the boot after the cut is made with the data disk detached: Docker does not start on an
 *       empty data root, and nothing is written to the root disk where the data disk mounts; a
 *       clean poweroff, and the VM boots with the disk again;
 *   (a) then the apply converges: the volume and its filesystem at the new size, each disk's file
 *       still there, Docker active on the data disk;
 *   (b) sshd killed while a step's script runs: the apply fails naming that step; a re-run
 *       converges and reports no change in any step (so also nothing the power cut left).
 * A fault is timed from inside the guest: a watcher session waits (pgrep, every 0.2 s) until the
 * step's own process runs, then fires it.
 */
import { parseSize } from "../../../components/config/units";
import { stepsOf, type Step } from "./apply";
import { applyOnce, changedSteps, root, sleep, waitSsh, type SuiteContext } from "./guestops";
import { loadE2eLab, type E2eLab } from "./lab";
import type { Vm } from "./vm";

/** The step whose script is running when sshd is killed (a re-run of it takes a few seconds). */
export const SSHD_STEP = "docker-engine";
/** The raised size for the power-cut fault: above the config's, within the lab NVMe's VG. */
export const GROWN = "3.5TiB";
/** The run's own drop-in that shortens systemd's device timeout for the boots of the faults. */
const DEVICE_TIMEOUT_DROPIN = "/etc/systemd/system.conf.d/e2e-device-timeout.conf";
/** Where index.ts mounts the installer's logical volume in the VM. */
const LV_MOUNT = "/srv/lab-lv";

export async function citadelFaults(
  ctx: SuiteContext,
  lab: E2eLab,
  vm: Vm,
  stackFile: string,
  over: Record<string, unknown>,
): Promise<void> {
  const { run } = ctx;
  const h = vm.spec.name;
  const host = lab.config.hosts[h];
  if (!host) return;
  const t0 = Date.now();
  const sh = (cmd: string, timeoutS?: number) => root(ctx, lab.config, vm, cmd, timeoutS);
  const lvm = host.storage?.lvm;
  const dataRoot = host.docker?.dataRoot;
  const dataDisk = (host.storage?.disks ?? []).find((d) => dataRoot?.startsWith(`${d.mountPoint}/`));
  if (!lvm || !dataRoot || !dataDisk) {
    run.check(
      `fault: ${h} has what the faults need (storage.lvm for the power cut, docker.dataRoot on a storage.disks[] entry for the detached disk)`,
      false,
      `storage.lvm ${lvm ? "set" : "missing"}; docker.dataRoot ${dataRoot ?? "missing"}; its disk ${dataDisk?.device ?? "missing"}`,
    );
    return;
  }

  // (a) Power cut in the middle of the disk step, on a re-apply that grows the volume.
  const mounts = [LV_MOUNT, ...(host.storage?.disks ?? []).map((d) => d.mountPoint)];
  const marker = `e2e-written-after-the-first-apply-${Date.now()}`;
  // The boot without the data disk (c) waits for the missing device's job to time out before
  // docker.service fails its dependency: systemd's DefaultDeviceTimeoutSec, 90 s by default
  // (systemd-system.conf(5) of the guest's systemd 252: "the default timeout for waiting for
  // devices"). The run shortens it to 30 s for the boots of the faults, in a system.conf.d drop-in
  // of its own that it removes before the VM boots with the disk again: the same outcome, a minute
  // sooner. The program's own fstab lines are unchanged.
  const wrote = await sh(
    [
      "set -euo pipefail",
      `for m in ${mounts.join(" ")}; do echo ${marker} >"$m/e2e-fault-marker"; done`,
      `install -D -m 0644 /dev/stdin ${DEVICE_TIMEOUT_DROPIN} <<'EOF'`,
      "[Manager]",
      "DefaultDeviceTimeoutSec=30s",
      "EOF",
      "sync",
    ].join("\n"),
  );
  if (!run.check(`fault: a file is written on each disk (${mounts.join(", ")})`, wrote.code === 0, wrote.out))
    return;
  const hostsOver = (over.hosts ?? {}) as Record<string, object>;
  const grown = await loadE2eLab(
    stackFile,
    { ...over, hosts: { ...hostsOver, [h]: { ...hostsOver[h], storage: { lvm: { size: GROWN } } } } },
    lab.secrets,
  );
  const steps: Step[] = stepsOf(grown.result.resources);
  run.log(`fault: the operator raises ${h}.storage.lvm.size from ${lvm.size} to ${GROWN}`);
  await sh("rm -f /run/e2e-stop-watch");
  const cut = sh(
    `until l=$(pgrep -lx 'lvextend|resize2fs' | head -1) && [ -n "$l" ]; do [ -e /run/e2e-stop-watch ] && exit 1; sleep 0.2; done; echo "\${l#* }"`,
    900,
  );
  let caught = "";
  const fired = cut.then(async (r) => {
    if (r.code === 0 && r.stdout.trim()) {
      caught = r.stdout.trim();
      await vm.kill();
    }
  });
  await sleep(2000);
  const cutApply = await applyOnce(ctx, steps, "fault: apply the grown volume, power cut mid-step");
  if (vm.running && !caught) await sh("touch /run/e2e-stop-watch");
  await fired;
  run.check(
    `fault: the power was cut (qemu killed) while ${h}-storage-lvm ran ${caught || "(not caught)"}, and that apply failed`,
    caught !== "" && !vm.running && !cutApply.ok,
    cutApply.error.split("\n").slice(0, 2).join("\n"),
  );
  if (vm.running) await vm.kill();

  // (c) The boot after the cut, with the data disk detached.
  const all = vm.spec.disks;
  vm.spec.disks = all.filter((d) => d.serial !== `e2e-${dataDisk.label}`);
  vm.start();
  await waitSsh(ctx, lab.config, vm, `boot after the power cut, without ${dataDisk.device}`);
  const r = await sh(
    [
      `echo "disk=$(lsblk -dno SERIAL | grep -c '^e2e-${dataDisk.label}$' || true)"`,
      // The boot settles when docker.service has run or failed its dependency on the mount.
      "systemctl is-system-running --wait >/dev/null 2>&1 || true",
      `echo "docker=$(systemctl is-active docker.service || true)"`,
      `echo "mounted=$(findmnt -rno SOURCE --mountpoint ${dataDisk.mountPoint} || true)"`,
      `echo "dataroot=$(test -e ${dataRoot} && echo present || echo absent)"`,
      `echo "below=$(find ${dataDisk.mountPoint} -mindepth 1 2>/dev/null | wc -l)"`,
      `journalctl -b -u docker.service --no-pager -o cat | grep -m2 -i 'dependency\\|mount' || true`,
    ].join("\n"),
    600,
  );
  const v: Record<string, string> = {};
  for (const m of r.out.matchAll(/^(\w+)=(.*)$/gm)) v[m[1] as string] = m[2] as string;
  run.check(
    `fault: booted without ${dataDisk.device}: docker.service is not active (it requires the mount of ${dataRoot})`,
    v.disk === "0" && v.mounted === "" && v.docker !== undefined && v.docker !== "active",
    r.out,
  );
  run.check(
    `fault: booted without ${dataDisk.device}: nothing was written to the root disk at ${dataDisk.mountPoint} (no ${dataRoot})`,
    v.dataroot === "absent" && v.below === "0",
    `data root ${v.dataroot}; ${v.below} entries under ${dataDisk.mountPoint}`,
  );
  await sh(
    `rm -f ${DEVICE_TIMEOUT_DROPIN}; systemd-run --on-active=1 --unit=e2e-poweroff systemctl poweroff`,
  );
  if (!(await vm.waitExit(180_000))) await vm.kill();
  run.log(`${h}: powered off to attach ${dataDisk.device} again`);
  vm.spec.disks = all;
  vm.start();
  await waitSsh(ctx, lab.config, vm, `boot with ${dataDisk.device} again`);

  // (a) The apply after the power cut converges, and the files are still there.
  const after = await applyOnce(ctx, steps, "fault: apply again after the power cut");
  const lvStep = after.results.find((x) => x.name === `${h}-storage-lvm`);
  const st = await sh(
    [
      `lvs --noheadings --units b --nosuffix -o lv_size /dev/${lvm.vg}/${lvm.lv} | tr -d ' '`,
      `dumpe2fs -h /dev/${lvm.vg}/${lvm.lv} 2>/dev/null | awk -F: '/^Block count/ { c = $2 } /^Block size/ { s = $2 } END { printf "%.0f\\n", c * s }'`,
      `for m in ${mounts.join(" ")}; do echo "$m $(findmnt -rno SOURCE --mountpoint "$m") $(cat "$m/e2e-fault-marker" 2>/dev/null)"; done`,
      `echo "docker=$(systemctl is-active docker) on $(findmnt -rno SOURCE -T ${dataRoot})"`,
    ].join("\n"),
  );
  const [lv, fs, ...rest] = st.out.split("\n");
  const marks = rest.filter((l) => !l.startsWith("docker="));
  const docker = rest.find((l) => l.startsWith("docker=")) ?? "";
  const want = parseSize(GROWN) as number;
  run.check(
    `fault: after the power cut, the apply converges: ${lvm.vg}/${lvm.lv} and its ext4 at ${GROWN}`,
    after.ok && Number(lv) === want && want - Number(fs) <= 64 * 1024 * 1024,
    `${after.ok ? (lvStep?.stdout ?? "").trim().split("\n").slice(-3).join("; ") : after.error.slice(-2000)}\nlv ${lv} bytes, filesystem ${fs} bytes`,
  );
  run.check(
    `fault: after the power cut and the boot without ${dataDisk.device}, the file written after the first apply is on each disk (${mounts.join(", ")}), and Docker is active on ${dataDisk.device}`,
    marks.length === mounts.length &&
      marks.every((l) => / \/dev\/\S+ /.test(l) && l.endsWith(marker)) &&
      docker === `docker=active on ${dataDisk.device}`,
    [...marks, docker].join("\n"),
  );

  // (b) sshd killed in the middle of a step.
  const target = `${h}-${SSHD_STEP}`;
  const script = `citadel script: host/scripts/${SSHD_STEP}.sh`;
  // The pattern's last letter in brackets: it matches the step's command line, not the watcher's.
  const pattern = `${script.slice(0, -1)}[${script.slice(-1)}]`;
  // The watcher's own session dies with sshd; systemd-run's unit does the kill outside it. It
  // gives up when the stop file appears (the apply ended without the step being caught).
  await sh("rm -f /run/e2e-stop-watch");
  const watcher = sh(
    `until pgrep -f '${pattern}' >/dev/null; do [ -e /run/e2e-stop-watch ] && exit 1; sleep 0.2; done; pgrep -fa '${pattern}' | head -c 400; echo; systemd-run --quiet --unit=e2e-kill-sshd pkill -KILL -x sshd`,
    900,
  );
  await sleep(2000);
  const killed = await applyOnce(ctx, steps, `fault: apply with sshd killed while ${target} runs`);
  await sh("touch /run/e2e-stop-watch");
  const seen = await watcher;
  const named = /^step (\S+) failed/m.exec(killed.error)?.[1] ?? "";
  const failedSteps = killed.results.filter((x) => !x.ok).map((x) => x.name);
  run.check(
    `fault: sshd killed while ${target} runs: the apply fails naming the step (${named || "none"}; failed: ${failedSteps.join(", ")})`,
    !killed.ok && failedSteps.includes(target) && failedSteps.includes(named) && seen.stdout.includes(script),
    `${killed.error.split("\n").slice(0, 3).join("\n")}\n(watcher saw: ${seen.stdout.trim().slice(0, 200)})`,
  );
  const sshd = await sh("systemctl show -p NRestarts -p ActiveState ssh.service");
  const rerun = await applyOnce(ctx, steps, "fault: apply again after sshd was killed");
  const changed = rerun.ok ? changedSteps(steps, rerun.results) : [];
  run.check(
    "fault: after sshd was killed (systemd restarted it), a re-run converges and no step reports a change",
    rerun.ok && changed.length === 0,
    rerun.ok ? [sshd.out.replace(/\n/g, ", "), ...changed].join("\n") : rerun.error.slice(-2000),
  );
  run.time("citadel faults", (Date.now() - t0) / 1000);
}
