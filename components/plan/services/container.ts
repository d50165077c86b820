/**
 * What a service module's container plan is made of: the plain types (no Pulumi, the plan layer is
 * pure) and the helpers every module shares (healthchecks, volumes, reload URLs, the host paths of
 * the files behind basic auth). components/ladon/containers.ts calls a module's `containerPlan`
 * with what only the component layer has (rendered config files, published ports), as plain data.
 */
import type { HostConfig } from "../../config/schema";
import type { LadonConfig } from "../../config/ladon";

/** A service's ports, container port -> host port, by name (ServiceSpec.ports). */
type HasPorts = { readonly ports: Readonly<Record<string, { container: number; host: number }>> };

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

/**
 * A secret file, written by its own step: read by the service (owned by its UID) or, with
 * `owner: "0"`, by root's steps on the host. `onChange` as a file group's `reload`.
 */
export interface SecretFile {
  id: string;
  path: string;
  onChange: string;
  owner?: string;
  netrc?: string;
}

/** A port the container publishes on its host (`ip` only when bound to 127.0.0.1). */
export interface PublishedPort {
  internal: number;
  external: number;
  ip?: string;
}

/** A container healthcheck, as Docker's provider takes it. */
export interface Healthcheck {
  tests: string[];
  interval: string;
  timeout: string;
  retries: number;
  startPeriod: string;
}

/** The container's arguments without image, provider, network, name, labels or limits (plain data). */
export interface ContainerSpec {
  command?: string[];
  envs?: string[];
  user?: string;
  gpus?: string;
  privileged?: boolean;
  networkMode?: string;
  pidMode?: string;
  devices?: { hostPath: string; containerPath: string }[];
  mounts?: {
    type: string;
    source: string;
    target: string;
    readOnly?: boolean;
    bindOptions?: { propagation: string };
  }[];
  volumes?: { hostPath: string; containerPath: string; readOnly?: boolean }[];
  ports?: PublishedPort[];
  healthcheck?: Healthcheck;
}

/** What a service's container plan is given: the component layer resolves it, as plain data. */
export interface ContainerInput {
  /** The LadonStack's config, defaults applied. */
  config: LadonConfig;
  /** The host it runs on, and that host's config. */
  hostName: string;
  host: HostConfig;
  /** Host directories: data (owned by the service's UID) and config (mounted read-only). */
  paths: { data: string; config: string };
  /** Its ports as published on this host, bound per the access model (components/plan/access.ts). */
  published: PublishedPort[];
  /** Prometheus's admin API is on (backups take TSDB snapshots through it). */
  adminApi: boolean;
  /** Grafana's root URL. */
  grafanaUrl: string;
  /**
   * Its rendered config files (components/ladon/render/), by file group id, then file name.
   * @default {} (a service without config files)
   */
  files: Readonly<Record<string, Record<string, string>>>;
}

/** A service's container plan: the container and the files it reads. */
export interface ContainerPlan {
  /** @default [] */
  fileGroups?: FileGroup[];
  /** @default [] */
  secretFiles?: SecretFile[];
  container: ContainerSpec;
}

/** Where host steps (reloads, the backup's snapshot, the probe) keep a service's login: root only. */
export const CLIENT_NETRC = {
  prometheus: "/etc/citadel/clients/prometheus.netrc",
  alertmanager: "/etc/citadel/clients/alertmanager.netrc",
} as const;

/**
 * The files behind Prometheus's and Alertmanager's basic auth, as their containers see them (the
 * host's /etc/citadel/<service> is mounted read-only at /etc/<service>). `web` is the web config
 * (bcrypt hash), `password` the service's own password (for its healthcheck and, in Prometheus,
 * its self-scrape), `client` the promtool/amtool HTTP client config. Prometheus also holds
 * Alertmanager's password, to send alerts and scrape it.
 */
export const WEB_AUTH_FILES = {
  prometheus: {
    web: "/etc/prometheus/secrets/web.yml",
    password: "/etc/prometheus/secrets/password",
    client: "/etc/prometheus/client.yml",
    alertmanagerPassword: "/etc/prometheus/secrets/alertmanager_password",
  },
  alertmanager: {
    web: "/etc/alertmanager/secrets/web.yml",
    password: "/etc/alertmanager/secrets/password",
    client: "/etc/alertmanager/client.yml",
  },
} as const;

/** Readiness over HTTP in images that ship busybox wget. */
export const wget = (url: string) => ["CMD", "wget", "-q", "--spider", url];
/** Readiness in Ubuntu-based images, which have bash but neither curl nor wget. */
export const bashHttp = (port: number, path: string) => [
  "CMD",
  "bash",
  "-c",
  `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET ${path} HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3`,
];

export const health = (tests: string[]): Healthcheck => ({
  tests,
  interval: "30s",
  timeout: "10s",
  retries: 3,
  startPeriod: "60s",
});
/** A service's port by name (its `http` port by default). */
export const port = (s: HasPorts, name = "http") => s.ports[name] as { container: number; host: number };
/** Readiness of a service's own HTTP endpoint, from inside its container. */
export const httpReady = (s: HasPorts, path: string) =>
  health(wget(`http://127.0.0.1:${port(s).container}${path}`));
export const ro = (hostPath: string, containerPath: string) => ({ hostPath, containerPath, readOnly: true });
export const rw = (hostPath: string, containerPath: string) => ({ hostPath, containerPath });
/** A file group's reload: POST to the service's own host port from the host. */
export const local = (s: HasPorts, path: string) => `http:http://127.0.0.1:${port(s).host}${path}`;
/** The host path of a file the container sees under /etc/<service>. */
export const inConfig = (input: ContainerInput, containerPath: string) =>
  containerPath.replace(/^\/etc\/[a-z]+/, input.paths.config);
/** The rendered files of one of the service's file groups; the component layer renders them. */
export function filesOf(input: ContainerInput, group: string): Record<string, string> {
  const files = input.files[group];
  if (!files) throw new Error(`no rendered files for file group "${group}" (components/ladon/containers.ts)`);
  return files;
}
