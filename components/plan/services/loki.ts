/** The loki service: its pin, ports, limits and placement, and what checks and backups need of it. */
import { imageOf, PINS } from "../../pins";
import { filesOf, health, ro, rw } from "./container";
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
  backup: { what: "log chunks and index" },
  // pkg/loki/loki.go@v3.7.8: /ready on the HTTP server.
  health: { path: "/ready" },
  job: "loki",
  access: {
    // auth_enabled: false; only the hosts that push to it may reach it.
    http: { from: ["pushers"], writes: "log pushes, delete requests", auth: "none" },
  },
  containerPlan: (input) => ({
    fileGroups: [
      // Loki has no reload for its main config; only this group restarts it.
      { id: "config", dir: input.paths.config, files: filesOf(input, "config"), reload: "restart" },
      { id: "runtime", dir: input.paths.config, files: filesOf(input, "runtime"), reload: "none" },
    ],
    container: {
      command: ["-config.file=/etc/loki/loki.yaml"],
      volumes: [ro(input.paths.config, "/etc/loki"), rw(input.paths.data, "/loki")],
      ports: input.published,
      // The image is distroless since 3.6.0 (no shell, no wget); `loki -health` GETs
      // localhost:3100/ready (cmd/loki/health.go@v3.7.8).
      healthcheck: health(["CMD", ...(PINS.loki.image.healthCommand ?? [])]),
    },
  }),
};
