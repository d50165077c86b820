#!/usr/bin/env bash
# Installs a script and its systemd service and timer, and enables the timer. systemd is only
# reloaded when a unit file changed: a daemon-reload can drop GPUs from running containers.
# REPLACES names units (e.g. a distribution's own timer for the same job) that are disabled and
# stopped, so the job runs once, on this timer's schedule.
set -euo pipefail
: "${NAME:?}" "${SCRIPT_PATH:?}" "${SCRIPT:?}" "${SERVICE_UNIT:?}" "${TIMER_UNIT:?}"
REPLACES="${REPLACES:-}"
units="${ROOT}/etc/systemd/system"
# Written exactly as rendered (the renderers end every file in its newline; out/files shows the
# same bytes), so `printf '%s'`, never '%s\n', which would add a second one.
if printf '%s' "$SCRIPT" | write_file "${ROOT}${SCRIPT_PATH}" 0755; then changed "installed $SCRIPT_PATH"; fi
reload=false
if printf '%s' "$SERVICE_UNIT" | write_file "$units/$NAME.service" 0644; then changed "wrote $NAME.service"; reload=true; fi
if printf '%s' "$TIMER_UNIT" | write_file "$units/$NAME.timer" 0644; then changed "wrote $NAME.timer"; reload=true; fi
if [ "$reload" = true ]; then systemctl daemon-reload; fi
ensure_service "$NAME.timer" true
for unit in $REPLACES; do
  if systemctl is-enabled --quiet "$unit"; then
    systemctl disable --now "$unit" >/dev/null 2>&1
    changed "disabled $unit, replaced by $NAME.timer"
  fi
done
report "timer $NAME"
