import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { DockerConfig } from "../config";
import { hostScript, publishFile, type HostTarget } from "../remote";

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

/** Docker Engine from Docker's apt repository, pinned and held, with citadel's daemon.json keys. */
export class Docker extends pulumi.ComponentResource {
  /** The last step: `docker info` agrees with the config. Containers depend on it. */
  readonly ready: command.remote.Command;

  constructor(name: string, args: DockerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("citadel:host:Docker", name, {}, opts);
    const gpu = args.gpu ?? false;
    const configureAfter = args.configureAfter ?? [];
    const { host, docker } = args;
    const daemonJson = renderDaemonJson(docker, gpu);
    publishFile(`${host.name}/etc/docker/daemon.json`, daemonJson);

    const engine = hostScript(
      `${name}-engine`,
      {
        host,
        script: "host/scripts/docker-engine.sh",
        params: { DOCKER_VERSION: docker.version, ADMIN_USER: host.config.ssh.user, HOST_NAME: host.name },
      },
      { parent: this },
    );
    const daemon = hostScript(
      `${name}-daemon`,
      {
        host,
        script: "host/scripts/docker-daemon.sh",
        params: { DAEMON_JSON: daemonJson, DATA_ROOT: docker.dataRoot },
      },
      { parent: this, dependsOn: [engine, ...configureAfter] },
    );
    this.ready = hostScript(
      `${name}-verify`,
      {
        host,
        script: "host/scripts/docker-verify.sh",
        params: {
          DOCKER_VERSION: docker.version,
          DATA_ROOT: docker.dataRoot,
          LOG_DRIVER: docker.log.driver,
          EXPECT_NVIDIA: gpu,
          HOST_NAME: host.name,
        },
      },
      { parent: this, dependsOn: [daemon] },
    );
    this.registerOutputs({ version: docker.version, dataRoot: docker.dataRoot });
  }
}
