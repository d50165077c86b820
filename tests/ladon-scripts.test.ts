/** The LadonStack's host scripts, run twice against shims: files, reloads, secrets, timers, metrics. */
import { spawnSync } from "node:child_process";
import { rmSync, statfsSync, statSync } from "node:fs";
import * as path from "node:path";
import { renderStandalone } from "../components/remote/shell";
import { timerUnits } from "../components/remote/systemd";
import {
  mutations,
  SimHost,
  TEXTFILE_LVM,
  TEXTFILE_PARAMS,
  textfileHost,
  type RunResult,
} from "./support/hostsim";
import { requireTool } from "./support/tools";
import { requireRoot } from "./support/loops";

const converged = (run: RunResult) => {
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  expect(mutations(run)).toEqual([]);
  expect(run.stdout.trim().split("\n").pop()).toMatch(/^no changes: /);
};

describe("service-files.sh", () => {
  const script = "ladon/scripts/service-files.sh";
  const params = (files: Record<string, string>, reload = "http:http://127.0.0.1:9901/-/reload") => ({
    CONTAINER: "prometheus",
    OWNER_UID: "65534",
    DATA_DIR: "/srv/data/ladon/prometheus",
    CONFIG_DIR: "/etc/citadel/prometheus",
    FILES: JSON.stringify(files),
    RELOAD: reload,
  });

  it("creates the data dir for the service's UID and writes the files exactly", () => {
    const h = new SimHost();
    const run = h.run(script, params({ "prometheus.yml": "global: {}\n", "rules/a.yml": "groups: []\n" }));
    expect(run.status).toBe(0);
    expect(statSync(path.join(h.root, "srv/data/ladon/prometheus")).uid).toBe(65534);
    expect(h.read("/etc/citadel/prometheus/prometheus.yml")).toBe("global: {}\n");
    expect(h.read("/etc/citadel/prometheus/rules/a.yml")).toBe("groups: []\n");
    // The container is not running yet: it will read the files when it starts.
    expect(run.calls.filter((c) => c.startsWith("curl"))).toEqual([]);
    converged(h.run(script, params({ "prometheus.yml": "global: {}\n", "rules/a.yml": "groups: []\n" })));
  });

  it("reloads the running service over HTTP when a file changed, and only then", () => {
    const h = new SimHost();
    h.set("running-prometheus", "");
    h.serve("http://127.0.0.1:9901/-/reload", "");
    h.run(script, params({ "prometheus.yml": "a\n" }));
    const changed = h.run(script, params({ "prometheus.yml": "b\n" }));
    expect(changed.status).toBe(0);
    expect(changed.stdout).toContain("changed: reloaded prometheus (http://127.0.0.1:9901/-/reload)");
    expect(mutations(changed)).toEqual(["curl -fsS -X POST http://127.0.0.1:9901/-/reload"]);
    expect(changed.calls.some((c) => c.startsWith("docker restart"))).toBe(false);
    converged(h.run(script, params({ "prometheus.yml": "b\n" })));
  });

  it("fails, naming the container and the URL, when the reload endpoint does not answer, and reloads on the next run", () => {
    const h = new SimHost();
    h.set("running-prometheus", "");
    h.run(script, params({ "prometheus.yml": "a\n" }));
    const run = h.run(script, params({ "prometheus.yml": "b\n" }));
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("curl: (22) The requested URL returned error: 404");
    expect(run.stderr).toContain("error: could not reload prometheus at http://127.0.0.1:9901/-/reload");
    expect(run.stdout).not.toContain("changed: reloaded");
    // The files are written, so nothing differs next time: the failed reload is still redone.
    h.serve("http://127.0.0.1:9901/-/reload", "");
    const retry = h.run(script, params({ "prometheus.yml": "b\n" }));
    expect(retry.status).toBe(0);
    expect(mutations(retry)).toEqual(["curl -fsS -X POST http://127.0.0.1:9901/-/reload"]);
    converged(h.run(script, params({ "prometheus.yml": "b\n" })));
  });

  it("restarts a service that has no reload, and leaves one that re-reads its own file alone", () => {
    const h = new SimHost();
    h.set("running-prometheus", "");
    h.run(script, params({ "loki.yaml": "a\n" }, "restart"));
    expect(mutations(h.run(script, params({ "loki.yaml": "b\n" }, "restart")))).toEqual([
      "docker restart prometheus",
    ]);
    h.run(script, params({ "runtime.yaml": "a\n" }, "none"));
    expect(mutations(h.run(script, params({ "runtime.yaml": "b\n" }, "none")))).toEqual([]);
  });

  it("refuses file names that escape the config directory", () => {
    const run = new SimHost().run(script, params({ "../../etc/passwd": "x\n" }));
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("refusing the file name ../../etc/passwd");
  });
});

