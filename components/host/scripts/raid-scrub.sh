#!/usr/bin/env bash
# Runs from a monthly systemd timer on hosts with RAID arrays: scrubs each redundant md array in
# turn by writing `check` to its sync_action, waits until md has read and compared every block,
# then records the result as node-exporter textfile metrics. A check only reads; md rewrites a
# block only when a member fails to read it. An array that is busy (a resync, a recovery, a check
# started by hand) or refuses the check (read-only) is skipped this time and keeps its last
# result, so HostRaidScrubOverdue says when scrubs stop happening.
set -euo pipefail
: "${TEXTFILE_DIR:?}"
ROOT="${CITADEL_ROOT:-}"
POLL_SECONDS="${POLL_SECONDS:-60}"
out="${ROOT}${TEXTFILE_DIR}/citadel_raid_scrub.prom"
previous=$(cat "$out" 2>/dev/null || true)
mismatches=""
completed=""
# The samples of `metric` for `dev` from the last run's file, when this run does not measure it.
kept() { printf '%s\n' "$previous" | grep -F "$1{device=\"$2\"} " || true; }

for md in "${ROOT}"/sys/block/md*/md; do
  [ -d "$md" ] || continue
  dev=$(basename "$(dirname "$md")")
  case "$(cat "$md/level" 2>/dev/null || true)" in raid1 | raid4 | raid5 | raid6 | raid10) ;; *) continue ;; esac
  action=$(cat "$md/sync_action")
  if [ "$action" != idle ] || ! echo check 2>/dev/null >"$md/sync_action"; then
    echo "$dev: not scrubbed this time (sync_action was $action); its last result is kept"
    mismatches+=$(kept citadel_md_scrub_mismatch_sectors "$dev")$'\n'
    completed+=$(kept citadel_md_scrub_last_completed_timestamp_seconds "$dev")$'\n'
    continue
  fi
  echo "$dev: check started"
  while [ "$(cat "$md/sync_action")" != idle ]; do sleep "$POLL_SECONDS"; done
  count=$(cat "$md/mismatch_cnt")
  echo "$dev: check finished, $count sectors found inconsistent"
  mismatches+="citadel_md_scrub_mismatch_sectors{device=\"$dev\"} $count"$'\n'
  completed+="citadel_md_scrub_last_completed_timestamp_seconds{device=\"$dev\"} $(date +%s)"$'\n'
done

mkdir -p "$(dirname "$out")"
tmp=$(mktemp "${out}.XXXXXX")
trap 'rm -f "$tmp"' EXIT
{
  printf '# HELP citadel_md_scrub_mismatch_sectors Sectors the last completed check of an md array found inconsistent (mismatch_cnt).\n'
  printf '# TYPE citadel_md_scrub_mismatch_sectors gauge\n'
  printf '%s' "$mismatches" | grep -v '^$' || true
  printf '# HELP citadel_md_scrub_last_completed_timestamp_seconds When the last check of an md array finished.\n'
  printf '# TYPE citadel_md_scrub_last_completed_timestamp_seconds gauge\n'
  printf '%s' "$completed" | grep -v '^$' || true
} >"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
