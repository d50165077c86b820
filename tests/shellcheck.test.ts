/** Every script file, and every script as rendered for the lab, is shellcheck-clean. */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { piConfigMap } from "./support/lab";
import { synthLab } from "./support/synth";
import { requireTool } from "./support/tools";
import { scratchDir } from "./support/scratch";

const ROOT = path.join(__dirname, "..");

function scriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" ? [] : scriptFiles(full);
    return e.name.endsWith(".sh") || e.name === "shim" ? [full] : [];
  });
}

function shellcheck(files: string[]): string {
  const result = spawnSync("shellcheck", ["--shell=bash", "--severity=style", ...files], {
    encoding: "utf8",
  });
  return result.status === 0 ? "" : result.stdout + result.stderr;
}

beforeAll(() => requireTool("shellcheck"));

describe("shellcheck", () => {
  const files = [...scriptFiles(path.join(ROOT, "components")), ...scriptFiles(path.join(ROOT, "tests"))];

  it("finds the scripts", () => {
    expect(files.map((f) => path.relative(ROOT, f))).toEqual(
      expect.arrayContaining([
        "components/host/scripts/prepare-disk.sh",
        "components/remote/prelude.sh",
        "tests/support/shims/shim",
      ]),
    );
  });

  it("passes every script file, each starting with set -euo pipefail", () => {
    for (const f of files)
      expect(readFileSync(f, "utf8")).toMatch(/^#!\/usr\/bin\/env bash\n(#.*\n)*set -euo pipefail\n/);
    expect(shellcheck(files)).toBe("");
  });

  it("passes every script exactly as the lab renders it for the host", async () => {
    const { files: rendered } = await synthLab();
    const dir = scratchDir("citadel-rendered-");
    const scripts = [...rendered.keys()].filter((k) => k.endsWith(".sh"));
    // 41 host steps (7 of them Prometheus's and Alertmanager's basic-auth files), the local reboot
    // wait, and the 5 scripts timers run (textfile, backup, prune, check, drift).
    expect(scripts.length).toBe(47);
    expect(scripts).toContain("citadel/usr/local/lib/citadel/textfile-metrics.sh");
    expect(scripts).toContain("citadel/usr/local/lib/citadel/citadel-drift.sh");
    const paths = scripts.map((k) => {
      const p = path.join(dir, k.replace(/\//g, "__"));
      writeFileSync(p, rendered.get(k)!);
      return p;
    });
    expect(shellcheck(paths)).toBe("");
  });

  it("passes the RAID scripts exactly as the monitoring Pi's example renders them", async () => {
    const { files: rendered } = await synthLab(piConfigMap());
    const dir = scratchDir("citadel-rendered-");
    const scripts = [
      "pi/commands/pi-storage-raid-ladon.sh",
      "pi/commands/pi-storage-scrub.sh",
      "pi/usr/local/lib/citadel/citadel-raid-scrub.sh",
    ];
    const paths = scripts.map((k) => {
      const p = path.join(dir, k.replace(/\//g, "__"));
      writeFileSync(p, rendered.get(k) ?? "");
      return p;
    });
    for (const p of paths) expect(readFileSync(p, "utf8")).toMatch(/^#!\/usr\/bin\/env bash\n/);
    expect(shellcheck(paths)).toBe("");
  });
});
