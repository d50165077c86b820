/** The grafana service: its pin, ports, limits and placement, and what checks and backups need of it. */
import { imageOf, PINS } from "../../pins";
import { httpReady, ro, rw } from "./container";
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
  backup: { what: "dashboards' history, users and its database", sqlite: ["grafana.db"] },
  // Grafana 13's HTTP API ("Other HTTP API", GET /api/health): no login.
  health: { path: "/api/health" },
  job: "grafana",
  access: {
    http: { from: ["admin"], writes: "dashboards, datasources, users", auth: "Grafana login" },
  },
  containerPlan: (input) => ({
    secretFiles: [
      {
        id: "admin-password",
        path: `${input.paths.config}/secrets/admin_password`,
        onChange: "grafana-admin-password",
      },
    ],
    container: {
      envs: [
        "GF_ANALYTICS_CHECK_FOR_UPDATES=false",
        "GF_ANALYTICS_REPORTING_ENABLED=false",
        "GF_AUTH_ANONYMOUS_ENABLED=false",
        "GF_METRICS_ENABLED=true",
        "GF_SECURITY_ADMIN_PASSWORD__FILE=/etc/grafana/secrets/admin_password",
        "GF_SECURITY_ADMIN_USER=admin",
        `GF_SERVER_ROOT_URL=${input.grafanaUrl}`,
        "GF_USERS_ALLOW_SIGN_UP=false",
      ],
      volumes: [
        ro(`${input.paths.config}/secrets`, "/etc/grafana/secrets"),
        rw(input.paths.data, "/var/lib/grafana"),
      ],
      ports: input.published,
      healthcheck: httpReady(grafana, "/api/health"),
    },
  }),
};
