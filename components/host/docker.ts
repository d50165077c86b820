import { createHash } from "node:crypto";
import type * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { DockerConfig } from "../config";
import { hostScript, publishFile, renderUnit, type HostTarget } from "../remote";

export interface DockerArgs {
  /** The host to install Docker on. */
  host: HostTarget;
  /** Engine version, data-root and log rotation. */
  docker: DockerConfig;
  /** Whether the host has NVIDIA GPUs, so daemon.json carries the nvidia runtime. @default false */
  gpu?: boolean;
  /**
   * Steps daemon.json must wait for: the mount under data-root and the NVIDIA toolkit, which adds
   * its runtime to the same file.
   * @default []
   */
  configureAfter?: pulumi.Input<pulumi.Resource>[];
  /**
   * Host paths the containers keep data in (the LadonStack's dataDir, vLLM's cache): docker.service
   * starts only once the mounts under them, and under data-root, are up.
   * @default []
   */
  dataPaths?: string[];
}

/** The drop-in that orders docker.service after its data's mounts. */
export const DOCKER_MOUNTS_DROP_IN = "/etc/systemd/system/docker.service.d/citadel-mounts.conf";

/**
 * `RequiresMountsFor=` every path Docker keeps data under: systemd then requires and orders after
 * the mount units for each (systemd.unit(5)). Without it, a disk mounted with `nofail` is neither
 * required by nor ordered before local-fs.target (systemd.mount(5), "nofail"), so after a reboot
 * Docker could start first and create an empty data-root on the root disk.
 */
export function renderDockerMountsDropIn(dataRoot: string, dataPaths: readonly string[] = []): string {
  const paths = [...new Set([dataRoot, ...dataPaths])].sort();
  return renderUnit([["Unit", [["RequiresMountsFor", paths.join(" ")]]]]);
}

/** The runtime entry exactly as `nvidia-ctk runtime configure --runtime=docker` writes it. */
export const NVIDIA_RUNTIME = { nvidia: { args: [], path: "nvidia-container-runtime" } };

/** The keys citadel owns in /etc/docker/daemon.json, with sorted keys so the text is stable. */
export function renderDaemonJson(docker: DockerConfig, gpu: boolean): string {
  const config: Record<string, unknown> = {
    "data-root": docker.dataRoot,
    "live-restore": true,
    "log-driver": docker.log.driver,
    "log-opts": { "max-file": String(docker.log.maxFile), "max-size": docker.log.maxSize },
    ...(gpu ? { runtimes: NVIDIA_RUNTIME } : {}),
  };
  return `${JSON.stringify(sortKeys(config), null, 2)}\n`;
}

/** Deep-sorts object keys; arrays keep their order. */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeys) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    ) as T;
  }
  return value;
}

/**
 * Container inputs the docker provider records as in-place updates but never applies to the
 * running container: its Update (kreuzwerker terraform-provider-docker,
 * internal/provider/resource_docker_container_funcs.go, which @pulumi/docker v5 bridges) applies
 * only restart, memory, CPU shares and set, swap and block-IO limits. A change to one of these
 * would leave the container running with the old setting while the state says otherwise.
 */
export const UNAPPLIED_CONTAINER_INPUTS = ["healthcheck", "tmpfs", "init", "cpuPeriod", "cpuQuota"] as const;

/** The label that carries a hash of the unapplied inputs. */
export const RECREATE_LABEL = "org.hana-x.citadel.recreate-hash";

/**
 * A label whose value hashes the container's unapplied inputs: labels force a new container, so a
 * change to any of them replaces the container instead of drifting from it.
 */
export function recreateLabel(args: Record<string, unknown>): { label: string; value: string } {
  const watched = Object.fromEntries(UNAPPLIED_CONTAINER_INPUTS.map((k) => [k, args[k] ?? null]));
  const value = createHash("sha256")
    .update(JSON.stringify(sortKeys(watched)))
    .digest("hex")
    .slice(0, 16);
  return { label: RECREATE_LABEL, value };
}