describe("secret-file.sh", () => {
  const script = "ladon/scripts/secret-file.sh";
  const params = {
    SECRET_PATH: "/etc/citadel/grafana/secrets/admin_password",
    OWNER_UID: "472",
    CONTAINER: "grafana",
    ON_CHANGE: "grafana-admin-password",
  };

  it("writes the secret readable only by the service, and never prints it", () => {
    const h = new SimHost();
    const run = h.run(script, params, { SECRET: "correct horse battery staple" });
    expect(run.status).toBe(0);
    const file = path.join(h.root, "etc/citadel/grafana/secrets/admin_password");
    expect(h.read("/etc/citadel/grafana/secrets/admin_password")).toBe("correct horse battery staple");
    expect(statSync(file).mode & 0o777).toBe(0o400);
    expect(statSync(file).uid).toBe(472);
    expect(run.stdout + run.stderr + run.calls.join("\n")).not.toContain("correct horse");
    converged(h.run(script, params, { SECRET: "correct horse battery staple" }));
  });

  it("resets Grafana's admin password through its CLI when the secret changes while it runs", () => {
    const h = new SimHost();
    h.set("running-grafana", "");
    h.run(script, params, { SECRET: "first password here" });
    const run = h.run(script, params, { SECRET: "second password here" });
    expect(run.status).toBe(0);
    expect(mutations(run)).toEqual([
      "docker exec -i grafana grafana cli --homepath /usr/share/grafana admin reset-admin-password --password-from-stdin",
    ]);
    expect(h.get("exec-stdin")).toBe("second password here");
  });

  it("stops naming the step when Grafana's CLI fails, and resets the password on the next run", () => {
    const h = new SimHost();
    h.set("running-grafana", "");
    h.run(script, params, { SECRET: "first password here" });
    h.set("exec-fails-grafana", "");
    const failed = h.run(script, params, { SECRET: "second password here" });
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain("error: could not reset Grafana's admin password in grafana");
    expect(failed.stdout + failed.stderr).not.toContain("second password");
    rmSync(path.join(h.state, "exec-fails-grafana"));
    const retry = h.run(script, params, { SECRET: "second password here" });
    expect(retry.status).toBe(0);
    expect(mutations(retry)).toEqual([
      "docker exec -i grafana grafana cli --homepath /usr/share/grafana admin reset-admin-password --password-from-stdin",
    ]);
    converged(h.run(script, params, { SECRET: "second password here" }));
  });
});

describe("install-timer.sh", () => {
  const script = "ladon/scripts/install-timer.sh";
  const params = {
    NAME: "citadel-textfile-metrics",
    SCRIPT_PATH: "/usr/local/lib/citadel/textfile-metrics.sh",
    SCRIPT: "#!/usr/bin/env bash\nset -euo pipefail\ntrue",
    SERVICE_UNIT: "[Service]\nType=oneshot",
    TIMER_UNIT: "[Timer]\nOnUnitActiveSec=15min",
  };

  it("installs the script and units, reloads systemd once, enables the timer, then converges", () => {
    const h = new SimHost();
    const first = h.run(script, params);
    expect(first.status).toBe(0);
    expect(mutations(first)).toEqual([
      "systemctl daemon-reload",
      "systemctl enable citadel-textfile-metrics.timer",
      "systemctl start citadel-textfile-metrics.timer",
    ]);
    expect(statSync(path.join(h.root, "usr/local/lib/citadel/textfile-metrics.sh")).mode & 0o777).toBe(0o755);
    converged(h.run(script, params));
  });

  it("disables the units it replaces once, e.g. Ubuntu's own md check timers beside the RAID scrub", () => {
    const h = new SimHost();
    h.set("systemd/mdcheck_start.timer.enabled", "");
    h.set("systemd/mdcheck_continue.timer.enabled", "");
    const replacing = { ...params, REPLACES: "mdcheck_start.timer mdcheck_continue.timer" };
    const first = h.run(script, replacing);
    expect(first.status).toBe(0);
    expect(mutations(first)).toEqual(
      expect.arrayContaining([
        "systemctl disable --now mdcheck_start.timer",
        "systemctl disable --now mdcheck_continue.timer",
      ]),
    );
    expect(first.stdout).toContain(
      "changed: disabled mdcheck_start.timer, replaced by citadel-textfile-metrics.timer",
    );
    converged(h.run(script, replacing));
  });

  it("writes the script and units byte for byte as the program renders them (out/files), no extra newline", () => {
    // The real renderers, as components/ladon/stack.ts calls them: each file ends in one newline.
    // The e2e tier found the host's copies one newline longer (`printf '%s\n'` of these values).
    const rendered = renderStandalone("ladon/scripts/textfile-metrics.sh", TEXTFILE_PARAMS);
    const units = timerUnits({
      description: "citadel textfile metrics (LVM, data volume)",
      execStart: "/usr/local/lib/citadel/textfile-metrics.sh",
      onBootSec: "2min",
      everySec: "15min",
    });
    expect(rendered.endsWith("\n")).toBe(true);
    expect(units.service.endsWith("\n")).toBe(true);
    const h = new SimHost();
    const run = h.run(script, {
      ...params,
      SCRIPT: rendered,
      SERVICE_UNIT: units.service,
      TIMER_UNIT: units.timer,
    });
    expect(run.status).toBe(0);
    expect(h.read("/usr/local/lib/citadel/textfile-metrics.sh")).toBe(rendered);
    expect(h.read("/etc/systemd/system/citadel-textfile-metrics.service")).toBe(units.service);
    expect(h.read("/etc/systemd/system/citadel-textfile-metrics.timer")).toBe(units.timer);
  });

  it("does not reload systemd when only the script changed", () => {
    const h = new SimHost();
    h.run(script, params);
    const run = h.run(script, { ...params, SCRIPT: "#!/usr/bin/env bash\nset -euo pipefail\necho v2" });
    expect(run.status).toBe(0);
    expect(mutations(run)).toEqual([]);
    expect(run.stdout).toContain("changed: installed /usr/local/lib/citadel/textfile-metrics.sh");
  });
});

