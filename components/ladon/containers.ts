/**
 * Each LadonStack service as a container spec plus the files it reads. Pure: config in, plain
 * `docker.ContainerArgs` out (image, provider and network are added by the component).
 */
import type * as docker from "@pulumi/docker";
import type { HostConfig } from "../config/schema";
import { PINS } from "../pins";
import { bindOf } from "../plan/access";
import { SERVICES, type ServiceName } from "../plan/services";
import { alertRules, renderRulesFile } from "./render/rules";
import { renderAlloyConfig } from "./render/alloy";
import { renderClientConfig } from "./webauth";
import {
  LOKI_RUNTIME_CONFIG,
  renderAlertmanagerConfig,
  renderLokiConfig,
  renderLokiRuntimeConfig,
  renderPrometheusConfig,
  WEB_AUTH_FILES,
} from "./render/configs";
import type { ResolvedLadon } from "../plan/ladon-resolve";

/** A set of files written together, and how the running service picks them up. */
export interface FileGroup {
  /** Suffix of the step's name, e.g. `config` or `rules`. */
  id: string;
  /** Host directory the files go to. */
  dir: string;
  /** File name (relative to `dir`) -> content. */
  files: Record<string, string>;
  /** `http:<url>` to POST, `restart`, or `none` when the service re-reads the file itself. */
  reload: string;
  /** The host's netrc for an `http:` reload of a service behind basic auth. @default none */
  netrc?: string;
}

/** Where host steps (reloads, the backup's snapshot, the probe) keep a service's login: root only. */
export const CLIENT_NETRC = {
  prometheus: "/etc/citadel/clients/prometheus.netrc",
  alertmanager: "/etc/citadel/clients/alertmanager.netrc",
} as const;

export interface ServicePlan {
  service: ServiceName;
  /** Host directory for the service's persistent data, owned by its UID. */
  dataDir: string;
  fileGroups: FileGroup[];
  /**
   * Secret files, written by their own steps: read by the service (owned by its UID) or, with
   * `owner: "0"`, by root's steps on the host. `onChange` as a file group's `reload`.
   */
  secretFiles: { id: string; path: string; onChange: string; owner?: string; netrc?: string }[];
  /** Container arguments without image, provider or network. */
  container: Omit<docker.ContainerArgs, "image">;
  /** Uses the lab network (everything but host-network exporters). */
  onLabNetwork: boolean;
}

/** Phoenix's data directory in its container (upstream's compose files use /mnt/data). */
export const PHOENIX_DATA = "/mnt/data";

/** Readiness over HTTP in images that ship busybox wget. */
const wget = (url: string) => ["CMD", "wget", "-q", "--spider", url];
/** Readiness in Ubuntu-based images, which have bash but neither curl nor wget. */
const bashHttp = (port: number, path: string) => [
  "CMD",
  "bash",
  "-c",
  `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET ${path} HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3`,
];

const health = (tests: string[]) => ({
  tests,
  interval: "30s",
  timeout: "10s",
  retries: 3,
  startPeriod: "60s",
});
/** Readiness of a service's own HTTP endpoint, from inside its container. */
const httpReady = (s: ServiceName, path: string) =>
  health(wget(`http://127.0.0.1:${port(s).container}${path}`));
const ro = (hostPath: string, containerPath: string) => ({ hostPath, containerPath, readOnly: true });
const rw = (hostPath: string, containerPath: string) => ({ hostPath, containerPath });
const port = (s: ServiceName, name = "http") =>
  SERVICES[s].ports[name] as { container: number; host: number };
/**
 * A service's published ports on a host: on 127.0.0.1 when the access model (access.ts) leaves
 * nobody outside the host who needs the port, so the host's own steps and probes still reach it.
 */
const published = (s: ServiceName, ladon: ResolvedLadon, hostName: string) =>
  Object.entries(SERVICES[s].ports).map(([name, p]) => ({
    internal: p.container,
    external: p.host,
    ...(bindOf(ladon, hostName, s, name) === "127.0.0.1" ? { ip: "127.0.0.1" } : {}),
  }));

