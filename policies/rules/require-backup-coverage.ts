import type { StackValidationPolicy } from "@pulumi/policy";
import { LABELS, labelOf, scriptParams, serviceOf, TYPES } from "../lib/resources";

/**
 * A container's own exclusions (its LABELS.backupExclude): set by the component that knows its
 * data is disposable, as the vLLM caches are wherever `cacheDir` points.
 */
function labelExclusions(props: Record<string, unknown>): string[] {
  const raw = labelOf(props, LABELS.backupExclude);
  if (raw === undefined) return [];
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed === null || typeof parsed !== "object") return [];
    // An exclusion without a reason is not a decision.
    return Object.entries(parsed as Record<string, unknown>)
      .filter(([, reason]) => typeof reason === "string" && reason.trim().length > 0)
      .map(([p]) => p);
  } catch {
    return [];
  }
}

const SYSTEM = /^\/(run|var\/run|sys|proc|dev)(\/|$)/;

export const requireBackupCoverage: StackValidationPolicy = {
  name: "require-backup-coverage",
  description:
    "Every persistent volume is covered by backups or explicitly excluded with a reason, because a volume nobody decided about is the one that is lost.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      exclusions: {
        type: "object",
        description: "Host paths not backed up, each with the reason.",
        default: {
          "/srv/models": "model weights and compile caches download again",
          "/var/lib/citadel": "Alloy's read positions rebuild themselves",
        },
      },
    },
  },
  validateStack: (args, report) => {
    const exclusions = args.getConfig<{ exclusions: Record<string, string> }>().exclusions;
    // What the backup timer's script covers: its PATHS, read from the step that installs it.
    const covered = args.resources
      .map((r) => {
        const step = scriptParams(r.props.create);
        return (
          step.BACKUP_PATHS ??
          (step.SCRIPT?.includes("citadel script: ops/scripts/backup.sh")
            ? scriptParams(step.SCRIPT).PATHS
            : undefined)
        );
      })
      .filter((p): p is string => typeof p === "string")
      .flatMap((p) => p.split(/\s+/).filter(Boolean));
    const under = (path: string, roots: string[]) =>
      roots.some((root) => path === root || path.startsWith(`${root}/`));
    for (const r of args.resources.filter((x) => x.type === TYPES.container)) {
      const excluded = [...Object.keys(exclusions), ...labelExclusions(r.props)];
      for (const v of (r.props.volumes ?? []) as { hostPath?: string; readOnly?: boolean }[]) {
        if (!v.hostPath || v.readOnly || SYSTEM.test(v.hostPath)) continue;
        if (under(v.hostPath, covered) || under(v.hostPath, excluded)) continue;
        report(
          `${serviceOf(r.props)} keeps data in ${v.hostPath}, which no backup covers; back it up or exclude it with a reason.`,
          r.urn,
        );
      }
    }
  },
};