describe("textfile-metrics.sh", () => {
  const host = textfileHost;

  it("writes LVM, data and retention metrics that promtool accepts, atomically", () => {
    requireTool("promtool");
    requireRoot("textfile metrics");
    const { h, lvm } = host();
    const run = h.runStandalone("ladon/scripts/textfile-metrics.sh", TEXTFILE_PARAMS);
    expect([run.status, run.stderr]).toEqual([0, ""]);
    const prom = h.read("/var/lib/node_exporter/textfile/citadel.prom");
    // The real vgs and pvs: the PV's extents start 1 MiB in (devices/default_data_alignment,
    // lib/config/config_settings.h@v2_03_16) and are 4 MiB each (DEFAULT_EXTENT_SIZE,
    // lib/config/defaults.h@v2_03_16); the LV takes its bytes from the VG's free space.
    const MiB = 1024 ** 2;
    const size = Math.floor((TEXTFILE_LVM.imageBytes - MiB) / (4 * MiB)) * 4 * MiB;
    const free = size - TEXTFILE_LVM.lvBytes;
    expect(prom).toContain(`citadel_lvm_vg_size_bytes{vg="${lvm.vg}"} ${size}\n`);
    expect(prom).toContain(`citadel_lvm_vg_free_bytes{vg="${lvm.vg}"} ${free}\n`);
    expect(prom).toContain(`citadel_lvm_pv_size_bytes{pv="${lvm.pv}",vg="${lvm.vg}"} ${size}\n`);
    expect(prom).toContain(`citadel_lvm_pv_free_bytes{pv="${lvm.pv}",vg="${lvm.vg}"} ${free}\n`);
    // The real du -sb and df -B1 over the scratch root, against what the kernel says of the same
    // files (lstat sizes, apparent bytes as du -b counts them) and filesystem (statfs(2)).
    const lokiDir = path.join(h.root, "srv/data/ladon/loki");
    const apparent = statSync(lokiDir).size + statSync(path.join(lokiDir, "chunk")).size;
    expect(prom).toContain(`citadel_data_dir_bytes{service="loki"} ${apparent}`);
    const fs = statfsSync(path.join(h.root, "srv/data/ladon"));
    expect(prom).toContain(`citadel_data_volume_size_bytes ${fs.blocks * fs.bsize}`);
    const volumeFree = Number(/^citadel_data_volume_free_bytes (\d+)$/m.exec(prom)?.[1]);
    expect(volumeFree).toBeGreaterThan(0);
    expect(volumeFree).toBeLessThanOrEqual(fs.blocks * fs.bsize);
    // Read live: 50GB from Prometheus's flags, 744h x 1 GiB/day from Loki's runtime config.
    expect(prom).toContain('citadel_retention_limit_bytes{service="prometheus"} 53687091200');
    expect(prom).toContain('citadel_retention_limit_bytes{service="loki"} 33285996544');
    // Each family's samples follow its own TYPE line: node_exporter's textfile collector refuses
    // the whole file otherwise (found by the conformance tier; promtool check metrics accepts it).
    let family = "";
    for (const line of prom.split("\n").filter(Boolean)) {
      if (line.startsWith("# TYPE ")) family = line.split(" ")[2] as string;
      else if (!line.startsWith("#")) expect([line, line.split(/[{ ]/)[0]]).toEqual([line, family]);
    }
    const check = spawnSync("promtool", ["check", "metrics"], { input: prom, encoding: "utf8" });
    expect(check.stdout + check.stderr).toBe("");
    expect(check.status).toBe(0);
    const leftovers = spawnSync("sh", ["-c", `ls ${path.join(h.root, "var/lib/node_exporter/textfile")}`], {
      encoding: "utf8",
    }).stdout.trim();
    expect(leftovers).toBe("citadel.prom");
  });

  it("writes no LVM or data samples on a host without volume groups or stack data", () => {
    const h = new SimHost();
    const run = h.runStandalone("ladon/scripts/textfile-metrics.sh", {
      TEXTFILE_DIR: "/var/lib/node_exporter/textfile",
    });
    expect(run.status).toBe(0);
    const samples = h
      .read("/var/lib/node_exporter/textfile/citadel.prom")
      .split("\n")
      .filter((l) => l && !l.startsWith("#"));
    expect(samples).toHaveLength(1);
    expect(samples[0]).toMatch(/^citadel_textfile_last_run_timestamp_seconds \d+$/);
  });
});
