/** The alertmanager service: its pin, ports, limits and placement, and what checks and backups need of it. */
import { imageOf, PINS } from "../../pins";
import { CLIENT_NETRC, filesOf, health, inConfig, local, port, ro, rw, WEB_AUTH_FILES } from "./container";
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
  backup: { what: "silences and notification state" },
  // httpserver/httpserver.go@v0.35.0: /-/healthy; every path behind the web config's login.
  health: { path: "/-/healthy", netrc: CLIENT_NETRC.alertmanager },
  job: "alertmanager",
  access: {
    // Silences mute alerts; POST /-/reload re-reads the config (httpserver/httpserver.go@v0.35.0).
    http: { from: ["admin"], writes: "silences, reload", auth: "basic auth (web config)" },
  },
  containerPlan: (input) => ({
    fileGroups: [
      {
        id: "config",
        dir: input.paths.config,
        files: filesOf(input, "config"),
        reload: local(alertmanager, "/-/reload"),
        netrc: CLIENT_NETRC.alertmanager,
      },
    ],
    secretFiles: [
      { id: "web-config", path: inConfig(input, WEB_AUTH_FILES.alertmanager.web), onChange: "none" },
      { id: "web-password", path: inConfig(input, WEB_AUTH_FILES.alertmanager.password), onChange: "none" },
      { id: "client-netrc", path: CLIENT_NETRC.alertmanager, onChange: "none", owner: "0" },
      ...(input.config.alertmanager.emails.some((e) => e.authUsername)
        ? [
            {
              id: "smtp-password",
              path: `${input.paths.config}/secrets/smtp_password`,
              onChange: local(alertmanager, "/-/reload"),
              netrc: CLIENT_NETRC.alertmanager,
            },
          ]
        : []),
    ],
    container: {
      command: [
        "--config.file=/etc/alertmanager/alertmanager.yml",
        "--storage.path=/alertmanager",
        // Basic auth on every path, silences and /-/reload included (webauth.ts).
        `--web.config.file=${WEB_AUTH_FILES.alertmanager.web}`,
        `--web.listen-address=:${port(alertmanager).container}`,
      ],
      volumes: [ro(input.paths.config, "/etc/alertmanager"), rw(input.paths.data, "/alertmanager")],
      ports: input.published,
      // /-/ready needs the login too: amtool (/bin/amtool in the image, Dockerfile@v0.35.0)
      // reads /api/v2/status with the client config (cli/root.go@v0.35.0: --alertmanager.url,
      // --http.config.file; cli/cluster.go: cluster show).
      healthcheck: health([
        "CMD",
        "amtool",
        "cluster",
        "show",
        `--alertmanager.url=http://127.0.0.1:${port(alertmanager).container}`,
        `--http.config.file=${WEB_AUTH_FILES.alertmanager.client}`,
      ]),
    },
  }),
};
