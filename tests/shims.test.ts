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
    const unknown = h.exec("systemctl is-active --quiet c.timer");
    expect([unknown.status, unknown.stdout]).toEqual([4, ""]);
  });
});
