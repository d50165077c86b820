/**
 * What the e2e tier's Pi suite and citadel faults (tests/tiers/e2e/pi.ts, faults.ts) take from the
 * program, without VMs: the Pi's overlay changes only what a VM cannot share with the Pi, its
 * array's members become the emulated SSDs, the program renders the RAID alert the suite reads
 * the metric for, and the faults' grown volume and sshd target are steps the program registers.
 * When the program changes under them, these fail in seconds instead of after a VM run.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseSize } from "../components/config/units";
import { stepsOf } from "./tiers/e2e/apply";
import { GROWN, SSHD_STEP } from "./tiers/e2e/faults";
import { loadE2eLab, stepParams, vmOverlay, baseConfig } from "./tiers/e2e/lab";
import { loadPiLab, raidAlertExpr } from "./tiers/e2e/pi";
import { newcArchive } from "./tiers/e2e/vm";

const MEMBERS = [1, 2, 3, 4].map((n) => `/dev/disk/by-id/virtio-e2e-bay${n}`);

describe("the e2e Pi suite and citadel faults", () => {
  let image: string;
  let hostKey: string;
  let lab: Awaited<ReturnType<typeof loadPiLab>>;
  beforeAll(async () => {
    image = mkdtempSync(path.join(os.tmpdir(), "e2e-pi-image-"));
    // A real ed25519 public key, as image.sh writes host_ed25519.pub.
    const made = spawnSync("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-f",
      path.join(image, "host_ed25519"),
    ]);
    if (made.status !== 0) throw new Error(`ssh-keygen failed: ${String(made.stderr)}`);
    hostKey = readFileSync(path.join(image, "host_ed25519.pub"), "utf8")
      .trim()
      .split(/\s+/)
      .slice(0, 2)
      .join(" ");
    writeFileSync(path.join(image, "docker-version"), "20.10.24+dfsg1\n");
    lab = await loadPiLab(image, "e2e", MEMBERS);
  });
  afterAll(() => rmSync(image, { recursive: true, force: true }));

  it("boots the Pi's own stack with an overlay of arch, SSH user and host key, Docker's version and the members only", () => {
    expect(lab.overlay).toEqual({
      hosts: {
        pi: {
          arch: "amd64",
          ssh: { hostKey, user: "e2e" },
          docker: { version: "20.10.24+dfsg1" },
          "storage.raids[0].members": MEMBERS,
        },
      },
    });
    const pi = lab.config.hosts.pi;
    expect(pi?.storage?.raids?.[0]?.members).toEqual(MEMBERS);
    // Everything else is the Pi's own: the array, its mount, the data root on it.
    const own = baseConfig("examples/Pulumi.monitoring-pi.yaml").hosts.pi;
    expect({ ...pi?.storage?.raids?.[0], members: [] }).toEqual({ ...own?.storage?.raids?.[0], members: [] });
    expect(pi?.docker?.dataRoot).toBe(own?.docker?.dataRoot);
    expect(pi?.address).toBe(own?.address);
    const raid = stepParams(lab.result, "pi-storage-raid-ladon");
    expect(Object.values(raid).join(" ")).toContain(MEMBERS[1]);
    const timers = [...lab.result.files.keys()].filter((p) => p.startsWith("pi/etc/systemd/system/"));
    expect(timers).toContain("pi/etc/systemd/system/citadel-raid-scrub.timer");
  });

  it("finds the rendered HostRaidDegraded rule over the two node_exporter series the suite reads", () => {
    const expr = raidAlertExpr(lab);
    expect(expr).toContain("node_md_disks_required");
    expect(expr).toContain('node_md_disks{state="active"}');
    // Without the rule file the helper says so with "", which the suite's check fails on.
    const bare = { ...lab, result: { ...lab.result, files: new Map<string, string>() } };
    expect(raidAlertExpr(bare)).toBe("");
  });

  it("grows citadel's volume to the faults' size within its VG, and kills sshd in a step the program registers", async () => {
    const base = baseConfig("Pulumi.citadel.yaml");
    const lvm = base.hosts.citadel?.storage?.lvm;
    expect(lvm).toBeDefined();
    const over = vmOverlay(base, image) as { hosts: Record<string, object> };
    const grown = await loadE2eLab("Pulumi.citadel.yaml", {
      ...over,
      hosts: { ...over.hosts, citadel: { ...over.hosts.citadel, storage: { lvm: { size: GROWN } } } },
    });
    expect(stepParams(grown.result, "citadel-storage-lvm").TARGET).toBe(String(parseSize(GROWN)));
    // Larger than the config's size (storage only grows) and within the 4 TB NVMe the VM gets.
    expect(parseSize(GROWN) as number).toBeGreaterThan(parseSize(lvm?.size ?? "0") as number);
    expect(parseSize(GROWN) as number).toBeLessThan(4_000_787_030_016 - 3 * 2 ** 30);
    const step = stepsOf(grown.result.resources).find((s) => s.name === `citadel-${SSHD_STEP}`);
    expect(step?.blockedBy).toBeUndefined();
    expect(step?.create).toContain(`# citadel script: host/scripts/${SSHD_STEP}.sh`);
  });
});

describe("the initrd of the Pi's next boot", () => {
  it("is a newc archive that busybox's cpio reads back: the directories, then the file, byte for byte", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "e2e-newc-"));
    try {
      const conf = "HOMEHOST <system>\nARRAY /dev/md/ladon metadata=1.2 UUID=0a:0b:0c:0d name=pi:ladon\n";
      writeFileSync(path.join(dir, "a.cpio"), newcArchive("etc/mdadm/mdadm.conf", Buffer.from(conf)));
      const list = spawnSync("busybox", ["cpio", "-t", "-F", "a.cpio"], { cwd: dir, encoding: "utf8" });
      expect(list.error).toBeUndefined();
      expect(list.stdout.split("\n").filter(Boolean)).toEqual(["etc", "etc/mdadm", "etc/mdadm/mdadm.conf"]);
      const out = path.join(dir, "out");
      mkdirSync(out);
      const x = spawnSync("busybox", ["cpio", "-i", "-d", "-F", "../a.cpio"], { cwd: out, encoding: "utf8" });
      expect(x.status).toBe(0);
      expect(readFileSync(path.join(out, "etc/mdadm/mdadm.conf"), "utf8")).toBe(conf);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
