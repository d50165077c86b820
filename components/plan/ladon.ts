/**
 * Where each LadonStack service runs, and the plan-time checks that span hosts: images exist for
 * each host's architecture, host ports are unique per host, containers' memory limits fit each
 * host's RAM with headroom, and retention fits the data volume. Pure.
 */
import type { HostConfig, LabConfig } from "../config/schema";
import type { Problem } from "../shared/problem";
import { raidUsableBytes } from "../config/raid";
import type { LadonConfig } from "../config/ladon";
import { formatSize, parseSize } from "../config/units";
import { vllmContainer } from "../config/vllm";
import { SERVICES, SERVICE_NAMES, type ServiceName, type ServiceSpec } from "./services";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Services per host: the stack on its host; exporters and Alloy on every host they measure. */
export function placement(lab: Pick<LabConfig, "hosts">, ladon: LadonConfig): Record<string, ServiceName[]> {
  const out: Record<string, ServiceName[]> = {};
  for (const [name, host] of Object.entries(lab.hosts).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!host.docker) continue;
    out[name] = SERVICE_NAMES.filter((s) => {
      const where = SERVICES[s].placement;
      if (where === "stack") return name === ladon.host;
      if (where === "gpuHosts") return host.nvidia !== undefined;
      return true;
    });
  }
  return out;
}

export function memoryMiB(ladon: LadonConfig, service: ServiceName): number {
  return ladon.memoryMiB[service] ?? SERVICES[service].memoryMiB;
}

/** The disks and RAID arrays a host mounts, each with its size when config knows it. */
export function mountsOf(host: HostConfig): { mountPoint: string; bytes?: number }[] {
  const disks = (host.storage?.disks ?? []).map((d) => ({
    mountPoint: d.mountPoint,
    bytes: d.size ? parseSize(d.size) : undefined,
  }));
  const raids = (host.storage?.raids ?? []).map((r) => {
    const member = r.memberSize ? parseSize(r.memberSize) : undefined;
    return {
      mountPoint: r.mountPoint,
      bytes: member === undefined ? undefined : raidUsableBytes(r.level, r.members.length, member),
    };
  });
  return [...disks, ...raids];
}

/** The volume that holds `path` on a host, with its size when config knows it. */
export function volumeOf(host: HostConfig, path: string): { mount: string; bytes?: number } {
  const mount = mountsOf(host)
    .filter((m) => path === m.mountPoint || path.startsWith(`${m.mountPoint}/`))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length)[0];
  if (mount) return { mount: mount.mountPoint, bytes: mount.bytes };
  const lvm = host.storage?.lvm;
  return { mount: "/", bytes: lvm && lvm.size !== "all-free" ? parseSize(lvm.size) : undefined };
}

/** Prometheus's size limit plus Loki's expected volume over its retention. */
export function retentionBytes(ladon: LadonConfig): { prometheus: number; loki: number } {
  const hours = Number(ladon.loki.retentionPeriod.replace(/h$/, ""));
  return {
    prometheus: parseSize(ladon.prometheus.retentionSize) ?? 0,
    loki: ((parseSize(ladon.loki.expectedDailyIngest) ?? 0) * hours) / 24,
  };
}

/** Why `service`'s image cannot run on a host of `arch`, or undefined when it can. */
export function archProblem(
  service: string,
  spec: Pick<ServiceSpec, "image" | "arches">,
  hostName: string,
  arch: HostConfig["arch"],
): string | undefined {
  if (spec.arches.includes(arch)) return undefined;
  return `${spec.image} has no ${arch} image, so ${service} cannot run on ${hostName}; only multi-arch images run on ${arch} hosts`;
}

