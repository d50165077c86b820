/**
 * The shims fail where the programs they imitate fail, and the host scripts stop there: a shim that
 * cannot fail proves nothing about the script's failure path.
 */
import {
  accessFile,
  AFTER_RULES_BEGIN,
  AFTER_RULES_END,
  dockerUserRules,
  ufwRules,
  type FirewallPlan,
} from "../components/host";
import { renderProbe } from "../components/ops/probe";
import { parseProbe } from "../components/ops/validate";
import { wrapScript } from "../components/remote";
import { SimHost } from "./support/hostsim";

const plan: FirewallPlan = {
  sshPort: 22,
  adminSubnet: "192.168.10.0/24",
  labSubnet: "192.168.10.0/24",
  ports: [{ port: 9901, sources: ["192.168.10.0/24"] }],
};

describe("apt-get's shim", () => {
  it("fails as apt does for a package no source has, and firewall.sh stops before touching ufw", () => {
    const h = new SimHost();
    h.set("apt-missing-ufw", "");
    const run = h.run(
      "host/scripts/firewall.sh",
      {
        RULES: ufwRules(plan).join("\n"),
        AFTER_BLOCK: dockerUserRules(plan),
        ADMIN_SUBNET: plan.adminSubnet,
        ACCESS: accessFile(plan, [{ port: 9901 }]),
        BEGIN_MARK: AFTER_RULES_BEGIN,
        END_MARK: AFTER_RULES_END,
      },
      {},
      { SSH_CONNECTION: "192.168.10.50 51234 192.168.10.29 22" },
    );
    expect(run.status).toBe(100);
    expect(run.stderr).toContain("E: Unable to locate package ufw");
    expect(run.stdout).not.toContain("changed: installed");
    expect(run.calls.filter((c) => c.startsWith("ufw"))).toEqual([]);
  });
});

describe("nvidia-smi's shim", () => {
  it("answers the fields asked, in the order asked, and refuses a field nvidia-smi does not know", () => {
    const h = new SimHost();
    h.set("nvidia-loaded", "");
    h.set("gpu-count", 2);
    h.set("driver-version", "580.95.05");
    const asked = h.exec("nvidia-smi --query-gpu=driver_version,index --format=csv,noheader");
    expect(asked.status).toBe(0);
    expect(asked.stdout).toBe("580.95.05, 0\n580.95.05, 1\n");
    const unknown = h.exec("nvidia-smi --query-gpu=index,vram --format=csv,noheader");
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain("vram is not a field of --help-query-gpu");
    const unloaded = new SimHost().exec("nvidia-smi --query-gpu=index --format=csv,noheader");
    expect(unloaded.status).toBe(9);
  });
});

describe("curl's shim, as the probe's status checks use it", () => {
  it("gives the status set for a port, and curl's 000 with exit 7 where nothing listens", () => {
    const h = new SimHost();
    h.set("http-code-9903", "200");
    const run = h.exec(wrapScript(renderProbe(""), false));
    expect(run.status).toBe(0);
    const sections = parseProbe(run.stdout);
    expect(sections.get("health-loki")).toEqual({ rc: 0, text: "200" });
    expect(sections.get("health-grafana")).toEqual({ rc: 7, text: "000" });
  });
});

describe("systemctl's shim", () => {
  it("prints each unit's state for is-active and fails only when none is active, as systemctl does", () => {
    const h = new SimHost();
    h.exec("systemctl enable --now a.timer; systemctl enable b.timer");
    const some = h.exec("systemctl is-active a.timer b.timer c.timer");
    expect([some.status, some.stdout]).toEqual([0, "active\ninactive\ninactive\n"]);
    const none = h.exec("systemctl is-active b.timer c.timer");
    expect([none.status, none.stdout]).toEqual([3, "inactive\ninactive\n"]);
    h.set("systemd/d.timer.not-found", "");
    const unknown = h.exec("systemctl is-active --quiet d.timer");
    expect([unknown.status, unknown.stdout]).toEqual([4, ""]);
  });

  it("fails on a unit that does not exist with systemctl's words and exit codes", () => {
    const h = new SimHost();
    h.set("systemd/nosuch.service.not-found", "");
    const enable = h.exec("systemctl enable nosuch.service");
    expect([enable.status, enable.stderr]).toEqual([
      1,
      "Failed to enable unit: Unit file nosuch.service does not exist.\n",
    ]);
    const start = h.exec("systemctl start nosuch.service");
    expect([start.status, start.stderr]).toEqual([
      5,
      "Failed to start nosuch.service: Unit nosuch.service not found.\n",
    ]);
    const enabled = h.exec("systemctl is-enabled nosuch.service");
    expect(enabled.status).toBe(1);
    expect(enabled.stderr).toBe(
      "Failed to get unit file state for nosuch.service: No such file or directory\n",
    );
    expect(h.exec("systemctl frobnicate x").status).toBe(127);
  });
});

