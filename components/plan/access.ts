/**
 * The access model: for every port the lab publishes, who needs it from outside its host, what a
 * request to it can change, and how such requests are authenticated. The firewall's rules
 * (`hostAccess` -> `components/host/firewall-rules.ts`), each container's port binding, the
 * README's port table and the `protect-data-changing-ports` policy are all derived from it. Pure.
 */
import type { HostConfig, LabConfig } from "../config/schema";
import { DOCKER_SUBNETS } from "../shared/lab";
import {
  CATALOG,
  onHostNetwork,
  SERVICES,
  type Audience,
  type Auth,
  type PortAccess,
  type ServiceName,
} from "./services";

export type { Audience, Auth, PortAccess } from "./services";
import type { ResolvedLadon } from "./ladon-resolve";

/** The model for every port of the port registry, from each service's module (components/plan/services/). */
export const ACCESS: { readonly [S in ServiceName]: Readonly<Record<string, PortAccess>> } =
  Object.fromEntries(CATALOG.map((s) => [s.name, s.access])) as {
    [S in ServiceName]: Readonly<Record<string, PortAccess>>;
  };

/** vLLM's OpenAI API, on every server's own port (components/plan/vllm.ts keeps them outside the monitoring range). */
export const VLLM_ACCESS: PortAccess = { from: ["admin", "hades", "stack"], auth: "API key" };

/** The service label citadel's vLLM containers carry. */
export const VLLM_SERVICE = "vllm";

/** The model's entry for a container's service label and container port, if it has one. */
export function accessOf(service: string, containerPort: number): PortAccess | undefined {
  if (service === VLLM_SERVICE) return VLLM_ACCESS;
  const spec = SERVICES[service as ServiceName];
  if (!spec) return undefined;
  const name = Object.entries(spec.ports).find(([, p]) => p.container === containerPort)?.[0];
  return name === undefined ? undefined : ACCESS[service as ServiceName][name];
}

/** Where the firewall admits a port from. */
export interface Subnets {
  adminSubnet: string;
  labSubnet: string;
  /** @default labSubnet */
  hadesSubnet?: string;
}

/** One published port on one host, resolved. */
export interface HostPortAccess {
  /** Container name: `prometheus`, `vllm-chat`. */
  container: string;
  /** The service label: a LadonStack service or `vllm`. */
  service: string;
  port: number;
  /** The audiences that apply on this host. */
  audiences: Audience[];
  /** `127.0.0.1`: nobody outside the host needs it; `host-network`: the process listens on the host. */
  bind: "0.0.0.0" | "127.0.0.1" | "host-network";
  /** Source CIDRs the firewall admits, sorted; empty without a firewall or for 127.0.0.1. */
  sources: string[];
  writes?: string;
  auth: Auth;
}

const addressOf = (hosts: LabConfig["hosts"], host: string) => `${(hosts[host] as HostConfig).address}/32`;

type Hosts = LabConfig["hosts"];

/** The audiences that apply to a port of `service` on `host`: `stack` and `pushers` depend on placement. */
function applies(
  ladon: Pick<ResolvedLadon, "stackHostName" | "placement" | "vllmHost"> | undefined,
  host: string,
  service: string,
  port: string,
  access: PortAccess,
): { audience: Audience; sources: (s: Subnets, hosts: Hosts) => string[] }[] {
  const onStack = ladon?.stackHostName === host;
  const hostNetwork = onHostNetwork(service);
  type Way = { audience: Audience; sources: (s: Subnets, hosts: Hosts) => string[] };
  return access.from.flatMap((audience): Way[] => {
    switch (audience) {
      case "admin":
        return [{ audience, sources: (s: Subnets) => [s.adminSubnet] }];
      case "hades":
        return [{ audience, sources: (s: Subnets) => [s.hadesSubnet ?? s.labSubnet] }];
      case "stack": {
        if (!ladon) return [];
        const stack = ladon.stackHostName;
        if (!onStack) return [{ audience, sources: (_: Subnets, hosts: Hosts) => [addressOf(hosts, stack)] }];
        return hostNetwork ? [{ audience, sources: () => [...DOCKER_SUBNETS] }] : [];
      }
      case "pushers": {
        if (!ladon || !onStack) return [];
        const pushers =
          service === "loki"
            ? Object.entries(ladon.placement)
                .filter(([h, services]) => h !== host && services.includes("alloy"))
                .map(([h]) => h)
            : service === "phoenix" && port === "otlpGrpc" && ladon.vllmHost && ladon.vllmHost !== host
              ? [ladon.vllmHost]
              : [];
        return pushers.length > 0
          ? [
              {
                audience,
                sources: (_: Subnets, hosts: Hosts) => pushers.map((h) => addressOf(hosts, h)).sort(),
              },
            ]
          : [];
      }
    }
    return [];
  });
}

/**
 * Every port published on `host`, with who may reach it: the LadonStack's services placed there and,
 * on the vLLM host, each server's API. Sorted by port. `subnets` is `ops.firewall`; without it
 * nothing narrows the sources, so `sources` stays empty.
 */
export function hostAccess(
  lab: Pick<LabConfig, "hosts" | "vllm">,
  host: string,
  ladon?: ResolvedLadon,
  subnets?: Subnets,
): HostPortAccess[] {
  const out: HostPortAccess[] = [];
  const add = (container: string, service: string, portName: string, port: number, access: PortAccess) => {
    const ways = applies(ladon, host, service, portName, access);
    const hostNetwork = onHostNetwork(service);
    const bind = hostNetwork ? "host-network" : ways.length > 0 ? "0.0.0.0" : "127.0.0.1";
    out.push({
      container,
      service,
      port,
      audiences: ways.map((w) => w.audience),
      bind,
      sources:
        subnets && bind !== "127.0.0.1"
          ? [...new Set(ways.flatMap((w) => w.sources(subnets, lab.hosts)))].sort()
          : [],
      ...(access.writes ? { writes: access.writes } : {}),
      auth: access.auth,
    });
  };
  for (const service of ladon?.placement[host] ?? []) {
    for (const [name, p] of Object.entries(SERVICES[service].ports))
      add(SERVICES[service].container, service, name, p.host, ACCESS[service][name] as PortAccess);
  }
  if (lab.vllm?.host === host) {
    for (const [server, s] of Object.entries(lab.vllm.servers))
      add(`vllm-${server}`, VLLM_SERVICE, "http", s.port, VLLM_ACCESS);
  }
  return out.sort((a, b) => a.port - b.port);
}

/** How a container publishes a registry port on `host`: on 127.0.0.1 when nobody outside needs it. */
export function bindOf(
  ladon: Pick<ResolvedLadon, "stackHostName" | "placement" | "vllmHost">,
  host: string,
  service: ServiceName,
  port: string,
): "0.0.0.0" | "127.0.0.1" {
  return applies(ladon, host, service, port, ACCESS[service][port] as PortAccess).length > 0
    ? "0.0.0.0"
    : "127.0.0.1";
}

/** The audiences as the README's table says them. */
export const AUDIENCE_TEXT: Record<Audience, string> = {
  admin: "admin subnet",
  hades: "HADES",
  stack: "stack host's Prometheus",
  pushers: "hosts that push to it",
};
