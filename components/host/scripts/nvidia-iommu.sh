#!/usr/bin/env bash
# Adds the IOMMU kernel arguments through a grub.d drop-in and regenerates grub.cfg when it changed.
# They take effect at the next boot; the reboot step compares them with /proc/cmdline.
set -euo pipefail
KERNEL_ARGS="${KERNEL_ARGS:-}"
dropin="${ROOT}/etc/default/grub.d/60-citadel-iommu.cfg"
if [ -z "$KERNEL_ARGS" ]; then
  if [ -f "$dropin" ]; then rm -f "$dropin"; update-grub; changed "removed $dropin"; fi
else
  # shellcheck disable=SC2016 # GRUB expands its own variable when it sources the drop-in
  if printf '# Managed by citadel (Pulumi): IOMMU kernel arguments.\nGRUB_CMDLINE_LINUX_DEFAULT="${GRUB_CMDLINE_LINUX_DEFAULT} %s"\n' \
    "$KERNEL_ARGS" | write_file "$dropin" 0644; then
    update-grub
    changed "kernel arguments $KERNEL_ARGS in $dropin"
  fi
fi
report "IOMMU kernel arguments"