describe("curl's shim", () => {
  it("serves only what the test serves; elsewhere -f fails with curl's exit 22 and message", () => {
    const h = new SimHost();
    h.serve("https://example.test/key", "KEY\n");
    expect(h.exec("curl -fsSL https://example.test/key")).toMatchObject({ status: 0, stdout: "KEY\n" });
    const missing = h.exec("curl -fsSL https://example.test/other");
    expect([missing.status, missing.stdout, missing.stderr]).toEqual([
      22,
      "",
      "curl: (22) The requested URL returned error: 404\n",
    ]);
    // -s alone silences the error; without -f a 404 is not a failure.
    expect(h.exec("curl -fs https://example.test/other")).toMatchObject({ status: 22, stderr: "" });
    expect(h.exec("curl -s https://example.test/other")).toMatchObject({ status: 0, stdout: "" });
  });
});

describe("docker's shim", () => {
  it("fails as the docker CLI does on a daemon that is down and on containers it does not have", () => {
    const h = new SimHost();
    const down = h.exec("docker info --format '{{json .}}'");
    expect(down.status).toBe(1);
    expect(down.stderr).toContain("Cannot connect to the Docker daemon");
    h.set("docker-info.json", JSON.stringify({ ServerVersion: "28.5.2", Runtimes: { runc: {} } }));
    expect(h.exec("docker info --format '{{json .Runtimes}}'").stdout).toBe('{"runc":{}}\n');
    const inspect = h.exec("docker inspect -f '{{.State.Running}}' ghost");
    expect([inspect.status, inspect.stderr]).toEqual([1, "Error: No such object: ghost\n"]);
    const restart = h.exec("docker restart ghost");
    expect([restart.status, restart.stderr]).toEqual([
      1,
      "Error response from daemon: No such container: ghost\n",
    ]);
    h.set("exists-stopped", "");
    expect(h.exec("docker inspect -f '{{.State.Running}}' stopped").stdout).toBe("false\n");
    const exec = h.exec("docker exec stopped true");
    expect([exec.status, exec.stderr]).toEqual([
      1,
      "Error response from daemon: container stopped is not running\n",
    ]);
    h.set("running-web", "");
    expect(h.exec("docker restart web")).toMatchObject({ status: 0, stdout: "web\n" });
  });
});

describe("the other shims' failures", () => {
  it("dpkg-query, apt-mark, id, usermod, ssh and nvidia-ctk fail where the real programs do", () => {
    const h = new SimHost();
    h.set("apt-missing-ghost-pkg", "");
    expect(h.exec("apt-mark hold ghost-pkg")).toMatchObject({
      status: 100,
      stderr: "E: Unable to locate package ghost-pkg\nE: No packages found\n",
    });
    expect(h.exec("apt-mark showhold").stdout).toBe("");
    expect(h.exec("dpkg-query -W -f='${Version}' nosuch")).toMatchObject({
      status: 1,
      stderr: "dpkg-query: no packages found matching nosuch\n",
    });
    h.set("no-user-ghost", "");
    expect(h.exec("id -nG ghost")).toMatchObject({ status: 1, stderr: "id: ‘ghost’: no such user\n" });
    expect(h.exec("usermod -aG docker ghost")).toMatchObject({
      status: 6,
      stderr: "usermod: user 'ghost' does not exist\n",
    });
    expect(
      h.exec("ssh -o BatchMode=yes -p 22 admin@192.0.2.1 cat /proc/sys/kernel/random/boot_id").status,
    ).toBe(255);
    h.file("/daemon.json", "{ not json");
    const ctk = h.exec(`nvidia-ctk runtime configure --runtime=docker --config=${h.root}/daemon.json`);
    expect(ctk.status).toBe(1);
    expect(ctk.stderr).toContain("unable to load config for runtime docker");
  });

  it("nvidia-ctk writes what its Save does: sorted keys, four spaces, no final newline", () => {
    const h = new SimHost();
    h.file("/daemon.json", JSON.stringify({ "log-driver": "json-file", "data-root": "/srv/data/docker" }));
    expect(
      h.exec(`nvidia-ctk runtime configure --runtime=docker --config=${h.root}/daemon.json`).status,
    ).toBe(0);
    expect(h.read("/daemon.json")).toBe(
      [
        "{",
        '    "data-root": "/srv/data/docker",',
        '    "log-driver": "json-file",',
        '    "runtimes": {',
        '        "nvidia": {',
        '            "args": [],',
        '            "path": "nvidia-container-runtime"',
        "        }",
        "    }",
        "}",
      ].join("\n"),
    );
  });
});
