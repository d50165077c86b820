import type * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { DockerConfig } from "../config";
import { hostScript, publishFile, renderUnit, type HostTarget } from "../remote";
import { sortKeys } from "../shared/render";

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
