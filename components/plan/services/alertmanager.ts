/** The alertmanager service: its pin, ports, limits and placement, and what checks and backups need of it. */
import { imageOf, PINS } from "../../pins";
import type { ServiceDef } from "./types";

export const alertmanager: ServiceDef = {
  name: "alertmanager",
  container: "alertmanager",
  image: imageOf(PINS.alertmanager),
  arches: PINS.alertmanager.arches,
  ports: { http: { container: 9093, host: 9902 } },
  memoryMiB: 256,
  placement: "stack",
  uid: 65534,
  metricsPort: 9093,
  ready: { path: "/-/ready", port: "http" },
  backup: {},
  job: "alertmanager",
  access: {
    // Silences mute alerts; POST /-/reload re-reads the config (httpserver/httpserver.go@v0.35.0).
    http: { from: ["admin"], writes: "silences, reload", auth: "basic auth (web config)" },
  },
};