/** Host paths of a service on a host: data under ladon.dataDir on the stack host, config under /etc/citadel. */
export function servicePaths(ladon: ResolvedLadon, service: ServiceName) {
  const name = SERVICES[service].container;
  return {
    data:
      SERVICES[service].placement === "stack"
        ? `${ladon.config.dataDir}/${name}`
        : `/var/lib/citadel/${name}`,
    config: `/etc/citadel/${name}`,
  };
}

export function planService(
  service: ServiceName,
  ladon: ResolvedLadon,
  hostName: string,
  host: HostConfig,
): ServicePlan {
  const paths = servicePaths(ladon, service);
  const c = ladon.config;
  const local = (s: ServiceName, path: string) => `http:http://127.0.0.1:${port(s).host}${path}`;
  /** The host path of a file the container sees under /etc/<service>. */
  const inConfig = (containerPath: string) => containerPath.replace(/^\/etc\/[a-z]+/, paths.config);
  const base = {
    dataDir: paths.data,
    fileGroups: [] as FileGroup[],
    secretFiles: [] as ServicePlan["secretFiles"],
    onLabNetwork: true,
  };
  switch (service) {
    case "prometheus":
      return {
        ...base,
        service,
        fileGroups: [
          {
            id: "config",
            dir: paths.config,
            files: {
              "client.yml": renderClientConfig(WEB_AUTH_FILES.prometheus.password),
              "prometheus.yml": renderPrometheusConfig(c, ladon.scrapeJobs),
            },
            reload: local(service, "/-/reload"),
            netrc: CLIENT_NETRC.prometheus,
          },
          {
            id: "rules",
            dir: `${paths.config}/rules`,
            files: { "citadel.yml": renderRulesFile(alertRules(c.thresholds)) },
            reload: local(service, "/-/reload"),
            netrc: CLIENT_NETRC.prometheus,
          },
        ],
        // No reload on change: the web config is re-read on every request (webauth.ts), and a
        // password_file on every request that uses it (prometheus/common
        // config/http_config.go@v0.72.1, FileSecret.Fetch).
        secretFiles: [
          { id: "web-config", path: inConfig(WEB_AUTH_FILES.prometheus.web), onChange: "none" },
          { id: "web-password", path: inConfig(WEB_AUTH_FILES.prometheus.password), onChange: "none" },
          {
            id: "alertmanager-password",
            path: inConfig(WEB_AUTH_FILES.prometheus.alertmanagerPassword),
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
            ...(ladon.adminApi ? ["--web.enable-admin-api"] : []),
            `--web.listen-address=:${port(service).container}`,
          ],
          volumes: [ro(paths.config, "/etc/prometheus"), rw(paths.data, "/prometheus")],
          ports: published(service, ladon, hostName),
          // /-/ready needs the login too: promtool (/bin/promtool in the image, Dockerfile@v3.16.0)
          // logs in with the client config (cmd/promtool/main.go@v3.16.0: check ready, --url,
          // --http.config.file), so no password enters the command line.
          healthcheck: health([
            "CMD",
            "promtool",
            "check",
            "ready",
            `--url=http://127.0.0.1:${port(service).container}`,
            `--http.config.file=${WEB_AUTH_FILES.prometheus.client}`,
          ]),
        },
      };
    case "alertmanager":
      return {
        ...base,
        service,
        fileGroups: [
          {
            id: "config",
            dir: paths.config,
            files: {
              "alertmanager.yml": renderAlertmanagerConfig(c),
              "client.yml": renderClientConfig(WEB_AUTH_FILES.alertmanager.password),
            },
            reload: local(service, "/-/reload"),
            netrc: CLIENT_NETRC.alertmanager,
          },
        ],
        secretFiles: [
          { id: "web-config", path: inConfig(WEB_AUTH_FILES.alertmanager.web), onChange: "none" },
          { id: "web-password", path: inConfig(WEB_AUTH_FILES.alertmanager.password), onChange: "none" },
          { id: "client-netrc", path: CLIENT_NETRC.alertmanager, onChange: "none", owner: "0" },
          ...(c.alertmanager.emails.some((e) => e.authUsername)
            ? [
                {
                  id: "smtp-password",
                  path: `${paths.config}/secrets/smtp_password`,
                  onChange: local(service, "/-/reload"),
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
            `--web.listen-address=:${port(service).container}`,
          ],
          volumes: [ro(paths.config, "/etc/alertmanager"), rw(paths.data, "/alertmanager")],
          ports: published(service, ladon, hostName),
          // /-/ready needs the login too: amtool (/bin/amtool in the image, Dockerfile@v0.35.0)
          // reads /api/v2/status with the client config (cli/root.go@v0.35.0: --alertmanager.url,
          // --http.config.file; cli/cluster.go: cluster show).
          healthcheck: health([
            "CMD",
            "amtool",
            "cluster",
            "show",
            `--alertmanager.url=http://127.0.0.1:${port(service).container}`,
            `--http.config.file=${WEB_AUTH_FILES.alertmanager.client}`,
          ]),
        },
      };
    case "grafana":
      return {
        ...base,
        service,
        secretFiles: [
          {
            id: "admin-password",
            path: `${paths.config}/secrets/admin_password`,
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
            `GF_SERVER_ROOT_URL=${ladon.grafanaUrl}`,
            "GF_USERS_ALLOW_SIGN_UP=false",
          ],
          volumes: [
            ro(`${paths.config}/secrets`, "/etc/grafana/secrets"),
            rw(paths.data, "/var/lib/grafana"),
          ],
          ports: published(service, ladon, hostName),
          healthcheck: httpReady(service, "/api/health"),
        },
      };
    case "loki":
      return {
        ...base,
        service,
        fileGroups: [
          // Loki has no reload for its main config; only this group restarts it.
          { id: "config", dir: paths.config, files: { "loki.yaml": renderLokiConfig() }, reload: "restart" },
          {
            id: "runtime",
            dir: paths.config,
            files: { [LOKI_RUNTIME_CONFIG.split("/").pop() as string]: renderLokiRuntimeConfig(c) },
            reload: "none",
          },
        ],
        container: {
          command: ["-config.file=/etc/loki/loki.yaml"],
          volumes: [ro(paths.config, "/etc/loki"), rw(paths.data, "/loki")],
          ports: published(service, ladon, hostName),
          // The image is distroless since 3.6.0 (no shell, no wget); `loki -health` GETs
          // localhost:3100/ready (cmd/loki/health.go@v3.7.8).
          healthcheck: health(["CMD", ...(PINS.loki.image.healthCommand ?? [])]),
        },
      };
    case "alloy":
      return {
        ...base,
        service,
        fileGroups: [
          {
            id: "config",
            dir: paths.config,
            files: { "config.alloy": renderAlloyConfig(hostName, ladon.lokiPushUrl(hostName)) },
            reload: local(service, "/-/reload"),
          },
        ],
        container: {
          command: [
            "run",
            `--server.http.listen-addr=0.0.0.0:${port(service).container}`,
            "--storage.path=/var/lib/alloy/data",
            "/etc/alloy/config.alloy",
          ],
          user: "0",
          volumes: [
            ro(paths.config, "/etc/alloy"),
            rw(paths.data, "/var/lib/alloy/data"),
            ro("/var/log/journal", "/var/log/journal"),
            ro("/run/log/journal", "/run/log/journal"),
            ro("/etc/machine-id", "/etc/machine-id"),
            ro("/var/run/docker.sock", "/var/run/docker.sock"),
          ],
          ports: published(service, ladon, hostName),
          healthcheck: health(bashHttp(port(service).container, "/-/ready")),
        },
      };
    case "phoenix":
      return {
        ...base,
        service,
        container: {
          // Every name below is read in src/phoenix/config.py of the arize-phoenix 20.26.1 sdist.
          envs: [
            // Server-side bash and code sandboxes (on by default since 20.x) run what an LLM
            // writes on the lab's monitoring host: off.
            "PHOENIX_AGENTS_DISABLE_BASH=true",
            "PHOENIX_ALLOWED_SANDBOX_PROVIDERS=NONE",
            `PHOENIX_DEFAULT_RETENTION_POLICY_DAYS=${c.phoenix.retentionDays}`,
            "PHOENIX_ENABLE_AUTH=True",
            // Serves /metrics on port 9090, fixed and on every interface (server/prometheus.py).
            "PHOENIX_ENABLE_PROMETHEUS=True",
            `PHOENIX_GRPC_PORT=${port(service, "otlpGrpc").container}`,
            `PHOENIX_PORT=${port(service).container}`,
            "PHOENIX_TELEMETRY_ENABLED=false",
            `PHOENIX_WORKING_DIR=${PHOENIX_DATA}`,
          ],
          // Not /phoenix: that is the image's WORKDIR and holds its Python environment
          // (/phoenix/.venv, on PYTHONPATH), which a volume there would hide.
          volumes: [rw(paths.data, PHOENIX_DATA)],
          ports: published(service, ladon, hostName),
          // /readyz also checks the database; neither it nor /healthz needs auth
          // (server/app.py). The image is distroless: python3 is the only tool in it.
          healthcheck: {
            ...health([
              "CMD",
              "python3",
              "-c",
              `import urllib.request; urllib.request.urlopen("http://127.0.0.1:${port(service).container}/readyz", timeout=5)`,
            ]),
            // 45-50 s to the first 200 on a loaded 2-core machine; migrations on a first start.
            startPeriod: "180s",
          },
        },
      };
    case "nodeExporter":
      return {
        ...base,
        service,
        onLabNetwork: false,
        container: {
          command: [
            "--path.rootfs=/host",
            `--web.listen-address=:${port(service).container}`,
            "--collector.systemd",
            "--collector.textfile.directory=/host/var/lib/node_exporter/textfile",
            "--collector.filesystem.mount-points-exclude=^/(dev|proc|run|sys|var/lib/docker/.+|srv/data/docker/.+)($|/)",
          ],
          networkMode: "host",
          pidMode: "host",
          mounts: [
            {
              type: "bind",
              source: "/",
              target: "/host",
              readOnly: true,
              bindOptions: { propagation: "rslave" },
            },
          ],
          volumes: [ro("/run/dbus/system_bus_socket", "/var/run/dbus/system_bus_socket")],
          healthcheck: httpReady(service, "/metrics"),
        },
      };
    case "gpuExporter":
      return {
        ...base,
        service,
        container: {
          gpus: "all",
          // Only the driver's utility libraries (nvidia-smi): docs/INSTALL.md@v1.14.0.
          envs: ["NVIDIA_DRIVER_CAPABILITIES=utility"],
          ports: published(service, ladon, hostName),
          // No healthcheck: since 1.14.0 the image is distroless with no shell and no health
          // command (Dockerfile@v1.14.0). Prometheus's `up{job="gpu"}` and its alert watch it.
        },
      };
    case "cadvisor":
      return {
        ...base,
        service,
        container: {
          command: ["--docker_only=true", "--housekeeping_interval=30s", "--store_container_labels=false"],
          privileged: true,
          devices: [{ hostPath: "/dev/kmsg", containerPath: "/dev/kmsg" }],
          volumes: [
            ro("/", "/rootfs"),
            ro("/var/run", "/var/run"),
            ro("/sys", "/sys"),
            ro(host.docker?.dataRoot ?? "/var/lib/docker", "/var/lib/docker"),
            ro("/dev/disk", "/dev/disk"),
          ],
          ports: published(service, ladon, hostName),
          healthcheck: httpReady(service, "/healthz"),
        },
      };
  }
}
