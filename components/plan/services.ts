/**
 * The LadonStack's services: pinned images (with the architectures each publishes), container
 * ports, host ports from the one registry, default memory limits and the UID that owns its data.
 */

import { imageOf, PINS, type PinName } from "../pins";

/** Every pinned image but vLLM's is a LadonStack service. */
export type ServiceName = Exclude<PinName, "vllm">;

export interface ServiceSpec {
  /** Container name, also its DNS name on the lab network. */
  container: string;
  /** Pinned image, from the one catalog of pins (components/pins.ts). */
  image: string;
  /** Architectures the image is published for (multi-arch manifests). */
  arches: readonly ("amd64" | "arm64")[];
  /** Container port -> host port, every host port in 9900-9999. */
  ports: Readonly<Record<string, { container: number; host: number }>>;
  /** Default memory limit in MiB. */
  memoryMiB: number;
  /** Where it runs: with the stack, or on every host it measures. */
  placement: "stack" | "everyHost" | "gpuHosts";
  /** UID the process runs as, which must own its data directory. */
  uid: number;
  /** Container port of its Prometheus metrics endpoint. */
  metricsPort: number;
}

/** The port registry: one host port per service port, all inside the monitoring range. */
export const SERVICES: Readonly<Record<ServiceName, ServiceSpec>> = {
  grafana: {
    container: "grafana",
    image: imageOf(PINS.grafana),
    arches: PINS.grafana.arches,
    ports: { http: { container: 3000, host: 9900 } },
    memoryMiB: 512,
    placement: "stack",
    uid: 472,
    metricsPort: 3000,
  },
  prometheus: {
    container: "prometheus",
    image: imageOf(PINS.prometheus),
    arches: PINS.prometheus.arches,
    ports: { http: { container: 9090, host: 9901 } },
    memoryMiB: 2048,
    placement: "stack",
    uid: 65534,
    metricsPort: 9090,
  },
  alertmanager: {
    container: "alertmanager",
    image: imageOf(PINS.alertmanager),
    arches: PINS.alertmanager.arches,
    ports: { http: { container: 9093, host: 9902 } },
    memoryMiB: 256,
    placement: "stack",
    uid: 65534,
    metricsPort: 9093,
  },
  loki: {
    container: "loki",
    image: imageOf(PINS.loki),
    arches: PINS.loki.arches,
    ports: { http: { container: 3100, host: 9903 } },
    memoryMiB: 1024,
    placement: "stack",
    uid: 10001,
    metricsPort: 3100,
  },
  alloy: {
    container: "alloy",
    image: imageOf(PINS.alloy),
    arches: PINS.alloy.arches,
    ports: { http: { container: 12345, host: 9904 } },
    memoryMiB: 512,
    placement: "everyHost",
    uid: 0,
    metricsPort: 12345,
  },
  phoenix: {
    container: "phoenix",
    image: imageOf(PINS.phoenix),
    arches: PINS.phoenix.arches,
    ports: {
      http: { container: 6006, host: 9905 },
      otlpGrpc: { container: 4317, host: 9906 },
    },
    memoryMiB: 1024,
    placement: "stack",
    uid: 0,
    metricsPort: 9090,
  },
  nodeExporter: {
    container: "node-exporter",
    image: imageOf(PINS.nodeExporter),
    arches: PINS.nodeExporter.arches,
    // Host network: it listens on the host port directly.
    ports: { http: { container: 9910, host: 9910 } },
    memoryMiB: 128,
    placement: "everyHost",
    uid: 65534,
    metricsPort: 9910,
  },
  gpuExporter: {
    container: "gpu-exporter",
    image: imageOf(PINS.gpuExporter),
    arches: PINS.gpuExporter.arches,
    ports: { http: { container: 9835, host: 9911 } },
    memoryMiB: 128,
    placement: "gpuHosts",
    uid: 0,
    metricsPort: 9835,
  },
  cadvisor: {
    container: "cadvisor",
    image: imageOf(PINS.cadvisor),
    arches: PINS.cadvisor.arches,
    ports: { http: { container: 8080, host: 9912 } },
    memoryMiB: 256,
    placement: "everyHost",
    uid: 0,
    metricsPort: 8080,
  },
};

/** Phoenix serves Prometheus metrics on this fixed port inside its container (not published). */
export const PHOENIX_METRICS_PORT = SERVICES.phoenix.metricsPort;

/** Container labels policies read: which service a container is, and where its metrics are. */
export const LABELS = {
  service: "org.hana-x.citadel.service",
  metricsPort: "org.hana-x.citadel.metrics-port",
} as const;

export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];

/** Every (service, port) with its host port, sorted by host port: the registry as a table. */
export function portRegistry(): { service: ServiceName; port: string; container: number; host: number }[] {
  return SERVICE_NAMES.flatMap((service) =>
    Object.entries(SERVICES[service].ports).map(([port, p]) => ({ service, port, ...p })),
  ).sort((a, b) => a.host - b.host);
}
