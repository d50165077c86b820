/**
 * The LadonStack's services: one module per service (its pinned image, with the architectures it
 * publishes, container ports, host ports from the one registry, default memory limit, the UID that
 * owns its data, its readiness endpoint, what backups keep of it and its container plan: command,
 * environment, volumes, healthcheck, the files it reads), registered in CATALOG. The port registry,
 * placement, the containers, backups, drift and the conformance tier read this catalog. Adding a
 * service: one module here, one line in CATALOG (and its pin in components/pins.ts).
 */
import { grafana } from "./grafana";
import { prometheus } from "./prometheus";
import { alertmanager } from "./alertmanager";
import { loki } from "./loki";
import { alloy } from "./alloy";
import { phoenix } from "./phoenix";
import { nodeExporter } from "./node-exporter";
import { gpuExporter } from "./gpu-exporter";
import { cadvisor } from "./cadvisor";
import type { ServiceDef, ServiceName } from "./types";

export type { Audience, Auth, PortAccess, ServiceDef, ServiceName, ServiceSpec } from "./types";

/** Every service, in registry order. */
export const CATALOG: readonly ServiceDef[] = [
  grafana,
  prometheus,
  alertmanager,
  loki,
  alloy,
  phoenix,
  nodeExporter,
  gpuExporter,
  cadvisor,
];

/** The port registry: one host port per service port, all inside the monitoring range. */
export const SERVICES: Readonly<Record<ServiceName, ServiceDef>> = Object.fromEntries(
  CATALOG.map((s) => [s.name, s]),
) as Record<ServiceName, ServiceDef>;

/** Phoenix serves Prometheus metrics on this fixed port inside its container (not published). */
export const PHOENIX_METRICS_PORT = SERVICES.phoenix.metricsPort;

/** Container labels policies read: which service a container is, and where its metrics are. */
export const LABELS = {
  service: "org.hana-x.citadel.service",
  metricsPort: "org.hana-x.citadel.metrics-port",
} as const;

/** Whether `service` (a catalog service's name, or another container's such as vLLM's) runs on its host's network. */
export const onHostNetwork = (service: string): boolean =>
  CATALOG.some((s) => s.name === service && s.hostNetwork === true);

export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];

/**
 * Services in an output's established order: those named in `first`, in that order, then the rest in
 * CATALOG order (a new service needs no edit to appear).
 */
export function ordered(services: readonly ServiceDef[], first: readonly ServiceName[]): ServiceDef[] {
  const rank = (s: ServiceDef) => {
    const i = first.indexOf(s.name);
    return i < 0 ? first.length + CATALOG.indexOf(s) : i;
  };
  return [...services].sort((a, b) => rank(a) - rank(b));
}

/** Every (service, port) with its host port, sorted by host port: the registry as a table. */
export function portRegistry(): { service: ServiceName; port: string; container: number; host: number }[] {
  return SERVICE_NAMES.flatMap((service) =>
    Object.entries(SERVICES[service].ports).map(([port, p]) => ({ service, port, ...p })),
  ).sort((a, b) => a.host - b.host);
}
