/** Backups: the last success, its age and its checks. */
import type { Thresholds } from "../../../config/ladon";
import type { RuleFixtures, RuleGroup } from "./types";

export function backupsRules(t: Thresholds, { node, sel }: RuleFixtures): RuleGroup {
  return {
    name: "backups",
    rules: [
      {
        alert: "BackupStale",
        expr: `time() - citadel_backup_last_success_timestamp_seconds > ${t.backupMaxAgeHours * 3600}`,
        for: "30m",
        severity: "critical",
        summary: `The last successful backup on {{ $labels.host }} is older than ${t.backupMaxAgeHours}h: check \`systemctl status citadel-backup.service\` and the backup disk.`,
        labels: node,
        // One sample a minute for longer than the evaluation time, so the series is never stale.
        fires: {
          series: {
            [`citadel_backup_last_success_timestamp_seconds${sel(node)}`]: `0x${(t.backupMaxAgeHours + 3) * 60}`,
          },
          at: `${t.backupMaxAgeHours + 2}h`,
        },
        quiet: {
          series: {
            [`citadel_backup_last_success_timestamp_seconds${sel(node)}`]: `${(t.backupMaxAgeHours + 1) * 3600}x${(t.backupMaxAgeHours + 3) * 60}`,
          },
          at: `${t.backupMaxAgeHours + 2}h`,
        },
      },
    ],
  };
}
