#!/usr/bin/env bash
# Installs the pinned NVIDIA driver branch from Ubuntu's archive, holds it, and sets persistence.
# The kernel module loads at the next boot; the reboot step decides whether that is needed.
set -euo pipefail
: "${DRIVER_BRANCH:?}" "${DRIVER_FLAVOR:?}" "${HEADLESS:?}" "${PERSISTENCE:?}"
suffix=""
[ "$DRIVER_FLAVOR" = server ] && suffix="-server"
if [ "$HEADLESS" = true ]; then
  packages=("nvidia-headless-${DRIVER_BRANCH}${suffix}" "nvidia-utils-${DRIVER_BRANCH}${suffix}")
else
  packages=("nvidia-driver-${DRIVER_BRANCH}${suffix}")
fi

missing=()
for p in "${packages[@]}"; do [ -n "$(pkg_version "$p")" ] || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  apt_get update
  candidate=$(apt-cache policy "${missing[0]}" | awk '/Candidate:/ { print $2 }')
  if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
    die "${missing[0]} is not in this host's apt sources; check nvidia.driver.branch ($DRIVER_BRANCH) and flavor"
  fi
  apt_get install --no-install-recommends "${missing[@]}"
  changed "installed ${missing[*]}"
fi
hold_packages "${packages[@]}"

if [ "$PERSISTENCE" = true ]; then
  # Start it only once the module is loaded; before the first reboot it has nothing to hold.
  loaded=false
  [ -e "${ROOT}/proc/driver/nvidia/version" ] && loaded=true
  ensure_service nvidia-persistenced "$loaded"
elif systemctl is-enabled --quiet nvidia-persistenced; then
  systemctl disable --now nvidia-persistenced >/dev/null 2>&1
  changed "disabled nvidia-persistenced"
fi
report "NVIDIA driver ${DRIVER_BRANCH}${suffix}"