export function ladonProblems(lab: Pick<LabConfig, "hosts" | "vllm">, ladon: LadonConfig): Problem[] {
  const problems: Problem[] = [];
  const stackHost = lab.hosts[ladon.host];
  if (!stackHost) {
    return [
      {
        path: ["host"],
        message: `no host named "${ladon.host}" in citadel:hosts (${Object.keys(lab.hosts).join(", ")})`,
      },
    ];
  }
  if (!stackHost.docker)
    return [{ path: ["host"], message: `host "${ladon.host}" needs a docker section to run the LadonStack` }];

  for (const [hostName, services] of Object.entries(placement(lab, ladon))) {
    const host = lab.hosts[hostName] as HostConfig;
    for (const s of services) {
      const problem = archProblem(s, SERVICES[s], hostName, host.arch);
      if (problem) problems.push({ path: ["host"], message: problem });
    }
    const limits = services.map((s) => ({ name: SERVICES[s].container, mib: memoryMiB(ladon, s) }));
    if (lab.vllm?.host === hostName) {
      for (const [server, s] of Object.entries(lab.vllm.servers))
        limits.push({ name: vllmContainer(server), mib: (parseSize(s.memoryLimit) ?? 0) / MiB });
    }
    const total = limits.reduce((sum, l) => sum + l.mib, 0) * MiB;
    const available = host.memoryGiB * GiB - ladon.headroomGiB * GiB;
    if (total > available) {
      const sorted = [...limits].sort((a, b) => b.mib - a.mib);
      const biggest = sorted.slice(0, 3).map((l) => `${l.name} ${l.mib} MiB`);
      problems.push({
        path: ["memoryMiB"],
        message: `containers on ${hostName} are limited to ${formatSize(total)} in all, but ${hostName} has ${host.memoryGiB} GiB of RAM less ${ladon.headroomGiB} GiB headroom (${formatSize(available)}); largest: ${biggest.join(", ")}. ${
          sorted[0]?.name.startsWith("vllm-")
            ? `Lower vllm.servers.${sorted[0].name.slice("vllm-".length)}.memoryLimit (the largest), or ladon.memoryMiB, or place the stack on a bigger host`
            : "Lower ladon.memoryMiB, or place the stack on a bigger host"
        }`,
      });
    }
    const ports = new Map<number, string>();
    if (lab.vllm?.host === hostName) {
      for (const [server, s] of Object.entries(lab.vllm.servers)) ports.set(s.port, vllmContainer(server));
    }
    for (const s of services) {
      for (const p of Object.values(SERVICES[s].ports)) {
        const other = ports.get(p.host);
        if (other)
          problems.push({
            path: ["host"],
            message: `port ${p.host} on ${hostName} is wanted by both ${other} and ${s}`,
          });
        ports.set(p.host, s);
      }
    }
  }

  const volume = volumeOf(stackHost, ladon.dataDir);
  const mounts = mountsOf(stackHost);
  const isMount = mounts.some((m) => volume.mount === m.mountPoint);
  // Retention is checked against the disk or array under the data (citadel-guard's
  // enforce-retention-limits reads its mount step), so the data must sit on one of known size.
  if (!isMount) {
    const under = mounts.find((m) => m.bytes !== undefined)?.mountPoint;
    problems.push({
      path: ["dataDir"],
      message:
        mounts.length === 0
          ? `${ladon.dataDir} is on no disk or array of ${ladon.host}, which declares none; declare the data disk under hosts.${ladon.host}.storage.disks (with its size), and put dataDir under its mount point`
          : `${ladon.dataDir} is on none of ${ladon.host}'s disks or arrays (${mounts.map((m) => m.mountPoint).join(", ")}), so retention cannot be checked against its size; put it under one, e.g. ${under ?? mounts[0]?.mountPoint}/ladon`,
    });
  } else if (volume.bytes === undefined) {
    const disk = (stackHost.storage?.disks ?? []).findIndex((d) => d.mountPoint === volume.mount);
    const raid = (stackHost.storage?.raids ?? []).findIndex((r) => r.mountPoint === volume.mount);
    const key =
      disk >= 0
        ? `hosts.${ladon.host}.storage.disks[${disk}].size`
        : `hosts.${ladon.host}.storage.raids[${raid}].memberSize`;
    problems.push({
      path: ["dataDir"],
      message: `${ladon.dataDir} is on ${volume.mount}, whose size is not declared, so Prometheus's and Loki's retention cannot be checked against it; set ${key} (lsblk -b)`,
    });
  }
  if (volume.bytes !== undefined) {
    const r = retentionBytes(ladon);
    const budget = volume.bytes * 0.8;
    if (r.prometheus + r.loki > budget) {
      problems.push({
        path: ["prometheus", "retentionSize"],
        message: `Prometheus (${ladon.prometheus.retentionSize}) and Loki (${formatSize(r.loki)} over ${ladon.loki.retentionPeriod}) need ${formatSize(r.prometheus + r.loki)}, more than 80% of the ${formatSize(volume.bytes)} volume at ${volume.mount}; lower retention or move dataDir`,
      });
    }
  }
  return problems;
}
