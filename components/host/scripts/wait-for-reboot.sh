#!/usr/bin/env bash
# Runs on the machine running pulumi: after a scheduled reboot, waits until the host answers SSH
# with its pinned key and a new boot id. Does nothing when no reboot was scheduled.
set -euo pipefail
: "${REBOOT_OUTPUT?}" "${ADDRESS:?}" "${PORT:?}" "${SSH_USER:?}" "${HOST_KEY:?}" "${TIMEOUT_SECONDS:?}"
case "$REBOOT_OUTPUT" in *reboot=scheduled*) ;; *) report "wait for reboot (none scheduled)"; exit 0 ;; esac
previous=$(printf '%s\n' "$REBOOT_OUTPUT" | sed -n 's/^boot-id=//p')
known_hosts=$(mktemp)
trap 'rm -f "$known_hosts"' EXIT
if [ "$PORT" = 22 ]; then printf '%s %s\n' "$ADDRESS" "$HOST_KEY"; else printf '[%s]:%s %s\n' "$ADDRESS" "$PORT" "$HOST_KEY"; fi >"$known_hosts"
deadline=$(($(date +%s) + TIMEOUT_SECONDS))
while [ "$(date +%s)" -lt "$deadline" ]; do
  current=$(ssh -o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$known_hosts" \
    -p "$PORT" "$SSH_USER@$ADDRESS" cat /proc/sys/kernel/random/boot_id 2>/dev/null || true)
  if [ -n "$current" ] && [ "$current" != "$previous" ]; then
    say "$ADDRESS is back with boot id $current"
    report "wait for reboot"
    exit 0
  fi
  sleep "${POLL_SECONDS:-10}"
done
die "$ADDRESS did not come back within $TIMEOUT_SECONDS s after the reboot; check its console"
