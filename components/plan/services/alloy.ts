/** The alloy service: its pin, ports, limits and placement, and what checks and backups need of it. */
import { imageOf, PINS } from "../../pins";
import type { ServiceDef } from "./types";

export const alloy: ServiceDef = {
  name: "alloy",
  container: "alloy",
  image: imageOf(PINS.alloy),
  arches: PINS.alloy.arches,
  ports: { http: { container: 12345, host: 9904 } },
  memoryMiB: 512,
  placement: "everyHost",
  uid: 0,
  metricsPort: 12345,
  ready: { path: "/-/ready", port: "http" },
  job: "alloy",
  access: {
    // UI and metrics on one port: the stack's Prometheus scrapes it on other hosts.
    http: { from: ["stack"], auth: "none" },
  },
};
