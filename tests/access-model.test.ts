/**
 * The access model as the firewall and the port bindings get it (components/plan/access.ts
 * `hostAccess`, `bindOf`), on the committed lab and with the stack moved to the Pi. The admin, lab
 * and HADES subnets are three different networks here (the committed stack has one subnet for all
 * of them), so a port admitted from the wrong one shows. Pure: each test parses its own config.
 */
import { bindOf, hostAccess, VLLM_ACCESS, type Subnets } from "../components/plan/access";
import { parseLabConfig } from "../components/plan";
import { accessOf } from "../components/plan/access";
import { onHostNetwork, SERVICES, type ServiceName } from "../components/plan/services";
import { DOCKER_SUBNETS } from "../components/shared/lab";
import { fromConfigMap, stackConfigSource } from "../lib/synth/stackfile";
import { addMonitoringPi, LAB_SECRETS, labConfigMap } from "./support/lab";

const SUBNETS: Subnets = { adminSubnet: "10.1.0.0/24", labSubnet: "10.2.0.0/24", hadesSubnet: "10.3.0.0/24" };

function parsed(change: (config: Record<string, any>) => void = () => undefined) {
  const config = labConfigMap();
  change(config);
  const { lab, plan } = parseLabConfig(stackConfigSource(fromConfigMap(config), LAB_SECRETS));
  const address = (host: string) => `${config["citadel:hosts"][host].address}/32`;
  return { lab, ladon: plan.ladon!, address };
}

/** The stack on the Pi, citadel keeping its exporters, Alloy and vLLM. */
const onPi = (config: Record<string, any>) => {
  addMonitoringPi(config, "192.168.10.40", true);
  config["citadel:ladon"].host = "pi";
  config["citadel:ladon"].dataDir = "/srv/ladon/data";
};

/** The model's entry for a published port: the registry's container port for a LadonStack service. */
const modelOf = (service: string, hostPort: number) =>
  service === "vllm"
    ? VLLM_ACCESS
    : accessOf(
        service,
        Object.values(SERVICES[service as ServiceName].ports).find((p) => p.host === hostPort)!.container,
      );

