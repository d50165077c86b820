/** Composes the lab from its validated config: one `Host` per configured host. */
import type * as pulumi from "@pulumi/pulumi";
import type { LabConfig, LabSecrets } from "./config";
import { Host } from "./host";
import { hostTarget } from "./remote";

export interface Lab {
  hosts: Record<string, Host>;
  /** Stack outputs. */
  outputs: {
    hosts: Record<string, HostSummary>;
  };
}

export interface HostSummary {
  address: string;
  mounts: string[];
  nvidiaDriverBranch: string | null;
  gpuCount: number;
  dockerVersion: string | null;
}

export function buildLab(lab: LabConfig, secrets: LabSecrets): Lab {
  const hosts: Record<string, Host> = {};
  const summary: Record<string, HostSummary> = {};
  for (const name of Object.keys(lab.hosts).sort()) {
    const config = lab.hosts[name] as LabConfig["hosts"][string];
    const target = hostTarget(
      name,
      config,
      secrets.values.sshPrivateKey as pulumi.Output<string> | undefined,
    );
    hosts[name] = new Host(name, { target });
    summary[name] = {
      address: config.address,
      mounts: (config.storage?.disks ?? []).map((d) => d.mountPoint),
      nvidiaDriverBranch: config.nvidia?.driver.branch ?? null,
      gpuCount: config.nvidia?.gpus.count ?? 0,
      dockerVersion: config.docker?.version ?? null,
    };
  }
  return { hosts, outputs: { hosts: summary } };
}
