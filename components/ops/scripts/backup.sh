#!/usr/bin/env bash
# Started by systemd timers. MODE=backup backs up the LadonStack's data (Prometheus through a TSDB
# snapshot, not its live files), the services' /etc and the disk layout to restic; MODE=prune
# applies the keep policy; MODE=check verifies the repository. Every backup writes its result as
# node-exporter textfile metrics, replaced atomically.
set -euo pipefail
: "${MODE:?}" "${RESTIC_REPOSITORY:?}" "${RESTIC_PASSWORD_FILE:?}"
ROOT="${CITADEL_ROOT:-}"
export RESTIC_REPOSITORY RESTIC_PASSWORD_FILE
export RESTIC_CACHE_DIR="${RESTIC_CACHE_DIR:-/var/cache/citadel-restic}"

log() { printf 'citadel-backup: %s\n' "$*"; }

case "$MODE" in
  prune)
    : "${KEEP_DAILY:?}" "${KEEP_WEEKLY:?}" "${KEEP_MONTHLY:?}"
    restic forget --prune --keep-daily "$KEEP_DAILY" --keep-weekly "$KEEP_WEEKLY" --keep-monthly "$KEEP_MONTHLY"
    exit 0
    ;;
  check)
    restic check
    exit 0
    ;;
  backup) ;;
  *) printf 'citadel-backup: unknown MODE %s\n' "$MODE" >&2; exit 2 ;;
esac

: "${PATHS:?}" "${TEXTFILE_DIR:?}" "${LAYOUT_DIR:?}"
PROMETHEUS_DATA="${PROMETHEUS_DATA:-}"
PROMETHEUS_URL="${PROMETHEUS_URL:-}"
# Prometheus answers only with basic auth: the login is in a root-only netrc, never in the command.
PROMETHEUS_NETRC="${PROMETHEUS_NETRC:-}"
SQLITE_DBS="${SQLITE_DBS:-}"
start=$(date +%s)

if ! restic cat config >/dev/null 2>&1; then
  log "initialising the repository $RESTIC_REPOSITORY"
  restic init
fi

# The disk layout: LVM metadata and fstab, enough to rebuild the volumes before restoring data.
layout="${ROOT}${LAYOUT_DIR}"
mkdir -p "$layout"
if command -v vgcfgbackup >/dev/null 2>&1; then vgcfgbackup -f "$layout/lvm-%s.vg" >/dev/null; fi
if command -v lsblk >/dev/null 2>&1; then lsblk -o NAME,SIZE,TYPE,FSTYPE,LABEL,UUID,MOUNTPOINT >"$layout/lsblk.txt"; fi
cp "${ROOT}/etc/fstab" "$layout/fstab"

excludes=()
snapshot=""
if [ -n "$PROMETHEUS_DATA" ]; then
  # Live TSDB files change under a copy; a snapshot is a consistent set of hard links.
  login=()
  if [ -n "$PROMETHEUS_NETRC" ]; then login=(--netrc-file "${ROOT}${PROMETHEUS_NETRC}"); fi
  if [ -n "$PROMETHEUS_URL" ] && name=$(curl -fsS "${login[@]}" -X POST "$PROMETHEUS_URL/api/v1/admin/tsdb/snapshot" | jq -er '.data.name'); then
    snapshot="${ROOT}${PROMETHEUS_DATA}/snapshots/$name"
    log "Prometheus snapshot $name"
  else
    log "Prometheus did not take a snapshot; its data is skipped this time" >&2
  fi
  for entry in "${ROOT}${PROMETHEUS_DATA}"/*; do
    [ -e "$entry" ] || continue
    [ "$entry" = "${ROOT}${PROMETHEUS_DATA}/snapshots" ] && continue
    excludes+=(--exclude "$entry")
  done
  for other in "${ROOT}${PROMETHEUS_DATA}"/snapshots/*; do
    [ -e "$other" ] && [ "$other" != "$snapshot" ] && excludes+=(--exclude "$other")
  done
fi

# SQLite databases (Grafana, Phoenix) are copied with SQLite's online backup, which is
# consistent while the service writes; the live files are left out.
copies=()
for db in $SQLITE_DBS; do
  live="${ROOT}$db"
  [ -f "$live" ] || continue
  copy="$live.citadel-backup"
  sqlite3 "$live" ".backup '$copy'"
  copies+=("$copy")
  excludes+=(--exclude "$live" --exclude "$live-wal" --exclude "$live-shm" --exclude "$live-journal")
done

read -r -a paths <<<"$PATHS"
targets=()
for p in "${paths[@]}" "$LAYOUT_DIR"; do [ -e "${ROOT}$p" ] && targets+=("${ROOT}$p"); done
summary=$(restic backup --json --tag citadel "${excludes[@]}" "${targets[@]}" | jq -c 'select(.message_type == "summary")')
[ -z "$snapshot" ] || rm -rf "$snapshot"
for copy in "${copies[@]}"; do rm -f "$copy"; done

added=$(jq -r '.data_added' <<<"$summary")
count=$(restic snapshots --json | jq 'length')
end=$(date +%s)
out="${ROOT}${TEXTFILE_DIR}/citadel_backup.prom"
mkdir -p "$(dirname "$out")"
tmp=$(mktemp "${out}.XXXXXX")
cat >"$tmp" <<METRICS
# HELP citadel_backup_last_success_timestamp_seconds When the last backup finished successfully.
# TYPE citadel_backup_last_success_timestamp_seconds gauge
citadel_backup_last_success_timestamp_seconds $end
# HELP citadel_backup_duration_seconds How long the last backup took.
# TYPE citadel_backup_duration_seconds gauge
citadel_backup_duration_seconds $((end - start))
# HELP citadel_backup_bytes_added Bytes the last backup added to the repository.
# TYPE citadel_backup_bytes_added gauge
citadel_backup_bytes_added $added
# HELP citadel_backup_snapshots Snapshots in the repository.
# TYPE citadel_backup_snapshots gauge
citadel_backup_snapshots $count
METRICS
chmod 0644 "$tmp"
mv -f "$tmp" "$out"
log "snapshot $(jq -r '.snapshot_id' <<<"$summary"): $added bytes added, $count snapshots"
