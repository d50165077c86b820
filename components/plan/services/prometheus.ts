/** The prometheus service: its pin, ports, limits and placement, and what checks and backups need of it. */
import { imageOf, PINS } from "../../pins";
import type { ServiceDef } from "./types";

export const prometheus: ServiceDef = {
  name: "prometheus",
  container: "prometheus",
  image: imageOf(PINS.prometheus),
  arches: PINS.prometheus.arches,
  ports: { http: { container: 9090, host: 9901 } },
  memoryMiB: 2048,
  placement: "stack",
  uid: 65534,
  metricsPort: 9090,
  // Backups keep its data directory through a TSDB snapshot, taken over its API on the host port.
  ready: { path: "/-/ready", port: "http" },
  backup: { snapshot: true },
};
