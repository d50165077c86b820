/**
 * The Storage component's steps as the program registers them, from the stack's own storage
 * config: what each step is handed, that every step touching a disk or array is protected and
 * retained with nothing that deletes, and which step a path waits for. Each test synthesises its
 * own lab (citadel's stack or the Pi example with its RAID10).
 */
import { parseSize } from "../components/config/units";
import { RAID_SCRUB_UNIT, DISTRO_SCRUB_TIMERS } from "../components/host/storage";
import type { ResourceRecord, SynthResult } from "../lib/synth/harness";
import { labConfigMap, piConfigMap } from "./support/lab";
import { dependencyNames, synthLab } from "./support/synth";

const REMOTE = "command:remote:Command";

/** The remote steps the Storage component of `host` registers, by name. */
function storageSteps(result: SynthResult, host: string): Map<string, ResourceRecord> {
  const component = result.resources.find(
    (r) => r.type === "citadel:host:Storage" && r.name === `${host}-storage`,
  );
  if (!component) throw new Error(`no Storage component for ${host}`);
  return new Map(
    result.resources.filter((r) => r.type === REMOTE && r.parent === component.urn).map((r) => [r.name, r]),
  );
}

const exported = (step: ResourceRecord | undefined, name: string): string | undefined =>
  new RegExp(`^export ${name}='([^']*)'$`, "m").exec(String(step?.rawInputs.create))?.[1];

const hostOf = (config: Record<string, any>): [string, any] =>
  Object.entries(config["citadel:hosts"]).find(([, h]) => (h as any).storage) as [string, any];

describe("the storage steps", () => {
  it.each([
    ["citadel's stack", labConfigMap],
    ["the Pi example", piConfigMap],
  ])("on %s are protected, retained on delete, and never delete or replace", async (_what, configOf) => {
    const config = configOf();
    const [host] = hostOf(config);
    const steps = storageSteps(await synthLab(config), host);
    const data = [...steps.values()].filter((s) => s.name !== `${host}-storage-scrub`);
    expect(data.length).toBeGreaterThan(0);
    for (const s of data) {
      expect([s.name, s.protect, s.retainOnDelete]).toEqual([s.name, true, true]);
      expect([s.name, s.rawInputs.delete, s.rawInputs.triggers]).toEqual([s.name, undefined, undefined]);
    }
  });

  it("hand the root LV and each disk what the stack says, with the root PV to keep away from", async () => {
    const config = labConfigMap();
    const [host, h] = hostOf(config);
    const steps = storageSteps(await synthLab(config), host);
    const lvm = steps.get(`${host}-storage-lvm`);
    expect(exported(lvm, "VG")).toBe(h.storage.lvm.vg);
    expect(exported(lvm, "LV")).toBe(h.storage.lvm.lv);
    expect(exported(lvm, "TARGET")).toBe(String(parseSize(h.storage.lvm.size)));
    expect(exported(lvm, "FILESYSTEM")).toBe(h.storage.lvm.filesystem);
    expect(h.storage.disks.length).toBeGreaterThan(1);
    for (const d of h.storage.disks) {
      const step = steps.get(`${host}-storage-disk-${d.label}`);
      expect([d.label, exported(step, "DEVICE"), exported(step, "MOUNT_POINT")]).toEqual([
        d.label,
        d.device,
        d.mountPoint,
      ]);
      expect(exported(step, "LABEL")).toBe(d.label);
      expect(exported(step, "FILESYSTEM")).toBe(d.filesystem);
      expect(exported(step, "MOUNT_OPTIONS")).toBe(d.mountOptions.join(","));
      expect(exported(step, "SIZE_BYTES")).toBe(String(parseSize(d.size)));
      expect(exported(step, "PROTECTED_DEVICES")).toBe(h.storage.lvm.pv);
    }
  });

  it("hand each array its members and the key its messages name, and scrub every array after it exists", async () => {
    const config = piConfigMap();
    const [host, h] = hostOf(config);
    const result = await synthLab(config);
    const steps = storageSteps(result, host);
    const raid = h.storage.raids[0];
    const step = [...steps.values()].find((s) => s.name.startsWith(`${host}-storage-raid-`));
    expect(exported(step, "MEMBERS")).toBe(raid.members.join(" "));
    expect(exported(step, "LEVEL")).toBe(String(raid.level));
    expect(exported(step, "MOUNT_POINT")).toBe(raid.mountPoint);
    expect(exported(step, "MOUNT_OPTIONS")).toBe(raid.mountOptions.join(","));
    expect(exported(step, "MEMBER_SIZE_BYTES")).toBe(String(parseSize(raid.memberSize)));
    // The Pi's example names no UUID (the script creates the array) and has no LVM volume to keep
    // away from: both are handed over empty, not as some stand-in the script would act on.
    expect([raid.uuid, h.storage.lvm]).toEqual([undefined, undefined]);
    expect(exported(step, "UUID")).toBe("");
    expect(exported(step, "PROTECTED_DEVICES")).toBe("");
    // The key as the stack file spells it, so the operator finds the array the message is about.
    const hostsKey = Object.keys(config).find((k) => k.endsWith(":hosts"));
    expect(exported(step, "KEY")).toBe(`${hostsKey}.${host}.storage.raids[0]`);
    const scrub = steps.get(`${host}-storage-scrub`);
    expect(exported(scrub, "NAME")).toBe(RAID_SCRUB_UNIT);
    expect(exported(scrub, "REPLACES")).toBe(DISTRO_SCRUB_TIMERS.join(" "));
    expect(dependencyNames(result, scrub!)).toContain(step!.name);
    expect(result.files.get(`${host}/etc/systemd/system/${RAID_SCRUB_UNIT}.timer`)).toMatch(
      new RegExp(`^OnCalendar=${h.storage.scrubSchedule.replace(/[.*]/g, "\\$&")}$`, "m"),
    );
    // citadel has no array, and no scrub.
    expect(storageSteps(await synthLab(labConfigMap()), "citadel").has("citadel-storage-scrub")).toBe(false);
  });
});

