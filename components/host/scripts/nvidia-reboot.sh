#!/usr/bin/env bash
# Reboots only when the driver or the kernel arguments need it, and only when config allows it.
# Prints the boot id it started from; the wait step then waits for a new one.
set -euo pipefail
: "${ALLOW_REBOOT:?}" "${HOST_NAME:?}"
KERNEL_ARGS="${KERNEL_ARGS:-}"
boot_id=$(cat "${ROOT}/proc/sys/kernel/random/boot_id")
cmdline=" $(cat "${ROOT}/proc/cmdline") "
reasons=()
nvidia-smi -L >/dev/null 2>&1 || reasons+=("the NVIDIA kernel module is not loaded")
for arg in $KERNEL_ARGS; do
  case "$cmdline" in *" $arg "*) ;; *) reasons+=("kernel argument $arg is not active") ;; esac
done

if [ "${#reasons[@]}" -eq 0 ]; then
  say "boot-id=$boot_id"
  say "reboot=none"
  report "reboot check"
  exit 0
fi
why=$(printf '%s; ' "${reasons[@]}")
[ "$ALLOW_REBOOT" = true ] ||
  die "a reboot is needed (${why%; }) but hosts.${HOST_NAME}.nvidia.allowReboot is false; reboot by hand (sudo systemctl reboot) or set it to true, then run pulumi up again"
systemd-run --on-active=5 --unit=citadel-reboot systemctl reboot >/dev/null
say "boot-id=$boot_id"
say "reboot=scheduled"
changed "rebooting in 5 s: ${why%; }"
report "reboot check"
