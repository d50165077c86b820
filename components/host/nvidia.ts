import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { NvidiaConfig } from "../config";
import { hostScript, localScript, type HostTarget } from "../remote";

export interface NvidiaArgs {
  /** The GPU host. */
  host: HostTarget;
  /** Driver branch, toolkit version, GPUs, persistence, IOMMU and reboot policy. */
  nvidia: NvidiaConfig;
  /** How long to wait for SSH after a reboot. @default 900 */
  rebootTimeoutSeconds?: number;
  /**
   * The host's other steps that may be running when the reboot is due (storage, the Docker
   * engine's apt work): the reboot waits for them, so it never cuts one off. @default []
   */
  rebootAfter?: pulumi.Input<pulumi.Resource>[];
}

/**
 * The NVIDIA stack: driver from Ubuntu's archive, container toolkit from NVIDIA's repository,
 * persistence daemon, IOMMU kernel arguments, a reboot only when needed and allowed, and a final
 * check that nvidia-smi sees every GPU on the pinned branch.
 */
export class Nvidia extends pulumi.ComponentResource {
  /** The toolkit step; Docker's daemon.json merge waits for it. */
  readonly toolkit: command.remote.Command;
  /** The verification step; GPU containers depend on it. */
  readonly ready: command.remote.Command;

  constructor(name: string, args: NvidiaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("citadel:host:Nvidia", name, {}, opts);
    const timeout = args.rebootTimeoutSeconds ?? 900;
    if (!Number.isInteger(timeout) || timeout < 60) {
      throw new Error(`Nvidia ${name}: rebootTimeoutSeconds must be a whole number of seconds, at least 60`);
    }
    const { host, nvidia } = args;
    const kernelArgs = nvidia.iommuKernelArgs.join(" ");
    const child = { parent: this };

    const driver = hostScript(
      `${name}-driver`,
      {
        host,
        script: "host/scripts/nvidia-driver.sh",
        params: {
          DRIVER_BRANCH: nvidia.driver.branch,
          DRIVER_FLAVOR: nvidia.driver.flavor,
          HEADLESS: nvidia.driver.headless,
          PERSISTENCE: nvidia.persistenceMode,
        },
      },
      child,
    );
    const iommu = hostScript(
      `${name}-iommu`,
      { host, script: "host/scripts/nvidia-iommu.sh", params: { KERNEL_ARGS: kernelArgs } },
      child,
    );
    this.toolkit = hostScript(
      `${name}-toolkit`,
      { host, script: "host/scripts/nvidia-toolkit.sh", params: { TOOLKIT_VERSION: nvidia.toolkitVersion } },
      child,
    );
    const reboot = hostScript(
      `${name}-reboot`,
      {
        host,
        script: "host/scripts/nvidia-reboot.sh",
        params: {
          ALLOW_REBOOT: nvidia.allowReboot,
          KERNEL_ARGS: kernelArgs,
          HOST_NAME: host.name,
          // Re-check whenever what could need a reboot changes.
          DRIVER_BRANCH: nvidia.driver.branch,
        },
      },
      // Everything else on the host that could still be running waits before the reboot: the e2e
      // tier saw a reboot cut off the Docker daemon step's restart (docs/e2e.md).
      { parent: this, dependsOn: [driver, iommu, this.toolkit, ...(args.rebootAfter ?? [])] },
    );
    const wait = localScript(
      `${name}-wait`,
      {
        script: "host/scripts/wait-for-reboot.sh",
        params: {
          REBOOT_OUTPUT: reboot.stdout,
          ADDRESS: host.config.address,
          PORT: host.config.ssh.port,
          SSH_USER: host.config.ssh.user,
          HOST_KEY: host.config.ssh.hostKey,
          TIMEOUT_SECONDS: timeout,
        },
      },
      { parent: this, dependsOn: [reboot] },
    );
    this.ready = hostScript(
      `${name}-verify`,
      {
        host,
        script: "host/scripts/nvidia-verify.sh",
        params: { GPU_COUNT: nvidia.gpus.count, DRIVER_BRANCH: nvidia.driver.branch, HOST_NAME: host.name },
      },
      { parent: this, dependsOn: [wait] },
    );
    this.registerOutputs({ driverBranch: nvidia.driver.branch, gpuCount: nvidia.gpus.count });
  }
}
