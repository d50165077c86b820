#!/usr/bin/env bash
# Writes one secret (read from stdin by the script header) to a root-held file the service reads,
# readable only by the service's UID, and tells the running service about a change.
set -euo pipefail
: "${SECRET:?}" "${SECRET_PATH:?}" "${OWNER_UID:?}" "${CONTAINER:?}" "${ON_CHANGE:?}"
# A service behind basic auth is reloaded with the host's login (a root-only netrc), once it is
# written; before that the running service is one from before its auth and needs none.
NETRC="${NETRC:-}"
login=()
if [ -n "$NETRC" ] && [ -r "${ROOT}${NETRC}" ]; then login=(--netrc-file "${ROOT}${NETRC}"); fi
path="${ROOT}${SECRET_PATH}"
if printf '%s' "$SECRET" | write_file "$path" 0400; then
  chown "$OWNER_UID" "$path"
  changed "wrote $SECRET_PATH"
  running=$(docker inspect -f '{{.State.Running}}' "$CONTAINER" 2>/dev/null || echo false)
  if [ "$running" = true ]; then
    case "$ON_CHANGE" in
      grafana-admin-password)
        # GF_SECURITY_ADMIN_PASSWORD__FILE only applies when Grafana creates its database.
        printf '%s\n' "$SECRET" | docker exec -i "$CONTAINER" grafana cli --homepath /usr/share/grafana admin reset-admin-password --password-from-stdin >/dev/null
        changed "reset Grafana's admin password" ;;
      http:*)
        curl -fsS "${login[@]}" -X POST "${ON_CHANGE#http:}" >/dev/null
        changed "reloaded $CONTAINER" ;;
      none) ;;
      *) die "unknown ON_CHANGE $ON_CHANGE" ;;
    esac
  fi
fi
report "secret $SECRET_PATH"
