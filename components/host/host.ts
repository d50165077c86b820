import * as pulumi from "@pulumi/pulumi";
import type { HostTarget } from "../remote";
import { Docker } from "./docker";
import { Nvidia } from "./nvidia";
import { Storage } from "./storage";

export interface HostArgs {
  /** The host and how to reach it; its config says which layers it has. */
  target: HostTarget;
  /** node-exporter's textfile directory, where host-level timers (the RAID scrub) write metrics. */
  textfileDir: string;
  /** Host paths its containers keep data in, which Docker must start after. @default [] */
  dockerDataPaths?: string[];
}

/**
 * One host's layer: storage (LVM, disks, RAID arrays), then (where configured) the NVIDIA stack and
 * Docker. Independent steps run in parallel: formatting a disk never waits for the driver, and the
 * reverse.
 */
export class Host extends pulumi.ComponentResource {
  /** How to reach the host, and its config. */
  readonly target: HostTarget;
  readonly storage: Storage;
  readonly nvidia?: Nvidia;
  /**
   * What a step on this host that no other step orders must wait for: the NVIDIA chain's last step,
   * after which nothing reboots the host. Empty on a host without GPUs.
   */
  readonly settled: pulumi.Resource[];
  readonly docker?: Docker;

  constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("citadel:host:Host", name, {}, opts);
    const { target } = args;
    this.target = target;
    const config = target.config;

    this.storage = new Storage(
      `${name}-storage`,
      {
        host: target,
        lvm: config.storage?.lvm,
        disks: config.storage?.disks,
        raids: config.storage?.raids,
        scrubSchedule: config.storage?.scrubSchedule,
        textfileDir: args.textfileDir,
      },
      { parent: this },
    );
    // A driver install may reboot the host. Docker is configured only once the NVIDIA chain,
    // reboot included, is done (nvidia-ctk has written its runtime and the host is back), and the
    // reboot waits for the storage steps and the engine's apt work: no step is ever cut off.
    let settle: ((ready: pulumi.Resource) => void) | undefined;
    const nvidiaReady = config.nvidia
      ? new Promise<pulumi.Resource>((resolve) => (settle = resolve))
      : undefined;
    if (config.docker) {
      const dataRootMount = this.storage.mountFor(config.docker.dataRoot);
      this.docker = new Docker(
        `${name}-docker`,
        {
          host: target,
          docker: config.docker,
          gpu: config.nvidia !== undefined,
          dataPaths: args.dockerDataPaths,
          configureAfter: [...(dataRootMount ? [dataRootMount] : []), ...(nvidiaReady ? [nvidiaReady] : [])],
        },
        { parent: this },
      );
    }
    if (config.nvidia) {
      this.nvidia = new Nvidia(
        `${name}-nvidia`,
        {
          host: target,
          nvidia: config.nvidia,
          rebootAfter: [...this.storage.steps(), ...(this.docker ? [this.docker.engine] : [])],
        },
        { parent: this },
      );
      settle?.(this.nvidia.ready);
    }
    this.settled = this.nvidia ? [this.nvidia.ready] : [];
    this.registerOutputs({ address: config.address });
  }
}
