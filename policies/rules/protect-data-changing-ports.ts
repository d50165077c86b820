import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { accessOf } from "../../components/plan/access";
import { envMap, flagValue, providerAddress, scriptParams, serviceOf, TYPES } from "../lib/resources";

/** An IPv4 CIDR as the range [first, last] of 32-bit addresses, or undefined. */
export function rangeOf(cidr: string): [number, number] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(cidr);
  if (!m) return undefined;
  const ip = m.slice(1, 5).reduce((a, o) => a * 256 + Number(o), 0);
  const bits = m[5] === undefined ? 32 : Number(m[5]);
  const size = 2 ** (32 - bits);
  const first = Math.floor(ip / size) * size;
  return [first, first + size - 1];
}

/** Whether a source admits any address of the subnet. */
function overlaps(source: string, subnet: string): boolean {
  const a = source === "anywhere" ? ([0, 2 ** 32 - 1] as [number, number]) : rangeOf(source);
  const b = rangeOf(subnet);
  return a !== undefined && b !== undefined && a[0] <= b[1] && b[0] <= a[1];
}

/** Whether the sources, together, admit every address of the lab subnet. */
export function coversSubnet(sources: string[], subnet: string): boolean {
  const lab = rangeOf(subnet);
  if (!lab) return true;
  const parts = sources
    .map((s) => (s === "anywhere" ? ([0, 2 ** 32 - 1] as [number, number]) : rangeOf(s)))
    .filter((r): r is [number, number] => r !== undefined)
    .map(([a, b]) => [Math.max(a, lab[0]), Math.min(b, lab[1])] as [number, number])
    .filter(([a, b]) => a <= b)
    .sort((x, y) => x[0] - y[0]);
  let next = lab[0];
  for (const [a, b] of parts) {
    if (a > next) return false;
    next = Math.max(next, b + 1);
  }
  return next > lab[1];
}

/** How a container authenticates requests, from its own settings; undefined when it does not. */
export function authOf(props: Record<string, any>): string | undefined {
  if (flagValue(props.command, "--web.config.file")) return "basic auth (web config)";
  const env = envMap(props.envs);
  switch (serviceOf(props)) {
    case "grafana":
      return env.GF_AUTH_ANONYMOUS_ENABLED === "false" ? "Grafana login" : undefined;
    case "phoenix":
      return (env.PHOENIX_ENABLE_AUTH ?? "").toLowerCase() === "true" ? "Phoenix auth" : undefined;
    case "vllm":
      return env.VLLM_API_KEY || flagValue(props.command, "--api-key") ? "API key" : undefined;
  }
  return undefined;
}

interface HostFirewall {
  labSubnet?: string;
  /** Sources per host port, from ufw's rules (what the host itself serves). */
  ufw: Map<number, string[]>;
  /** Sources per host port from DOCKER-USER, plus sources every published port admits. */
  dockerUser: Map<number, string[]>;
  dockerUserAll: string[];
}

/** What a host's firewall step admits, read from the rules it applies. */
export function firewallOf(step: PolicyResource): HostFirewall {
  const params = scriptParams(step.props.create);
  const fw: HostFirewall = { ufw: new Map(), dockerUser: new Map(), dockerUserAll: [] };
  try {
    fw.labSubnet = (JSON.parse(params.ACCESS ?? "{}") as { labSubnet?: string }).labSubnet;
  } catch {
    fw.labSubnet = undefined;
  }
  const add = (m: Map<number, string[]>, port: number, source: string) =>
    m.set(port, [...(m.get(port) ?? []), source]);
  for (const rule of (params.RULES ?? "").split("\n")) {
    const m = /^allow from (\S+) to any port (\d+) proto tcp/.exec(rule);
    if (m) add(fw.ufw, Number(m[2]), m[1] as string);
  }
  const block = params.AFTER_BLOCK ?? "";
  for (const line of block.split("\n")) {
    const source = /^-A DOCKER-USER -s (\S+) .*-j RETURN$|^-A DOCKER-USER -s (\S+) -j RETURN$/.exec(line);
    if (!source) continue;
    const port = /--ctorigdstport (\d+)/.exec(line);
    if (port) add(fw.dockerUser, Number(port[1]), (source[1] ?? source[2]) as string);
    else fw.dockerUserAll.push((source[1] ?? source[2]) as string);
  }
  // Without the closing DROP, DOCKER-USER lets everything through to Docker's own rules.
  if (!/^-A DOCKER-USER -j DROP$/m.test(block)) fw.dockerUserAll.push("anywhere");
  return fw;
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

/**
 * The access model says what each port can change (components/plan/access.ts); the containers say
 * whether they authenticate; the firewall steps say who may connect. A port that can change data
 * needs one of: authentication, or sources that leave out part of the lab subnet.
 */
export const protectDataChangingPorts: StackValidationPolicy = {
  name: "protect-data-changing-ports",
  description:
    "A published port that can change or delete data either authenticates its clients or is open only to sources narrower than the lab subnet, because the lab subnet holds phones, guests and IoT devices. Every published port has an entry in the access model, which says what it can change.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const firewalls = new Map<string, HostFirewall>();
    for (const r of args.resources) {
      if (r.type !== TYPES.remoteCommand) continue;
      const params = scriptParams(r.props.create);
      if (params.AFTER_BLOCK === undefined || params.RULES === undefined) continue;
      const host = (r.props.connection as { host?: string } | undefined)?.host;
      if (host) firewalls.set(host, firewallOf(r));
    }
    for (const r of args.resources.filter((x) => x.type === TYPES.container)) {
      const host = providerAddress(r.provider?.props.host) ?? "local";
      const service = serviceOf(r.props);
      const hostNetwork = r.props.networkMode === "host";
      const listen = hostNetwork ? flagValue(r.props.command, "--web.listen-address") : undefined;
      const ports: { internal: number; external: number; ip?: string }[] = hostNetwork
        ? listen && /:(\d+)$/.test(listen)
          ? [{ internal: Number(/:(\d+)$/.exec(listen)?.[1]), external: Number(/:(\d+)$/.exec(listen)?.[1]) }]
          : []
        : ((r.props.ports ?? []) as { internal: number; external: number; ip?: string }[]);
      for (const p of ports) {
        if (p.ip && LOOPBACK.test(String(p.ip))) continue;
        const port = Number(p.external);
        const access = accessOf(service, Number(p.internal));
        if (!access) {
          report(
            `port ${port} (${service} on ${host}) has no entry in the access model; add one to components/plan/access.ts, or publish it on 127.0.0.1.`,
            r.urn,
          );
          continue;
        }
        if (!access.writes || authOf(r.props)) continue;
        const fw = firewalls.get(host);
        const sources = !fw
          ? ["anywhere"]
          : hostNetwork
            ? (fw.ufw.get(port) ?? [])
            : [...fw.dockerUserAll, ...(fw.dockerUser.get(port) ?? [])];
        const lab = fw?.labSubnet;
        if (fw && lab && !coversSubnet(sources, lab)) continue;
        const from = !fw
          ? "every address (no citadel:ops.firewall)"
          : `all of the lab subnet ${lab ?? "(unknown)"} (admitted from ${sources.filter((s) => !lab || overlaps(s, lab)).join(", ")})`;
        report(
          `port ${port} (${service} on ${host}) can change data (${access.writes}) without authentication and is open to ${from}; admit only the hosts that need it in components/plan/access.ts, publish it on 127.0.0.1, or give ${service} authentication.`,
          r.urn,
        );
      }
    }
  },
};