describe("hostAccess on the stack's own host", () => {
  it("admits each audience from its own network: admin, HADES, and the stack's Prometheus from Docker's", () => {
    const { lab, ladon } = parsed();
    const access = hostAccess(lab, "citadel", ladon, SUBNETS);
    expect(access.length).toBeGreaterThan(9);
    for (const a of access) {
      const expected = new Set<string>();
      if (a.audiences.includes("admin")) expected.add(SUBNETS.adminSubnet);
      if (a.audiences.includes("hades")) expected.add(SUBNETS.hadesSubnet!);
      // On the stack's host its Prometheus scrapes a host-network exporter from the Docker subnets.
      if (a.audiences.includes("stack")) for (const s of DOCKER_SUBNETS) expected.add(s);
      expect([a.container, a.port, a.sources]).toEqual([a.container, a.port, [...expected].sort()]);
      // Every audience is one the model names for the port, and none is left out but those that
      // need another host (pushers, and the stack's Prometheus for a container on its own host).
      const from = modelOf(a.service, a.port)!.from;
      expect(from).toEqual(expect.arrayContaining(a.audiences));
      const dropped = from.filter((f) => !a.audiences.includes(f));
      for (const f of dropped)
        expect([a.container, f]).toEqual([a.container, expect.stringMatching(/^(pushers|stack)$/)]);
      if (dropped.includes("stack")) expect(onHostNetwork(a.service)).toBe(false);
      // A container beside the stack's Prometheus is scraped by name over Docker's network: its
      // port is not opened for it.
      if (!onHostNetwork(a.service))
        expect([a.container, a.audiences]).not.toEqual([a.container, expect.arrayContaining(["stack"])]);
    }
  });

  it("admits HADES from the lab subnet when no HADES subnet is set", () => {
    const { lab, ladon } = parsed();
    const access = hostAccess(lab, "citadel", ladon, {
      adminSubnet: SUBNETS.adminSubnet,
      labSubnet: SUBNETS.labSubnet,
    });
    const hades = access.filter((a) => a.audiences.includes("hades"));
    expect(hades.length).toBeGreaterThan(0);
    for (const a of hades) expect(a.sources).toContain(SUBNETS.labSubnet);
  });

  it("lists each port once by number, on loopback where nobody outside needs it, with no sources there", () => {
    const { lab, ladon } = parsed();
    const access = hostAccess(lab, "citadel", ladon, SUBNETS);
    const ports = access.map((a) => a.port);
    expect(ports).toEqual([...ports].sort((x, y) => x - y));
    expect(new Set(ports).size).toBe(ports.length);
    for (const a of access) {
      const expected = onHostNetwork(a.service)
        ? "host-network"
        : a.audiences.length > 0
          ? "0.0.0.0"
          : "127.0.0.1";
      expect([a.container, a.bind]).toEqual([a.container, expected]);
      if (a.bind === "127.0.0.1") expect(a.sources).toEqual([]);
    }
    expect(access.some((a) => a.bind === "127.0.0.1")).toBe(true);
    // The binding a container gets is the one the firewall was planned for.
    for (const a of access.filter((x) => x.service !== "vllm" && x.bind !== "host-network")) {
      const name = Object.entries(SERVICES[a.service as ServiceName].ports).find(
        ([, p]) => p.host === a.port,
      )![0];
      expect([a.container, bindOf(ladon, "citadel", a.service as ServiceName, name)]).toEqual([
        a.container,
        a.bind,
      ]);
    }
  });

  it("names no sources without a firewall", () => {
    const { lab, ladon } = parsed();
    const access = hostAccess(lab, "citadel", ladon);
    expect(access.some((a) => a.audiences.length > 0)).toBe(true);
    for (const a of access) expect([a.container, a.sources]).toEqual([a.container, []]);
  });

  it("serves each vLLM server's API on its own port, with its key, and says what a port can change", () => {
    const { lab, ladon } = parsed();
    const access = hostAccess(lab, "citadel", ladon, SUBNETS);
    const servers = Object.entries(lab.vllm!.servers);
    expect(access.filter((a) => a.service === "vllm").map((a) => [a.container, a.port, a.auth])).toEqual(
      servers
        .map(([name, s]) => [`vllm-${name}`, s.port, VLLM_ACCESS.auth])
        .sort((a, b) => (a[1] as number) - (b[1] as number)),
    );
    for (const a of access)
      expect([a.container, a.port, a.writes]).toEqual([
        a.container,
        a.port,
        modelOf(a.service, a.port)!.writes,
      ]);
    expect(access.some((a) => a.writes !== undefined)).toBe(true);
  });
});

describe("hostAccess with the stack on the Pi", () => {
  it("admits the Pi's Prometheus to citadel's exporters and vLLM by its address, and only there", () => {
    const { lab, ladon, address } = parsed(onPi);
    const citadel = hostAccess(lab, "citadel", ladon, SUBNETS);
    const scraped = citadel.filter((a) => a.audiences.includes("stack"));
    expect(scraped.length).toBeGreaterThan(3);
    for (const a of scraped) expect(a.sources).toContain(address("pi"));
    for (const a of citadel.filter((x) => !x.audiences.includes("stack")))
      expect(a.sources).not.toContain(address("pi"));
    expect(scraped.map((a) => a.service)).toContain("vllm");
  });

  it("admits to the Pi's Loki the hosts whose Alloy pushes to it, and to Phoenix's OTLP the vLLM host", () => {
    const { lab, ladon, address } = parsed(onPi);
    const pi = hostAccess(lab, "pi", ladon, SUBNETS);
    const loki = pi.filter((a) => a.service === "loki" && a.audiences.includes("pushers"));
    expect(loki.length).toBeGreaterThan(0);
    for (const a of loki) expect(a.sources).toEqual([address("citadel")]);
    const otlp = pi.find((a) => a.service === "phoenix" && a.port === SERVICES.phoenix.ports.otlpGrpc!.host)!;
    expect(otlp.audiences).toContain("pushers");
    expect(otlp.sources).toContain(address("citadel"));
    // Phoenix's other ports take no pushes, and no host pushes to itself.
    for (const a of pi.filter((x) => x.service === "phoenix" && x !== otlp))
      expect(a.audiences).not.toContain("pushers");
    for (const a of pi) expect(a.sources).not.toContain(address("pi"));
  });
});

