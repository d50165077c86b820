/** The firewall: rendered rules, their idempotent application against a stubbed ufw, and coverage. */
import { spawnSync } from "node:child_process";
import {
  AFTER_RULES_BEGIN,
  AFTER_RULES_END,
  dockerUserRules,
  ufwRules,
  type FirewallPlan,
} from "../components/host";
import { mutations, SimHost } from "./support/hostsim";
import { labConfigMap } from "./support/lab";
import { byName, ofType, synthLab } from "./support/synth";
import { requireTool } from "./support/tools";

const plan: FirewallPlan = {
  sshPort: 22,
  adminSubnet: "192.168.10.0/24",
  labSubnet: "192.168.10.0/24",
  labPorts: [9901, 8000, 9900, 9901],
};

describe("the rendered rules", () => {
  it("allow SSH from the admin subnet and each lab port from the lab subnet, once each", () => {
    expect(ufwRules(plan)).toEqual([
      "allow from 192.168.10.0/24 to any port 22 proto tcp comment citadel",
      "allow from 192.168.10.0/24 to any port 8000 proto tcp comment citadel",
      "allow from 192.168.10.0/24 to any port 9900 proto tcp comment citadel",
      "allow from 192.168.10.0/24 to any port 9901 proto tcp comment citadel",
    ]);
  });

  it("close published container ports to everyone but replies, containers and the lab, and pass iptables-restore", () => {
    const block = dockerUserRules(plan);
    expect(block.split("\n").slice(-3)).toEqual(["-A DOCKER-USER -j DROP", "COMMIT", AFTER_RULES_END]);
    expect(block).toContain("-A DOCKER-USER -s 192.168.10.0/24 -j RETURN");
    requireTool("iptables-restore");
    const body =
      block
        .split("\n")
        .filter((l) => !l.startsWith("#"))
        .join("\n") + "\n";
    const ok = spawnSync("iptables-restore", ["--test", "-n"], { input: body, encoding: "utf8" });
    expect(ok.stderr).toBe("");
    expect(ok.status).toBe(0);
    const broken = spawnSync("iptables-restore", ["--test", "-n"], {
      input: body.replace("--ctstate RELATED,ESTABLISHED", "--ctstate BOGUS"),
      encoding: "utf8",
    });
    expect(broken.status).not.toBe(0);
  });
});

describe("firewall.sh against a stubbed ufw", () => {
  const script = "host/scripts/firewall.sh";
  const params = (p: FirewallPlan = plan) => ({
    RULES: ufwRules(p).join("\n"),
    AFTER_BLOCK: dockerUserRules(p),
    ADMIN_SUBNET: p.adminSubnet,
    BEGIN_MARK: AFTER_RULES_BEGIN,
    END_MARK: AFTER_RULES_END,
  });
  const fromLab = { SSH_CONNECTION: "192.168.10.50 51234 192.168.10.29 22" };
  const host = () => {
    const h = new SimHost();
    h.set("dpkg/ufw", "0.36.2");
    h.file("/etc/ufw/after.rules", "# ufw's own after.rules\n*filter\nCOMMIT\n");
    return h;
  };

  it("sets deny-by-default, adds every rule, installs DOCKER-USER and enables ufw, then changes nothing", () => {
    const h = host();
    const first = h.run(script, params(), {}, fromLab);
    expect(first.status).toBe(0);
    expect(mutations(first)).toEqual([
      "ufw default deny incoming",
      "ufw default allow outgoing",
      "ufw allow from 192.168.10.0/24 to any port 22 proto tcp comment citadel",
      "ufw allow from 192.168.10.0/24 to any port 8000 proto tcp comment citadel",
      "ufw allow from 192.168.10.0/24 to any port 9900 proto tcp comment citadel",
      "ufw allow from 192.168.10.0/24 to any port 9901 proto tcp comment citadel",
      "ufw --force enable",
    ]);
    const after = h.read("/etc/ufw/after.rules");
    expect(after.startsWith("# ufw's own after.rules\n*filter\nCOMMIT\n")).toBe(true);
    expect(after).toContain(dockerUserRules(plan));
    const second = h.run(script, params(), {}, fromLab);
    expect(mutations(second)).toEqual([]);
    expect(second.stdout.trim().split("\n").pop()).toBe("no changes: firewall already converged");
    expect(h.read("/etc/ufw/after.rules")).toBe(after);
  });

  it("removes a rule that is no longer wanted and reloads when the DOCKER-USER rules change", () => {
    const h = host();
    h.run(script, params(), {}, fromLab);
    const smaller = { ...plan, labPorts: [8000], labSubnet: "192.168.10.0/25" };
    const run = h.run(script, params(smaller), {}, fromLab);
    expect(mutations(run)).toEqual([
      "ufw allow from 192.168.10.0/25 to any port 8000 proto tcp comment citadel",
      "ufw delete allow from 192.168.10.0/24 to any port 8000 proto tcp",
      "ufw delete allow from 192.168.10.0/24 to any port 9900 proto tcp",
      "ufw delete allow from 192.168.10.0/24 to any port 9901 proto tcp",
      "ufw reload",
    ]);
    // One managed block: the old one was replaced, not appended to.
    expect(h.read("/etc/ufw/after.rules").split(AFTER_RULES_BEGIN)).toHaveLength(2);
  });

  it("refuses to enable ufw when the SSH client is outside the admin subnet", () => {
    const h = host();
    const run = h.run(script, params(), {}, { SSH_CONNECTION: "10.8.0.2 51234 192.168.10.29 22" });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(
      "this SSH session comes from 10.8.0.2, outside ops.firewall.adminSubnet 192.168.10.0/24",
    );
    expect(mutations(run)).toEqual([]);
  });
});

describe("the lab's firewall", () => {
  it("covers every port a container publishes or a host-network exporter listens on, on each host", async () => {
    const lab = await synthLab();
    const step = byName(lab, "citadel-firewall-ufw");
    const rules = String(step.rawInputs.create);
    const ports = ofType(lab, "docker:index/container:Container").flatMap((c) => {
      const i = c.rawInputs as Record<string, any>;
      if (i.networkMode === "host")
        return [Number(/:(\d+)$/.exec(i.command.find((a: string) => a.includes("listen-address")))?.[1])];
      return (i.ports ?? []).map((p: { external: number }) => p.external);
    });
    expect(ports.length).toBeGreaterThan(9);
    for (const port of ports)
      expect(rules).toContain(`allow from 192.168.10.0/24 to any port ${port} proto tcp comment citadel`);
    expect(rules).toContain("allow from 192.168.10.0/24 to any port 22 proto tcp comment citadel");
  });

  it("is on every host, after Docker, and absent without ops.firewall", async () => {
    const lab = await synthLab();
    const byUrn = new Map(lab.resources.map((r) => [r.urn, r.name]));
    expect(byName(lab, "citadel-firewall-ufw").dependsOn.map((u) => byUrn.get(u))).toEqual([
      "citadel-docker-verify",
    ]);
    const config = labConfigMap();
    delete config["citadel:ops"].firewall;
    expect((await synthLab(config)).resources.some((r) => r.name.endsWith("-firewall"))).toBe(false);
  });
});
