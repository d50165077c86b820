/** The grafana service: its pin, ports, limits and placement, and what checks and backups need of it. */
import { imageOf, PINS } from "../../pins";
import type { ServiceDef } from "./types";

export const grafana: ServiceDef = {
  name: "grafana",
  container: "grafana",
  image: imageOf(PINS.grafana),
  arches: PINS.grafana.arches,
  ports: { http: { container: 3000, host: 9900 } },
  memoryMiB: 512,
  placement: "stack",
  uid: 472,
  metricsPort: 3000,
  backup: { sqlite: ["grafana.db"] },
  job: "grafana",
  access: {
    http: { from: ["admin"], writes: "dashboards, datasources, users", auth: "Grafana login" },
  },
};
