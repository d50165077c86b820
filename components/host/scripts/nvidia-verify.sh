#!/usr/bin/env bash
# Read-only: nvidia-smi must see the configured number of GPUs on the expected driver branch.
set -euo pipefail
: "${GPU_COUNT:?}" "${DRIVER_BRANCH:?}" "${HOST_NAME:?}"
command -v nvidia-smi >/dev/null || die "nvidia-smi is missing; the driver step did not install nvidia-utils"
gpus=$(nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader) ||
  die "nvidia-smi failed; the driver is not loaded (a reboot may be pending)"
say "$gpus"
count=$(printf '%s\n' "$gpus" | grep -c .)
[ "$count" -eq "$GPU_COUNT" ] ||
  die "nvidia-smi sees $count GPUs but hosts.${HOST_NAME}.nvidia.gpus.count is $GPU_COUNT; check the cards and risers, or fix the count"
driver=$(printf '%s\n' "$gpus" | awk -F', ' 'NR == 1 { print $3 }')
[ "${driver%%.*}" = "$DRIVER_BRANCH" ] ||
  die "the loaded driver is $driver but hosts.${HOST_NAME}.nvidia.driver.branch is $DRIVER_BRANCH; a reboot may be pending"
say "verified $count GPUs on driver $driver"
report "NVIDIA verification"
