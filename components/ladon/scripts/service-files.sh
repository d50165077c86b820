#!/usr/bin/env bash
# Prepares one service's directories and config files, and applies a config change without
# replacing the container: an HTTP reload where the service has one, a restart otherwise.
set -euo pipefail
: "${CONTAINER:?}" "${OWNER_UID:?}" "${DATA_DIR:?}" "${FILES:?}" "${RELOAD:?}"
CONFIG_DIR="${CONFIG_DIR:-}"
data="${ROOT}${DATA_DIR}"
# Set when files change under a running container and cleared once it has applied them, so a
# reload or restart that failed is redone by the next run rather than lost.
pending="${ROOT}/var/lib/citadel/${CONTAINER}.apply-pending"
if [ ! -d "$data" ]; then
  mkdir -p "$data"
  changed "created $DATA_DIR"
fi
if [ "$(stat -c %u "$data")" != "$OWNER_UID" ]; then
  chown -R "$OWNER_UID" "$data"
  changed "gave $DATA_DIR to uid $OWNER_UID"
fi

files_changed=0
while IFS= read -r name; do
  [ -n "$name" ] || continue
  case "$name" in /* | *..*) die "refusing the file name $name" ;; esac
  if jq -j --arg k "$name" '.[$k]' <<<"$FILES" | write_file "${ROOT}${CONFIG_DIR}/$name" 0644; then
    files_changed=$((files_changed + 1))
    changed "wrote $CONFIG_DIR/$name"
  fi
done < <(jq -r 'keys[]' <<<"$FILES")

# A service behind basic auth is reloaded with the host's login (a root-only netrc), once it is
# written; before that the running service is one from before its auth and needs none.
NETRC="${NETRC:-}"
login=()
if [ -n "$NETRC" ] && [ -r "${ROOT}${NETRC}" ]; then login=(--netrc-file "${ROOT}${NETRC}"); fi
running=$(docker inspect -f '{{.State.Running}}' "$CONTAINER" 2>/dev/null || echo false)
if [ "$running" = true ] && { [ "$files_changed" -gt 0 ] || [ -f "$pending" ]; }; then
  mkdir -p "$(dirname "$pending")"
  touch "$pending"
  case "$RELOAD" in
    http:*)
      curl -fsS "${login[@]}" -X POST "${RELOAD#http:}" >/dev/null ||
        die "could not reload $CONTAINER at ${RELOAD#http:} (curl's error above); its files are written and it still runs the old ones; the next run reloads it again"
      changed "reloaded $CONTAINER (${RELOAD#http:})" ;;
    restart)
      docker restart "$CONTAINER" >/dev/null
      changed "restarted $CONTAINER" ;;
    none) ;;
    *) die "unknown reload mode $RELOAD" ;;
  esac
  rm -f "$pending"
fi
report "$CONTAINER files"