describe("which storage step a path waits for", () => {
  it("vLLM's containers wait for the disk mounted at or above the model cache, the deepest one, else the root LV's growth", async () => {
    const config = labConfigMap();
    const [host, h] = hostOf(config);
    // A third drive mounted inside the first one's mount point.
    h.storage.disks.push({
      device: "/dev/sdb",
      filesystem: "ext4",
      label: "models",
      size: "1TiB",
      mountPoint: "/srv/data/models",
      mountOptions: ["defaults", "noatime"],
    });
    const waitsFor = async (cacheDir: string) => {
      config["citadel:vllm"].cacheDir = cacheDir;
      const result = await synthLab(config);
      const containers = result.resources.filter(
        (r) => r.type === "docker:index/container:Container" && r.name.startsWith("vllm-"),
      );
      expect(containers.length).toBeGreaterThan(0);
      const storage = new Set(storageSteps(result, host).keys());
      return [
        ...new Set(containers.flatMap((c) => dependencyNames(result, c).filter((d) => storage.has(d)))),
      ];
    };
    expect(await waitsFor("/srv/data")).toEqual([`${host}-storage-disk-data`]);
    expect(await waitsFor("/srv/data/models")).toEqual([`${host}-storage-disk-models`]);
    expect(await waitsFor("/srv/data/models/hf")).toEqual([`${host}-storage-disk-models`]);
    expect(await waitsFor("/srv/data/modelsx")).toEqual([`${host}-storage-disk-data`]);
    expect(await waitsFor("/srv/models")).toEqual([`${host}-storage-lvm`]);
  });

  it("names the scrub citadel-raid-scrub and retires the mdcheck timers mdadm ships", async () => {
    // mdadm's own monthly check: systemd/mdcheck_start.timer and mdcheck_continue.timer in
    // mdadm-4.2 (Debian bookworm) and 4.3 (Ubuntu noble), which install-timer.sh disables.
    expect(DISTRO_SCRUB_TIMERS).toEqual(["mdcheck_start.timer", "mdcheck_continue.timer"]);
    const config = piConfigMap();
    const [host] = hostOf(config);
    const result = await synthLab(config);
    const scrub = storageSteps(result, host).get(`${host}-storage-scrub`);
    expect(exported(scrub, "NAME")).toBe("citadel-raid-scrub");
    expect(exported(scrub, "SCRIPT_PATH")).toBe("/usr/local/lib/citadel/citadel-raid-scrub.sh");
    const service = result.files.get(`${host}/etc/systemd/system/citadel-raid-scrub.service`);
    expect(service).toMatch(/^ExecStart=\/usr\/local\/lib\/citadel\/citadel-raid-scrub\.sh$/m);
    expect(service).toMatch(/^Description=citadel RAID scrub \(md check of every array\)$/m);
    expect(result.files.get(`${host}/usr/local/lib/citadel/citadel-raid-scrub.sh`)).toMatch(
      /^#!\/usr\/bin\/env bash/,
    );
  });
});
