/**
 * Services that keep data on a `nofail` disk start only after it is mounted. The premise comes
 * from the real programs: prepare-disk.sh writes the fstab line on a loop device, and systemd's own
 * fstab generator turns it into a mount unit that local-fs.target merely wants (systemd.mount(5),
 * "nofail"). The program's drop-in and units then pass systemd-analyze verify beside that unit.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { DOCKER_MOUNTS_DROP_IN } from "../components/host/docker";
import type { SynthResult } from "../lib/synth/harness";
import { SimHost } from "./support/hostsim";
import { Loops, requireRoot } from "./support/loops";
import { synthLab } from "./support/synth";
import { requireTool } from "./support/tools";

const GENERATOR = "/usr/lib/systemd/system-generators/systemd-fstab-generator";
const loops = new Loops();
const scratch: string[] = [];
let lab: SynthResult;
/** The fstab prepare-disk.sh wrote for the lab's data disk, and the units systemd generates from it. */
let generated: string;
let fstab: string;

beforeAll(async () => {
  requireRoot("mount-order");
  requireTool("systemd-analyze");
  if (!existsSync(GENERATOR))
    throw new Error(`${GENERATOR} is missing; install it with: apt-get install -y systemd (see .ci/run)`);
  lab = await synthLab();
  const host = new SimHost();
  const run = host.run("host/scripts/prepare-disk.sh", {
    DEVICE: loops.device(),
    FILESYSTEM: "ext4",
    LABEL: "data",
    MOUNT_POINT: "/srv/data",
    MOUNT_OPTIONS: "defaults,noatime",
    PROTECTED_DEVICES: "",
  });
  loops.mountedAt(path.join(host.root, "srv/data"));
  expect(run.status).toBe(0);
  // The line as the host will read it: the scratch root stripped from the mount point.
  fstab = host.read("/etc/fstab").replace(host.root, "");
  generated = dir();
  const d = dir();
  writeFileSync(path.join(d, "fstab"), fstab);
  const gen = spawnSync(GENERATOR, [generated, generated, generated], {
    encoding: "utf8",
    env: { ...process.env, SYSTEMD_FSTAB: path.join(d, "fstab"), SYSTEMD_PROC_CMDLINE: "" },
  });
  expect(gen.status).toBe(0);
});
afterAll(() => {
  loops.release();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = mkdtempSync(path.join(tmpdir(), "citadel-units-"));
  scratch.push(d);
  return d;
}

const file = (p: string) => {
  const content = lab.files.get(p);
  if (content === undefined) throw new Error(`${p} was not rendered`);
  return content;
};

/** systemd-analyze verify of `units` in a directory that also holds the generated mount unit. */
function verify(units: Record<string, string>): string {
  const d = dir();
  writeFileSync(path.join(d, "srv-data.mount"), readFileSync(path.join(generated, "srv-data.mount"), "utf8"));
  for (const [name, text] of Object.entries(units)) {
    mkdirSync(path.dirname(path.join(d, name)), { recursive: true });
    writeFileSync(path.join(d, name), text);
  }
  const top = Object.keys(units).filter((n) => !n.includes("/"));
  const r = spawnSync("systemd-analyze", ["verify", "--man=no", ...top], { cwd: d, encoding: "utf8" });
  return `${r.status} ${r.stdout}${r.stderr}`.trim();
}

describe("a nofail disk as prepare-disk.sh writes it", () => {
  it("is only wanted by local-fs.target, not ordered before it: nothing waits for it", () => {
    expect(fstab).toMatch(/^UUID=\S+ \/srv\/data ext4 defaults,noatime,nofail 0 2\n$/);
    const unit = readFileSync(path.join(generated, "srv-data.mount"), "utf8");
    expect(unit).toMatch(/^Where=\/srv\/data$/m);
    expect(unit).not.toMatch(/^Before=.*local-fs\.target/m);
    expect(readdirSync(path.join(generated, "local-fs.target.wants"))).toContain("srv-data.mount");
    expect(existsSync(path.join(generated, "local-fs.target.requires", "srv-data.mount"))).toBe(false);
  });
});

describe("docker.service", () => {
  it("requires and starts after the mounts of data-root, the stack's data and the model cache", () => {
    // systemd.unit(5), RequiresMountsFor=: Requires= and After= on the mount units of each path.
    expect(file(`citadel${DOCKER_MOUNTS_DROP_IN}`)).toBe(
      "[Unit]\nRequiresMountsFor=/srv/data/docker /srv/data/ladon /srv/models\n",
    );
  });

  it("takes the drop-in with no warning from systemd-analyze verify", () => {
    // docker-ce's own unit is not installed here: a minimal docker.service carries the drop-in.
    const docker = "[Unit]\nDescription=Docker\n\n[Service]\nType=notify\nExecStart=/bin/true\n";
    expect(
      verify({
        "docker.service": docker,
        "docker.service.d/citadel-mounts.conf": file(`citadel${DOCKER_MOUNTS_DROP_IN}`),
      }),
    ).toBe("0");
    // A broken drop-in is reported, so the check above can fail.
    expect(
      verify({
        "docker.service": docker,
        "docker.service.d/citadel-mounts.conf": "[Unit]\nRequireMountsFor=/srv\n",
      }),
    ).toMatch(/Unknown key 'RequireMountsFor'/);
  });
});

describe("the backup jobs", () => {
  it("require the mounts of the restic repository and of what they back up", () => {
    for (const unit of ["citadel-backup", "citadel-backup-prune", "citadel-backup-check"]) {
      const service = file(`citadel/etc/systemd/system/${unit}.service`);
      const paths = /^RequiresMountsFor=(.*)$/m.exec(service)?.[1]?.split(" ") ?? [];
      expect([unit, paths]).toEqual([
        unit,
        unit === "citadel-backup"
          ? expect.arrayContaining(["/srv/backup/restic", "/srv/data/ladon/prometheus"])
          : ["/srv/backup/restic"],
      ]);
      const script = path.join(dir(), `${unit}.sh`);
      writeFileSync(script, "#!/bin/sh\n", { mode: 0o755 });
      expect(verify({ [`${unit}.service`]: service.replace(/^ExecStart=.*$/m, `ExecStart=${script}`) })).toBe(
        "0",
      );
    }
  });
});
