/** The prometheus service: its pin, ports, limits and placement, and what checks and backups need of it. */
import { imageOf, PINS } from "../../pins";
import { CLIENT_NETRC, filesOf, health, inConfig, local, port, ro, rw, WEB_AUTH_FILES } from "./container";
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
  backup: { what: "the TSDB, from the snapshot taken at backup time", snapshot: true },
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
  containerPlan: (input) => ({
    fileGroups: [
      {
        id: "config",
        dir: input.paths.config,
        files: filesOf(input, "config"),
        reload: local(prometheus, "/-/reload"),
        netrc: CLIENT_NETRC.prometheus,
      },
      {
        id: "rules",
        dir: `${input.paths.config}/rules`,
        files: filesOf(input, "rules"),
        reload: local(prometheus, "/-/reload"),
        netrc: CLIENT_NETRC.prometheus,
      },
    ],
    // No reload on change: the web config is re-read on every request (webauth.ts), and a
    // password_file on every request that uses it (prometheus/common
    // config/http_config.go@v0.72.1, FileSecret.Fetch).
    secretFiles: [
      { id: "web-config", path: inConfig(input, WEB_AUTH_FILES.prometheus.web), onChange: "none" },
      { id: "web-password", path: inConfig(input, WEB_AUTH_FILES.prometheus.password), onChange: "none" },
      {
        id: "alertmanager-password",
        path: inConfig(input, WEB_AUTH_FILES.prometheus.alertmanagerPassword),
        onChange: "none",
      },
      { id: "client-netrc", path: CLIENT_NETRC.prometheus, onChange: "none", owner: "0" },
    ],
    container: {
      command: [
        "--config.file=/etc/prometheus/prometheus.yml",
        "--storage.tsdb.path=/prometheus",
        // Retention is in prometheus.yml (renderPrometheusConfig), where a reload applies it.
        // Basic auth on every path (webauth.ts): the lifecycle and admin APIs answer only
        // those who log in, which the host's steps do from 127.0.0.1.
        `--web.config.file=${WEB_AUTH_FILES.prometheus.web}`,
        "--web.enable-lifecycle",
        // TSDB snapshots for consistent backups; only with backups, it also exposes deletes.
        ...(input.adminApi ? ["--web.enable-admin-api"] : []),
        `--web.listen-address=:${port(prometheus).container}`,
      ],
      volumes: [ro(input.paths.config, "/etc/prometheus"), rw(input.paths.data, "/prometheus")],
      ports: input.published,
      // /-/ready needs the login too: promtool (/bin/promtool in the image, Dockerfile@v3.16.0)
      // logs in with the client config (cmd/promtool/main.go@v3.16.0: check ready, --url,
      // --http.config.file), so no password enters the command line.
      healthcheck: health([
        "CMD",
        "promtool",
        "check",
        "ready",
        `--url=http://127.0.0.1:${port(prometheus).container}`,
        `--http.config.file=${WEB_AUTH_FILES.prometheus.client}`,
      ]),
    },
  }),
};
