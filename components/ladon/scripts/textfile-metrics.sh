#!/usr/bin/env bash
# Runs from a systemd timer on every host: writes LVM volume group and physical volume sizes,
# and on the stack host the size of each service's data and of its volume, as node-exporter
# textfile metrics. The file is replaced atomically, so a scrape never sees half of it.
set -euo pipefail
: "${TEXTFILE_DIR:?}"
DATA_DIR="${DATA_DIR:-}"
ROOT="${CITADEL_ROOT:-}"
out="${ROOT}${TEXTFILE_DIR}/citadel.prom"
mkdir -p "$(dirname "$out")"
tmp=$(mktemp "${out}.XXXXXX")
trap 'rm -f "$tmp"' EXIT

{
  if command -v vgs >/dev/null 2>&1; then
    # Each family's samples follow its own HELP and TYPE: node_exporter's textfile collector
    # (expfmt's text parser) rejects a family whose samples come after another family's header.
    vg=$(vgs --noheadings --units b --nosuffix --separator '|' -o vg_name,vg_size,vg_free)
    pv=$(pvs --noheadings --units b --nosuffix --separator '|' -o pv_name,vg_name,pv_size,pv_free)
    printf '# HELP citadel_lvm_vg_size_bytes Size of an LVM volume group.\n# TYPE citadel_lvm_vg_size_bytes gauge\n'
    printf '%s\n' "$vg" | awk -F'|' 'NF { gsub(/ /, "", $1); printf "citadel_lvm_vg_size_bytes{vg=\"%s\"} %s\n", $1, $2 }'
    printf '# HELP citadel_lvm_vg_free_bytes Unallocated space of an LVM volume group.\n# TYPE citadel_lvm_vg_free_bytes gauge\n'
    printf '%s\n' "$vg" | awk -F'|' 'NF { gsub(/ /, "", $1); printf "citadel_lvm_vg_free_bytes{vg=\"%s\"} %s\n", $1, $3 }'
    printf '# HELP citadel_lvm_pv_size_bytes Size of an LVM physical volume.\n# TYPE citadel_lvm_pv_size_bytes gauge\n'
    printf '%s\n' "$pv" | awk -F'|' 'NF { gsub(/ /, "", $1); gsub(/ /, "", $2); printf "citadel_lvm_pv_size_bytes{pv=\"%s\",vg=\"%s\"} %s\n", $1, $2, $3 }'
    printf '# HELP citadel_lvm_pv_free_bytes Unallocated space of an LVM physical volume.\n# TYPE citadel_lvm_pv_free_bytes gauge\n'
    printf '%s\n' "$pv" | awk -F'|' 'NF { gsub(/ /, "", $1); gsub(/ /, "", $2); printf "citadel_lvm_pv_free_bytes{pv=\"%s\",vg=\"%s\"} %s\n", $1, $2, $4 }'
  fi
  if [ -n "$DATA_DIR" ] && [ -d "${ROOT}${DATA_DIR}" ]; then
    printf '# HELP citadel_data_dir_bytes Bytes used by a LadonStack service'"'"'s data.\n# TYPE citadel_data_dir_bytes gauge\n'
    for dir in "${ROOT}${DATA_DIR}"/*/; do
      service=$(basename "$dir")
      printf 'citadel_data_dir_bytes{service="%s"} %s\n' "$service" "$(du -sb "$dir" | awk '{ print $1 }')"
    done
    # The retention plan, read live: Prometheus's size limit from prometheus.yml (storage: tsdb:
    # retention: size:), Loki's from its runtime config times the expected daily volume. A change
    # to either needs nothing here.
    printf '# HELP citadel_retention_limit_bytes Bytes a service'"'"'s retention is planned to use.\n# TYPE citadel_retention_limit_bytes gauge\n'
    size=$(awk '/^ *retention:/ { r = 1; next } r && /^ *size: *[0-9]+[KMGT]?B$/ { print $2; exit }' "${ROOT}${PROMETHEUS_CONFIG:-/nonexistent}" 2>/dev/null || true)
    if [ -n "$size" ]; then
      printf 'citadel_retention_limit_bytes{service="prometheus"} %s\n' "$(awk -v s="$size" 'BEGIN {
        n = s + 0; u = substr(s, length(n "") + 1)
        f = (u == "KB") ? 1024 : (u == "MB") ? 1024^2 : (u == "GB") ? 1024^3 : (u == "TB") ? 1024^4 : 1
        printf "%.0f", n * f }')"
    fi
    hours=$(sed -n 's/^ *retention_period: *\([0-9]*\)h$/\1/p' "${ROOT}${LOKI_RUNTIME_CONFIG:-/nonexistent}" 2>/dev/null | awk 'NR == 1' || true)
    if [ -n "$hours" ] && [ -n "${LOKI_DAILY_BYTES:-}" ]; then
      printf 'citadel_retention_limit_bytes{service="loki"} %s\n' "$(awk -v h="$hours" -v d="$LOKI_DAILY_BYTES" 'BEGIN { printf "%.0f", h * d / 24 }')"
    fi
    df -B1 --output=size,avail "${ROOT}${DATA_DIR}" | awk 'NR == 2 {
      printf "# HELP citadel_data_volume_size_bytes Size of the volume under the LadonStack data.\n# TYPE citadel_data_volume_size_bytes gauge\ncitadel_data_volume_size_bytes %s\n", $1
      printf "# HELP citadel_data_volume_free_bytes Free space on the volume under the LadonStack data.\n# TYPE citadel_data_volume_free_bytes gauge\ncitadel_data_volume_free_bytes %s\n", $2 }'
  fi
  printf '# HELP citadel_textfile_last_run_timestamp_seconds When this collector last ran.\n# TYPE citadel_textfile_last_run_timestamp_seconds gauge\n'
  printf 'citadel_textfile_last_run_timestamp_seconds %s\n' "$(date +%s)"
} >"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
