import type { StackValidationPolicy } from "@pulumi/policy";
import { parse } from "yaml";
import { fileEndingWith, renderedFiles } from "../lib/files";
import { scriptParams, serviceOf, TYPES } from "../lib/resources";

const UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

export const enforceRetentionLimits: StackValidationPolicy = {
  name: "enforce-retention-limits",
  description:
    "Prometheus and Loki have retention set and their planned data fits the volume it lives on, because monitoring data that fills the disk takes the whole stack down, and unlimited retention eventually does.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      maxVolumeShare: {
        type: "number",
        default: 0.8,
        description: "Largest share of the data volume Prometheus and Loki may plan to use.",
      },
    },
  },
  validateStack: (args, report) => {
    const { maxVolumeShare } = args.getConfig<{ maxVolumeShare: number }>();
    const prometheus = args.resources.find(
      (r) => r.type === TYPES.container && serviceOf(r.props) === "prometheus",
    );
    if (!prometheus) return;
    // Retention lives in prometheus.yml (`storage: tsdb: retention:`, config/config.go@v3.16.0),
    // where a reload applies it; the program never sets the deprecated flags (cmd/prometheus/main.go).
    const files = renderedFiles(args.resources);
    const retention = (
      parse(fileEndingWith(files, "/prometheus.yml") ?? "{}") as {
        storage?: { tsdb?: { retention?: { time?: string; size?: string } } };
      } | null
    )?.storage?.tsdb?.retention;
    const time = retention?.time;
    const size = retention?.size;
    if (!time)
      report(
        "Prometheus has no storage.tsdb.retention.time in prometheus.yml; set ladon.prometheus.retentionTime.",
        prometheus.urn,
      );
    if (!size)
      report(
        "Prometheus has no storage.tsdb.retention.size in prometheus.yml; set ladon.prometheus.retentionSize.",
        prometheus.urn,
      );

    const loki = parse(fileEndingWith(files, "/loki.yaml") ?? "{}") as {
      compactor?: Record<string, unknown>;
    };
    const runtime = parse(fileEndingWith(files, "/runtime.yaml") ?? "{}") as {
      overrides?: Record<string, { retention_period?: string }>;
    };
    if (loki.compactor?.retention_enabled !== true || !loki.compactor?.delete_request_store) {
      report("Loki's compactor does not enforce retention (retention_enabled and delete_request_store).");
    }
    if (!Object.values(runtime.overrides ?? {}).some((o) => o.retention_period))
      report("Loki has no retention_period; set ladon.loki.retentionPeriod.");

    // The planned data: Prometheus's size limit, plus Loki's retention times its expected daily
    // volume (a parameter of the stack's textfile timer), against the disk under the data.
    const timer = args.resources
      .map((r) => scriptParams(scriptParams(r.props.create).SCRIPT ?? ""))
      .find((p) => p.DATA_DIR);
    if (!timer) return;
    const hours = Number(
      /^(\d+)h$/.exec(Object.values(runtime.overrides ?? {})[0]?.retention_period ?? "")?.[1] ?? 0,
    );
    const m = /^(\d+)(B|KB|MB|GB|TB)$/.exec(size ?? "");
    const prometheusBytes = m ? Number(m[1]) * (UNITS[m[2] as string] as number) : 0;
    const planned = prometheusBytes + (hours * Number(timer.LOKI_DAILY_BYTES ?? 0)) / 24;
    const dataDir = timer.DATA_DIR as string;
    const disk = args.resources
      .map((r) => scriptParams(r.props.create))
      .filter((p) => p.MOUNT_POINT && (dataDir === p.MOUNT_POINT || dataDir.startsWith(`${p.MOUNT_POINT}/`)))
      .sort((a, b) => (b.MOUNT_POINT as string).length - (a.MOUNT_POINT as string).length)[0];
    const volume = Number(disk?.SIZE_BYTES || 0) || (disk ? raidBytes(disk) : 0);
    if (!volume) {
      report(
        `the size of the volume under ${dataDir} is unknown, so retention cannot be checked; set storage.disks[].size or storage.raids[].memberSize.`,
      );
      return;
    }
    if (planned > volume * maxVolumeShare) {
      const gib = (n: number) => `${(n / (UNITS.GB as number)).toFixed(1)} GiB`;
      report(
        `Prometheus and Loki plan ${gib(planned)} on ${disk?.MOUNT_POINT}, more than ${maxVolumeShare * 100}% of its ${gib(volume)}; lower their retention.`,
      );
    }
    if (size && !/^\d+(B|KB|MB|GB|TB)$/.test(size))
      report(`Prometheus retention size ${size} is not a size Prometheus accepts.`, prometheus.urn);
  },
};

/**
 * A RAID step's usable bytes from its level, member count and member size: one member for RAID1,
 * all but one (5) or two (6), half of them for RAID10's two copies; 0 when the size is not declared.
 */
function raidBytes(step: Record<string, string>): number {
  const member = Number(step.MEMBER_SIZE_BYTES || 0);
  const n = (step.MEMBERS ?? "").split(/\s+/).filter(Boolean).length;
  const data: Record<string, number> = { "1": 1, "5": n - 1, "6": n - 2, "10": n / 2 };
  return member * Math.max(0, data[step.LEVEL ?? ""] ?? 0);
}
