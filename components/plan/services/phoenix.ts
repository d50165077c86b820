/** The phoenix service: its pin, ports, limits and placement, and what checks and backups need of it. */
import { imageOf, PINS } from "../../pins";
import { health, port, rw } from "./container";
import type { ServiceDef } from "./types";

/** Phoenix's data directory in its container (upstream's compose files use /mnt/data). */
export const PHOENIX_DATA = "/mnt/data";

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
  backup: { what: "traces and its database", sqlite: ["phoenix.db"] },
  // phoenix/server/app.py@20.26.1 (@router.get("/healthz")): no login.
  health: { path: "/healthz" },
  job: "phoenix",
  access: {
    http: { from: ["admin", "hades"], writes: "traces, projects, users", auth: "Phoenix login or API key" },
    otlpGrpc: { from: ["hades", "pushers"], writes: "traces", auth: "Phoenix login or API key" },
  },
  // Its session secret and first admin password come from the lab's secrets, never a rendered file.
  secretEnvs: {
    PHOENIX_SECRET: "phoenixSecret",
    PHOENIX_DEFAULT_ADMIN_INITIAL_PASSWORD: "phoenixAdminPassword",
  },
  containerPlan: (input) => ({
    container: {
      // Every name below is read in src/phoenix/config.py of the arize-phoenix 20.26.1 sdist.
      envs: [
        // Server-side bash and code sandboxes (on by default since 20.x) run what an LLM
        // writes on the lab's monitoring host: off.
        "PHOENIX_AGENTS_DISABLE_BASH=true",
        "PHOENIX_ALLOWED_SANDBOX_PROVIDERS=NONE",
        `PHOENIX_DEFAULT_RETENTION_POLICY_DAYS=${input.config.phoenix.retentionDays}`,
        "PHOENIX_ENABLE_AUTH=True",
        // Serves /metrics on port 9090, fixed and on every interface (server/prometheus.py).
        "PHOENIX_ENABLE_PROMETHEUS=True",
        `PHOENIX_GRPC_PORT=${port(phoenix, "otlpGrpc").container}`,
        `PHOENIX_PORT=${port(phoenix).container}`,
        "PHOENIX_TELEMETRY_ENABLED=false",
        `PHOENIX_WORKING_DIR=${PHOENIX_DATA}`,
      ],
      // Not /phoenix: that is the image's WORKDIR and holds its Python environment
      // (/phoenix/.venv, on PYTHONPATH), which a volume there would hide.
      volumes: [rw(input.paths.data, PHOENIX_DATA)],
      ports: input.published,
      // /readyz also checks the database; neither it nor /healthz needs auth
      // (server/app.py). The image is distroless: python3 is the only tool in it.
      healthcheck: {
        ...health([
          "CMD",
          "python3",
          "-c",
          `import urllib.request; urllib.request.urlopen("http://127.0.0.1:${port(phoenix).container}/readyz", timeout=5)`,
        ]),
        // 45-50 s to the first 200 on a loaded 2-core machine; migrations on a first start.
        startPeriod: "180s",
      },
    },
  }),
};
