/** The firewall: rendered rules, their idempotent application against a stubbed ufw, and coverage. */
import { spawnSync } from "node:child_process";
import {
  accessFile,
  AFTER_RULES_BEGIN,
  AFTER_RULES_END,
  dockerUserRules,
  ufwRules,
  type FirewallPlan,
} from "../components/host";
import { mutations, SimHost } from "./support/hostsim";
import { addMonitoringPi, labConfigMap } from "./support/lab";
import { hostPort } from "./support/catalog";
import { byName, ofType, synthLab } from "./support/synth";
import { requireTool } from "./support/tools";

const plan: FirewallPlan = {
  sshPort: 22,
  adminSubnet: "192.168.10.0/24",
  labSubnet: "192.168.10.0/24",
  ports: [
    { port: 9901, sources: ["192.168.10.0/24"] },
    { port: 8000, sources: ["192.168.10.0/24", "10.9.0.0/24"] },
    { port: 9900, sources: ["192.168.10.0/24"] },
    { port: 9901, sources: ["192.168.10.0/24"] },
  ],
};

describe("the rendered rules", () => {
  it("allow SSH from the admin subnet and each port from each of its own sources, once each", () => {
    expect(ufwRules(plan)).toEqual([
      "allow from 192.168.10.0/24 to any port 22 proto tcp comment citadel",
      "allow from 10.9.0.0/24 to any port 8000 proto tcp comment citadel",
      "allow from 192.168.10.0/24 to any port 8000 proto tcp comment citadel",
      "allow from 192.168.10.0/24 to any port 9900 proto tcp comment citadel",
      "allow from 192.168.10.0/24 to any port 9901 proto tcp comment citadel",
    ]);
  });

  it("are the same text whatever order the plan lists its ports and sources in", () => {
    const ports = [
      { port: 9901, sources: ["192.168.10.0/24", "10.9.0.0/24", "10.8.0.0/24"] },
      { port: 443, sources: ["10.9.0.0/24"] },
      { port: 8000, sources: ["10.9.0.0/24", "192.168.10.0/24", "10.8.0.0/24"] },
    ];
    const render = (p: FirewallPlan["ports"]) => {
      const variant = { ...plan, ports: p };
      return [...ufwRules(variant), dockerUserRules(variant)];
    };
    const expected = render(ports);
    // Ports by number (443 before 8000, which a sort as text would not give), then sources as text.
    expect(expected.filter((r) => r.includes(" port 9901 ")).map((r) => r.split(" ")[2])).toEqual([
      "10.8.0.0/24",
      "10.9.0.0/24",
      "192.168.10.0/24",
    ]);
    expect(expected.slice(1, 3).map((r) => r.split(" ")[6])).toEqual(["443", "8000"]);
    const rotations = <T>(xs: T[]): T[][] => xs.map((_, i) => [...xs.slice(i), ...xs.slice(0, i)]);
    for (const order of rotations(ports))
      for (const flip of [false, true])
        for (const turn of [0, 1, 2])
          expect(
            render(
              order.map((p) => {
                const sources = rotations(p.sources)[turn % p.sources.length] as string[];
                return { port: p.port, sources: flip ? [...sources].reverse() : sources };
              }),
            ),
          ).toEqual(expected);
  });

  it("close published container ports to everyone but replies, containers and each port's sources, and pass iptables-restore", () => {
    const block = dockerUserRules(plan);
    expect(block.split("\n").slice(-3)).toEqual(["-A DOCKER-USER -j DROP", "COMMIT", AFTER_RULES_END]);
    // No source reaches every port any more: each (port, source) pair has its own rule.
    expect(block).not.toMatch(/-s 192\.168\.10\.0\/24 -j RETURN/);
    expect(block.split("\n").filter((l) => l.includes("--ctorigdstport"))).toEqual([
      "-A DOCKER-USER -s 10.9.0.0/24 -p tcp -m conntrack --ctorigdstport 8000 --ctdir ORIGINAL -j RETURN",
      "-A DOCKER-USER -s 192.168.10.0/24 -p tcp -m conntrack --ctorigdstport 8000 --ctdir ORIGINAL -j RETURN",
      "-A DOCKER-USER -s 192.168.10.0/24 -p tcp -m conntrack --ctorigdstport 9900 --ctdir ORIGINAL -j RETURN",
      "-A DOCKER-USER -s 192.168.10.0/24 -p tcp -m conntrack --ctorigdstport 9901 --ctdir ORIGINAL -j RETURN",
    ]);
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
    ACCESS: accessFile(p, [{ port: 9901 }]),
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
      "ufw allow from 10.9.0.0/24 to any port 8000 proto tcp comment citadel",
      "ufw allow from 192.168.10.0/24 to any port 8000 proto tcp comment citadel",
      "ufw allow from 192.168.10.0/24 to any port 9900 proto tcp comment citadel",
      "ufw allow from 192.168.10.0/24 to any port 9901 proto tcp comment citadel",
      "ufw --force enable",
    ]);
    expect(JSON.parse(h.read("/etc/ufw/citadel-access.json"))).toEqual({
      labSubnet: "192.168.10.0/24",
      adminSubnet: "192.168.10.0/24",
      ports: [{ port: 9901 }],
    });
    const after = h.read("/etc/ufw/after.rules");
    expect(after.startsWith("# ufw's own after.rules\n*filter\nCOMMIT\n")).toBe(true);
    expect(after).toContain(dockerUserRules(plan));
    const second = h.run(script, params(), {}, fromLab);
    expect([second.status, second.stderr]).toEqual([0, ""]);
    expect(mutations(second)).toEqual([]);
    expect(second.stdout.trim().split("\n").pop()).toBe("no changes: firewall already converged");
    expect(h.read("/etc/ufw/after.rules")).toBe(after);
  });

  it("removes a rule that is no longer wanted and reloads when the DOCKER-USER rules change", () => {
    const h = host();
    h.run(script, params(), {}, fromLab);
    const smaller = { ...plan, ports: [{ port: 8000, sources: ["192.168.10.0/25"] }] };
    const run = h.run(script, params(smaller), {}, fromLab);
    expect(run.status).toBe(0);
    expect(mutations(run)).toEqual([
      "ufw allow from 192.168.10.0/25 to any port 8000 proto tcp comment citadel",
      "ufw delete allow from 10.9.0.0/24 to any port 8000 proto tcp",
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
  const ufwOf = (lab: Awaited<ReturnType<typeof synthLab>>, host: string) =>
    String(byName(lab, `${host}-firewall-ufw`).rawInputs.create);
  const published = (lab: Awaited<ReturnType<typeof synthLab>>, host: string) =>
    ofType(lab, "docker:index/container:Container")
      .filter((c) => c.provider?.endsWith(`${host}-docker-provider`))
      .flatMap((c) => {
        const i = c.rawInputs as Record<string, any>;
        if (i.networkMode === "host")
          return [
            {
              name: i.name,
              ip: "host",
              port: Number(/:(\d+)$/.exec(i.command.find((a: string) => a.includes("listen-address")))?.[1]),
            },
          ];
        return (i.ports ?? []).map((p: { external: number; ip?: string }) => ({
          name: i.name,
          ip: p.ip ?? "0.0.0.0",
          port: p.external,
        }));
      });

  it("opens each port a container publishes to exactly its access model's sources, and nothing for loopback ports", async () => {
    const lab = await synthLab();
    const rules = ufwOf(lab, "citadel");
    const ports = published(lab, "citadel");
    expect(ports.length).toBeGreaterThan(9);
    // Nobody outside citadel needs Loki (no other host pushes), the Alloy UI or the exporters the
    // local Prometheus scrapes by name: they are published on loopback only, with no rule.
    expect(
      ports
        .filter((p) => p.ip === "127.0.0.1")
        .map((p) => p.name)
        .sort(),
    ).toEqual(["alloy", "cadvisor", "gpu-exporter", "loki"]);
    for (const p of ports.filter((x) => x.ip === "127.0.0.1"))
      expect(rules).not.toContain(`port ${p.port} proto`);
    for (const p of ports.filter((x) => x.ip === "0.0.0.0"))
      expect(rules).toContain(`allow from 192.168.10.0/24 to any port ${p.port} proto tcp comment citadel`);
    // node-exporter listens on the host: the stack's own Prometheus reaches it from the Docker subnets.
    expect(rules).toContain(
      `allow from 172.16.0.0/12 to any port ${hostPort("nodeExporter")} proto tcp comment citadel`,
    );
    expect(rules).not.toContain(`allow from 192.168.10.0/24 to any port ${hostPort("nodeExporter")}`);
    expect(rules).toContain("allow from 192.168.10.0/24 to any port 22 proto tcp comment citadel");
  });

  it("admits only the other lab host where a port serves the stack across hosts", async () => {
    const config = labConfigMap();
    addMonitoringPi(config, "192.168.10.40", true);
    config["citadel:ladon"].host = "pi";
    config["citadel:ladon"].dataDir = "/srv/ladon/data";
    config["citadel:ops"].firewall.hadesSubnet = "192.168.10.64/26";
    const lab = await synthLab(config);
    const pi = ufwOf(lab, "pi");
    const citadel = ufwOf(lab, "citadel");
    // citadel's Alloy pushes to Loki and its vLLM sends traces to Phoenix, on the pi.
    expect(pi).toContain(
      `allow from 192.168.10.29/32 to any port ${hostPort("loki")} proto tcp comment citadel`,
    );
    expect(pi).not.toContain(`allow from 192.168.10.0/24 to any port ${hostPort("loki")}`);
    expect(pi).toContain(
      `allow from 192.168.10.29/32 to any port ${hostPort("phoenix", "otlpGrpc")} proto tcp comment citadel`,
    );
    expect(pi).toContain(
      `allow from 192.168.10.64/26 to any port ${hostPort("phoenix", "otlpGrpc")} proto tcp comment citadel`,
    );
    // The pi's Prometheus scrapes citadel's exporters, Alloy and vLLM by address.
    for (const port of [
      hostPort("alloy"),
      hostPort("nodeExporter"),
      hostPort("gpuExporter"),
      hostPort("cadvisor"),
      8000,
      8001,
    ])
      expect(citadel).toContain(`allow from 192.168.10.40/32 to any port ${port} proto tcp comment citadel`);
    expect(citadel).not.toContain(`allow from 192.168.10.0/24 to any port ${hostPort("cadvisor")}`);
    expect(citadel).toContain("allow from 192.168.10.64/26 to any port 8000 proto tcp comment citadel");
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