describe("hostAccess at the edges of placement", () => {
  it("gives nobody the pushers' way in on a lab of one host, and keeps Loki's push port on loopback there", () => {
    const { lab, ladon } = parsed();
    const access = hostAccess(lab, "citadel", ladon, SUBNETS);
    for (const a of access)
      expect([a.container, a.audiences]).not.toEqual([a.container, expect.arrayContaining(["pushers"])]);
    const loki = access.find((a) => a.service === "loki" && a.port === SERVICES.loki.ports.http!.host)!;
    expect([loki.bind, loki.sources]).toEqual(["127.0.0.1", []]);
  });

  it("opens Phoenix's OTLP port on the Pi only to a vLLM host, not to the hosts that push logs", () => {
    const { lab, ladon, address } = parsed((config) => {
      onPi(config);
      delete config["citadel:vllm"];
    });
    const pi = hostAccess(lab, "pi", ladon, SUBNETS);
    const otlp = pi.find((a) => a.service === "phoenix" && a.port === SERVICES.phoenix.ports.otlpGrpc!.host)!;
    expect(otlp.audiences).toEqual(["hades"]);
    expect(otlp.sources).toEqual([SUBNETS.hadesSubnet]);
    // Loki still takes citadel's Alloy.
    const loki = pi.find((a) => a.service === "loki" && a.port === SERVICES.loki.ports.http!.host)!;
    expect(loki.sources).toEqual([address("citadel")]);
  });

  it("publishes vLLM's servers only on the vLLM host, and a host without the stack or vLLM publishes nothing", () => {
    const { lab, ladon } = parsed(onPi);
    expect(hostAccess(lab, "pi", ladon, SUBNETS).filter((a) => a.service === "vllm")).toEqual([]);
    const { lab: bare } = parsed((config) => {
      onPi(config);
      delete config["citadel:vllm"];
    });
    expect(hostAccess(bare, "pi", undefined, SUBNETS)).toEqual([]);
  });

  it("without a LadonStack, admits vLLM from the admin and HADES subnets only", () => {
    const { lab } = parsed();
    const access = hostAccess(lab, "citadel", undefined, SUBNETS);
    expect(access.map((a) => a.service)).toEqual(Object.keys(lab.vllm!.servers).map(() => "vllm"));
    for (const a of access)
      expect([a.container, a.audiences, a.sources]).toEqual([
        a.container,
        ["admin", "hades"],
        [SUBNETS.adminSubnet, SUBNETS.hadesSubnet].sort(),
      ]);
  });

  it("sorts each port's sources, whatever order the subnets come in", () => {
    const { lab, ladon } = parsed();
    const reversed: Subnets = {
      adminSubnet: "10.9.0.0/24",
      labSubnet: "10.2.0.0/24",
      hadesSubnet: "10.3.0.0/24",
    };
    const access = hostAccess(lab, "citadel", ladon, reversed);
    const both = access.filter((a) => a.sources.length > 1);
    expect(both.length).toBeGreaterThan(0);
    for (const a of both) expect([a.container, a.sources]).toEqual([a.container, [...a.sources].sort()]);
    expect(both.some((a) => a.sources[0] === "10.3.0.0/24" && a.sources.includes("10.9.0.0/24"))).toBe(true);
  });
});
