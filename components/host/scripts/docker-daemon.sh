#!/usr/bin/env bash
# Merges citadel's keys into /etc/docker/daemon.json (nvidia-ctk owns the runtime entry it adds)
# and restarts Docker only when the merged file changed. live-restore keeps containers running
# through the restart.
set -euo pipefail
: "${DAEMON_JSON:?}" "${DATA_ROOT:?}" "${MOUNTS_DROP_IN:?}" "${MOUNTS_DROP_IN_PATH:?}"
daemon_json="${ROOT}/etc/docker/daemon.json"
current='{}'
[ -s "$daemon_json" ] && current=$(cat "$daemon_json")
jq -e . >/dev/null 2>&1 <<<"$current" || die "$daemon_json is not valid JSON; fix or remove it by hand"
merged=$(jq -S -n --argjson a "$current" --argjson b "$DAEMON_JSON" '$a * $b')
# docker.service waits for the mounts under its data (RequiresMountsFor=): a nofail mount is not
# ordered before local-fs.target. It takes effect at the next start of Docker, so nothing restarts
# here; systemd is reloaded only when the drop-in changed (a daemon-reload can drop GPUs from
# running containers).
if printf '%s\n' "${MOUNTS_DROP_IN%$'\n'}" | write_file "${ROOT}${MOUNTS_DROP_IN_PATH}" 0644; then
  systemctl daemon-reload
  changed "ordered docker.service after the mounts of its data ($MOUNTS_DROP_IN_PATH)"
fi
if [ ! -d "${ROOT}${DATA_ROOT}" ]; then
  mkdir -p "${ROOT}${DATA_ROOT}"
  chmod 0711 "${ROOT}${DATA_ROOT}"
  changed "created data-root $DATA_ROOT"
fi
if [ "$(jq -S . <<<"$current")" != "$merged" ]; then
  printf '%s\n' "$merged" | write_file "$daemon_json" 0644 || true
  changed "updated $daemon_json"
  systemctl restart docker
  changed "restarted docker"
fi
report "Docker daemon configuration"