/**
 * Create and update timeouts that outlast `wait`: the provider's default is 20 minutes for each,
 * and `wait`/`waitTimeout` run inside the create (resource_docker_container.go Timeouts), so a
 * longer start would fail the `up` and leave the container running.
 */
export function containerTimeouts(waitSeconds: number): pulumi.CustomTimeouts {
  const minutes = Math.max(20, Math.ceil(waitSeconds / 60) + 10);
  return { create: `${minutes}m`, update: `${minutes}m`, delete: "10m" };
}

/** The lab's user-defined network: containers on it reach each other by name. */
export const LAB_NETWORK = "citadel";

/** `ssh://user@host:port`, which the docker provider dials with the local ssh binary. */
export function dockerHostUri(host: HostTarget): string {
  return `ssh://${host.config.ssh.user}@${host.config.address}:${host.config.ssh.port}`;
}

/**
 * Docker Engine from Docker's apt repository, pinned and held, with citadel's daemon.json keys;
 * plus the provider that reaches it over SSH and the lab network.
 */
export class Docker extends pulumi.ComponentResource {
  /** The last step: `docker info` agrees with the config. Containers depend on it. */
  readonly ready: command.remote.Command;
  /** The step that installs the engine (apt work a reboot must not interrupt). */
  readonly engine: command.remote.Command;
  /** Docker on this host over SSH. The host must be in the pulumi machine's known_hosts. */
  readonly provider: docker.Provider;
  readonly network: docker.Network;

  constructor(name: string, args: DockerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("citadel:host:Docker", name, {}, opts);
    const gpu = args.gpu ?? false;
    const configureAfter = args.configureAfter ?? [];
    const { host, docker: engine } = args;
    const daemonJson = renderDaemonJson(engine, gpu);
    publishFile(`${host.name}/etc/docker/daemon.json`, daemonJson);
    const dropIn = renderDockerMountsDropIn(engine.dataRoot, args.dataPaths);
    publishFile(`${host.name}${DOCKER_MOUNTS_DROP_IN}`, dropIn);

    const install = hostScript(
      `${name}-engine`,
      {
        host,
        script: "host/scripts/docker-engine.sh",
        params: { DOCKER_VERSION: engine.version, ADMIN_USER: host.config.ssh.user, HOST_NAME: host.name },
      },
      { parent: this },
    );
    this.engine = install;
    const daemon = hostScript(
      `${name}-daemon`,
      {
        host,
        script: "host/scripts/docker-daemon.sh",
        params: {
          DAEMON_JSON: daemonJson,
          DATA_ROOT: engine.dataRoot,
          MOUNTS_DROP_IN: dropIn,
          MOUNTS_DROP_IN_PATH: DOCKER_MOUNTS_DROP_IN,
        },
      },
      { parent: this, dependsOn: [install, ...configureAfter] },
    );
    this.ready = hostScript(
      `${name}-verify`,
      {
        host,
        script: "host/scripts/docker-verify.sh",
        params: {
          DOCKER_VERSION: engine.version,
          DATA_ROOT: engine.dataRoot,
          LOG_DRIVER: engine.log.driver,
          EXPECT_NVIDIA: gpu,
          HOST_NAME: host.name,
        },
      },
      { parent: this, dependsOn: [daemon] },
    );
    this.provider = new docker.Provider(
      `${name}-provider`,
      {
        host: dockerHostUri(host),
        // Never prompt, and refuse a host whose key is not already in known_hosts.
        sshOpts: ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"],
      },
      { parent: this },
    );
    this.network = new docker.Network(
      `${name}-network`,
      { name: LAB_NETWORK, driver: "bridge" },
      { parent: this, provider: this.provider, dependsOn: [this.ready] },
    );
    this.registerOutputs({ version: engine.version, dataRoot: engine.dataRoot });
  }
}
