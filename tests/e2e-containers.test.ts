/**
 * The e2e tier's container stand-in (tests/tiers/e2e/containers.ts), without VMs: the Engine API body it
 * sends for each container the program registers carries every registered input, and an input it
 * cannot translate stops the run naming it instead of being dropped.
 */
import { CONTAINER, createBody, durationNs, NETWORK, networkBody } from "./tiers/e2e/containers";
import { labGuestAddress } from "./tiers/e2e/services";
import { synthesize } from "../lib/synth/harness";
import { runLab } from "../lib/synth/program";
import { fromConfigMap } from "../lib/synth/stackfile";
import { labConfigMap } from "./support/lab";

describe("the e2e container stand-in", () => {
  let resources: Awaited<ReturnType<typeof synthesize>>["resources"];
  beforeAll(async () => {
    resources = (await synthesize({ stack: fromConfigMap(labConfigMap()), program: runLab })).resources;
  });
  const registered = (name: string) => {
    const r = resources.find((x) => x.type === CONTAINER && x.rawInputs.name === name);
    if (!r) throw new Error(`the program registers no container ${name}`);
    return r;
  };

  it("sends Prometheus's registered inputs: command, healthcheck, ports, volumes, network and aliases", () => {
    const r = registered("prometheus");
    const i = r.rawInputs as {
      command: string[];
      healthcheck: { tests: string[]; interval: string };
      ports: { internal: number; external: number }[];
      volumes: { hostPath: string; containerPath: string; readOnly?: boolean }[];
      networksAdvanced: { name: string; aliases: string[] }[];
      memory: number;
    };
    const { containerName, body } = createBody(r.name, r.rawInputs);
    const host = body.HostConfig as Record<string, unknown>;
    expect(containerName).toBe("prometheus");
    expect(body.Cmd).toEqual(i.command);
    expect((body.Healthcheck as { Test: string[]; Interval: number }).Test).toEqual(i.healthcheck.tests);
    expect((body.Healthcheck as { Interval: number }).Interval).toBe(durationNs(i.healthcheck.interval));
    const port = i.ports[0] as { internal: number; external: number };
    expect(host.PortBindings).toEqual({
      [`${port.internal}/tcp`]: [{ HostIp: "", HostPort: String(port.external) }],
    });
    expect(host.Binds).toEqual(
      i.volumes.map((v) => `${v.hostPath}:${v.containerPath}${v.readOnly ? ":ro" : ""}`),
    );
    const net = i.networksAdvanced[0] as { name: string; aliases: string[] };
    expect(host.NetworkMode).toBe(net.name);
    expect(body.NetworkingConfig).toEqual({ EndpointsConfig: { [net.name]: { Aliases: net.aliases } } });
    expect(host.Memory).toBe(i.memory * 1024 * 1024);
  });

  it("sends node-exporter's host network, host PID namespace and rslave root mount", () => {
    const r = registered("node-exporter");
    const host = createBody(r.name, r.rawInputs).body.HostConfig as Record<string, unknown>;
    expect(host.NetworkMode).toBe("host");
    expect(host.PidMode).toBe("host");
    expect(host.Mounts).toEqual([
      { Type: "bind", Source: "/", Target: "/host", ReadOnly: true, BindOptions: { Propagation: "rslave" } },
    ]);
  });

  it("refuses an input it does not translate, naming it, rather than dropping it", () => {
    const r = registered("prometheus");
    expect(() => createBody(r.name, { ...r.rawInputs, shmSize: 64 })).toThrow(
      `${r.name}: the e2e tier does not translate the input(s) shmSize to the Engine API`,
    );
    const n = resources.find((x) => x.type === NETWORK);
    expect(n).toBeDefined();
    expect(() => networkBody("n", { ...n?.rawInputs, ipv6: true })).toThrow("ipv6");
  });

  it("parses Go durations as the provider does, and refuses what is not one", () => {
    expect(durationNs("30s")).toBe(30e9);
    expect(durationNs("1m30s")).toBe(90e9);
    expect(durationNs("250ms")).toBe(250e6);
    expect(() => durationNs("30")).toThrow("not a Go duration: 30");
  });

  it("puts the lab guest in the lab subnet, on no lab host, outside the admin subnet when the config allows", () => {
    expect(labGuestAddress("192.168.10.0/24", "192.168.10.0/24", new Set(["192.168.10.250"]))).toBe(
      "192.168.10.249/24",
    );
    expect(labGuestAddress("192.168.0.0/16", "192.168.10.0/24", new Set())).toBe("192.168.255.250/16");
    expect(labGuestAddress("192.168.10.0/24", "192.168.10.128/25", new Set())).toBe("192.168.10.127/24");
  });
});
