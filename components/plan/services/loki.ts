/** The loki service: its pin, ports, limits and placement, and what checks and backups need of it. */
import { imageOf, PINS } from "../../pins";
import type { ServiceDef } from "./types";

export const loki: ServiceDef = {
  name: "loki",
  container: "loki",
  image: imageOf(PINS.loki),
  arches: PINS.loki.arches,
  ports: { http: { container: 3100, host: 9903 } },
  memoryMiB: 1024,
  placement: "stack",
  uid: 10001,
  metricsPort: 3100,
  ready: { path: "/ready", port: "http" },
  backup: {},
  job: "loki",
  access: {
    // auth_enabled: false; only the hosts that push to it may reach it.
    http: { from: ["pushers"], writes: "log pushes, delete requests", auth: "none" },
  },
};
