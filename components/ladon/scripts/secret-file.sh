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
# Set when the secret changes under a running container and cleared once it has applied it, so a
# failed password reset or reload is redone by the next run (the file is already written then).
pending="${ROOT}/var/lib/citadel/${CONTAINER}-$(basename "$SECRET_PATH").apply-pending"
if printf '%s' "$SECRET" | write_file "$path" 0400; then
  chown "$OWNER_UID" "$path"
  changed "wrote $SECRET_PATH"
  mkdir -p "$(dirname "$pending")"
  touch "$pending"
fi
if [ -f "$pending" ]; then
  running=$(docker inspect -f '{{.State.Running}}' "$CONTAINER" 2>/dev/null || echo false)
  if [ "$running" = true ]; then
    case "$ON_CHANGE" in
      grafana-admin-password)
        # GF_SECURITY_ADMIN_PASSWORD__FILE only applies when Grafana creates its database.
        printf '%s\n' "$SECRET" | docker exec -i "$CONTAINER" grafana cli --homepath /usr/share/grafana admin reset-admin-password --password-from-stdin >/dev/null ||
          die "could not reset Grafana's admin password in $CONTAINER (its error above); the next run tries again"
        changed "reset Grafana's admin password" ;;
      http:*)
        curl -fsS "${login[@]}" -X POST "${ON_CHANGE#http:}" >/dev/null ||
          die "could not reload $CONTAINER at ${ON_CHANGE#http:} (curl's error above); the next run tries again"
        changed "reloaded $CONTAINER" ;;
      none) ;;
      *) die "unknown ON_CHANGE $ON_CHANGE" ;;
    esac
  fi
  # Only a running container is told, as before; one that is not running reads the file when it
  # starts.
  rm -f "$pending"
fi
report "secret $SECRET_PATH"
