/** The phoenix service: its pin, ports, limits and placement, and what checks and backups need of it. */
import { imageOf, PINS } from "../../pins";
import type { ServiceDef } from "./types";

export const phoenix: ServiceDef = {
  name: "phoenix",
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
  ready: { path: "/readyz", port: "http" },
  backup: { sqlite: ["phoenix.db"] },
  job: "phoenix",
  access: {
    http: { from: ["admin", "hades"], writes: "traces, projects, users", auth: "Phoenix login or API key" },
    otlpGrpc: { from: ["hades", "pushers"], writes: "traces", auth: "Phoenix login or API key" },
  },
};
