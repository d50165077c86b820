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
  ready: { path: "/-/ready", port: "http" },
  // Backups keep its data directory through a TSDB snapshot, taken over its API on the host port.
  backup: { snapshot: true },
  job: "prometheus",
  access: {
    // The admin API (--web.enable-admin-api, only with backups, for the TSDB snapshot) deletes
    // series; the lifecycle API (--web.enable-lifecycle, for our config reloads) stops it. Both
    // answer only with basic auth (webauth.ts); our steps call them from the host.
    http: {
      from: ["admin"],
      writes: "TSDB deletes and snapshots (admin API), reload and quit (lifecycle API)",
      auth: "basic auth (web config)",
    },
  },
};
