/**
 * The access model: for every port the lab publishes, who needs it from outside its host, what a
 * request to it can change, and how such requests are authenticated. The firewall's rules
 * (`hostAccess` -> `components/host/firewall-rules.ts`), each container's port binding, the
 * README's port table and the `protect-data-changing-ports` policy are all derived from it. Pure.
 */
import type { HostConfig, LabConfig } from "../config/schema";
import { DOCKER_SUBNETS } from "../shared/lab";
import { SERVICES, type ServiceName } from "./services";
import type { ResolvedLadon } from "./ladon-resolve";

/**
 * Who reaches a port from outside its host:
 * - `admin`: people and tools on the admin subnet (browsers, `npm run assess`);
 * - `hades`: the lab's RAG pipeline, from `ops.firewall.hadesSubnet`;
 * - `stack`: the stack host's Prometheus, scraping a host that is not the stack host (on the stack
 *   host it scrapes by container name on the lab network; a host-network exporter there is reached
 *   from the Docker subnets);
 * - `pushers`: the other lab hosts that push to the stack (Alloy's logs to Loki, vLLM's traces to Phoenix).
 * A port with no audience left on a host is published on 127.0.0.1 only: the host's own steps and
 * probes reach it, no other machine does.
 */
export type Audience = "admin" | "hades" | "stack" | "pushers";

/** How a port authenticates requests. */
export type Auth =
  "none" | "basic auth (web config)" | "Grafana login" | "Phoenix login or API key" | "API key";

export interface PortAccess {
  /** Who needs it from outside its host; empty: nobody. */
  from: readonly Audience[];
  /** What a request can change or delete, when it can; undefined: it only reads. */
  writes?: string;
  /** How requests are authenticated. */
  auth: Auth;
}

/** The model for every port of the port registry (components/plan/services/). */
export const ACCESS: { readonly [S in ServiceName]: Readonly<Record<string, PortAccess>> } = {
  grafana: {
    http: { from: ["admin"], writes: "dashboards, datasources, users", auth: "Grafana login" },
  },
  prometheus: {
    // The admin API (--web.enable-admin-api, only with backups, for the TSDB snapshot) deletes
    // series; the lifecycle API (--web.enable-lifecycle, for our config reloads) stops it. Both
    // answer only with basic auth (webauth.ts); our steps call them from the host.
    http: {
      from: ["admin"],
      writes: "TSDB deletes and snapshots (admin API), reload and quit (lifecycle API)",
      auth: "basic auth (web config)",
    },
  },
  alertmanager: {
    // Silences mute alerts; POST /-/reload re-reads the config (httpserver/httpserver.go@v0.35.0).
    http: { from: ["admin"], writes: "silences, reload", auth: "basic auth (web config)" },
  },
  loki: {
    // auth_enabled: false; only the hosts that push to it may reach it.
    http: { from: ["pushers"], writes: "log pushes, delete requests", auth: "none" },
  },
  alloy: {
    // UI and metrics on one port: the stack's Prometheus scrapes it on other hosts.
    http: { from: ["stack"], auth: "none" },
  },
  phoenix: {
    http: { from: ["admin", "hades"], writes: "traces, projects, users", auth: "Phoenix login or API key" },
    otlpGrpc: { from: ["hades", "pushers"], writes: "traces", auth: "Phoenix login or API key" },
  },
  nodeExporter: { http: { from: ["stack"], auth: "none" } },
  gpuExporter: { http: { from: ["stack"], auth: "none" } },
  cadvisor: { http: { from: ["stack"], auth: "none" } },
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
  const hostNetwork = service === "nodeExporter";
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
    const hostNetwork = service === "nodeExporter";
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
