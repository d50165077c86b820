/** Everything the stack's renderers and components need, resolved once from the lab config. Pure. */
import type { HostConfig, LabConfig } from "../config/schema";
import type { LadonConfig } from "../config/ladon";
import { parseSize } from "../config/units";
import { vllmContainer } from "../config/vllm";
import { PHOENIX_METRICS_PORT, SERVICES, type ServiceName } from "./services";
import { placement, volumeOf } from "./ladon";
import { CONTAINER_PORT as VLLM_CONTAINER_PORT } from "./vllm";

export interface ScrapeTarget {
  /** host:port as Prometheus dials it. */
  address: string;
  /** The lab host it measures (the `host` label). */
  host: string;
  /** More target labels, e.g. a vLLM target's `server`. @default none */
  labels?: Record<string, string>;
}

export interface ScrapeJob {
  job: string;
  targets: ScrapeTarget[];
}

export interface ResolvedLadon {
  config: LadonConfig;
  stackHostName: string;
  stackHost: HostConfig;
  /** Services per host. */
  placement: Record<string, ServiceName[]>;
  scrapeJobs: ScrapeJob[];
  /** URL Alloy on a host pushes logs to. */
  lokiPushUrl: (host: string) => string;
  grafanaUrl: string;
  /** OTLP endpoints for vLLM (by host) and for HADES. */
  phoenix: { otlpGrpcFor: (host: string) => string; otlpHttp: string; otlpGrpc: string; ui: string };
  /** The data volume under dataDir. */
  dataVolume: { mount: string; bytes?: number };
  /** Prometheus's admin API (for backup snapshots). */
  adminApi: boolean;
  /** The host vLLM runs on, if any: it pushes traces to Phoenix. */
  vllmHost?: string;
}

/** How a Prometheus on the stack host reaches a service: by name on the lab network, or across hosts by port. */
function addressOf(
  lab: Pick<LabConfig, "hosts">,
  stackHost: string,
  onHost: string,
  service: ServiceName,
  port = "http",
): string {
  const spec = SERVICES[service];
  const p = spec.ports[port] as { container: number; host: number };
  if (spec.hostNetwork) return `${(lab.hosts[onHost] as HostConfig).address}:${p.host}`;
  if (onHost === stackHost) return `${spec.container}:${p.container}`;
  return `${(lab.hosts[onHost] as HostConfig).address}:${p.host}`;
}

export function resolveLadon(
  lab: Pick<LabConfig, "hosts" | "vllm" | "ops">,
  ladon: LadonConfig,
): ResolvedLadon {
  const stackHostName = ladon.host;
  const stackHost = lab.hosts[stackHostName] as HostConfig;
  const where = placement(lab, ladon);
  const jobs = new Map<string, ScrapeTarget[]>();
  const add = (job: string, target: ScrapeTarget) => jobs.set(job, [...(jobs.get(job) ?? []), target]);
  for (const [host, services] of Object.entries(where)) {
    for (const s of services) {
      if (s === "prometheus") add("prometheus", { address: "localhost:9090", host });
      else if (s === "phoenix")
        add("phoenix", { address: `${SERVICES.phoenix.container}:${PHOENIX_METRICS_PORT}`, host });
      else add(SERVICES[s].job, { address: addressOf(lab, stackHostName, host, s), host });
    }
  }
  if (lab.vllm) {
    // One target per server, labelled with its name: the metrics carry model_name themselves
    // (a target label of that name would rename theirs to exported_model_name).
    const vllmHost = lab.vllm.host;
    for (const [server, s] of Object.entries(lab.vllm.servers)) {
      const address =
        vllmHost === stackHostName
          ? `${vllmContainer(server)}:${VLLM_CONTAINER_PORT}`
          : `${(lab.hosts[vllmHost] as HostConfig).address}:${s.port}`;
      add("vllm", { address, host: vllmHost, labels: { server } });
    }
  }
  const scrapeJobs = [...jobs.entries()]
    .map(([job, targets]) => ({ job, targets: targets.sort((a, b) => (a.address < b.address ? -1 : 1)) }))
    .sort((a, b) => (a.job < b.job ? -1 : 1));

  const stackAddress = stackHost.address;
  const phoenixGrpc = SERVICES.phoenix.ports.otlpGrpc as { container: number; host: number };
  const phoenixHttp = SERVICES.phoenix.ports.http as { container: number; host: number };
  return {
    config: ladon,
    stackHostName,
    stackHost,
    placement: where,
    scrapeJobs,
    lokiPushUrl: (host) =>
      host === stackHostName
        ? `http://loki:${SERVICES.loki.ports.http?.container}/loki/api/v1/push`
        : `http://${stackAddress}:${SERVICES.loki.ports.http?.host}/loki/api/v1/push`,
    grafanaUrl: ladon.grafana.url ?? `http://${stackAddress}:${SERVICES.grafana.ports.http?.host}`,
    phoenix: {
      otlpGrpcFor: (host) =>
        host === stackHostName
          ? `grpc://phoenix:${phoenixGrpc.container}`
          : `grpc://${stackAddress}:${phoenixGrpc.host}`,
      otlpGrpc: `grpc://${stackAddress}:${phoenixGrpc.host}`,
      otlpHttp: `http://${stackAddress}:${phoenixHttp.host}/v1/traces`,
      ui: `http://${stackAddress}:${phoenixHttp.host}`,
    },
    dataVolume: volumeOf(stackHost, ladon.dataDir),
    adminApi: lab.ops.backups !== undefined,
    ...(lab.vllm ? { vllmHost: lab.vllm.host } : {}),
  };
}

/** Prometheus wants base-2 sizes written with SI-looking units: 50GiB is "50GB". */
export function prometheusSize(size: string): string {
  const bytes = parseSize(size) ?? 0;
  const units: [string, number][] = [
    ["TB", 1024 ** 4],
    ["GB", 1024 ** 3],
    ["MB", 1024 ** 2],
    ["KB", 1024],
  ];
  for (const [unit, factor] of units) if (bytes % factor === 0) return `${bytes / factor}${unit}`;
  return `${bytes}B`;
}
