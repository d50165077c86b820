#!/usr/bin/env bash
# Installs nvidia-container-toolkit at one pinned version from NVIDIA's apt repository and lets
# nvidia-ctk add the nvidia runtime to Docker's daemon.json. The Docker step merges its own keys
# into the same file, so the two never fight over it.
set -euo pipefail
: "${TOOLKIT_VERSION:?}"
keyring="${ROOT}/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
sources="${ROOT}/etc/apt/sources.list.d/nvidia-container-toolkit.list"
daemon_json="${ROOT}/etc/docker/daemon.json"

ensure_packages ca-certificates curl gnupg jq
if [ ! -s "$keyring" ]; then
  mkdir -p "$(dirname "$keyring")"
  key=$(curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey) ||
    die "could not download NVIDIA's apt key from https://nvidia.github.io/libnvidia-container/gpgkey; check that this host reaches nvidia.github.io"
  printf '%s\n' "$key" | gpg --batch --yes --dearmor -o "$keyring"
  changed "added NVIDIA's apt key"
fi
# $(ARCH) is expanded by apt, not by the shell.
# shellcheck disable=SC2016
if printf 'deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] %s /\n' \
  'https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH)' | write_file "$sources" 0644; then
  changed "added NVIDIA's container toolkit repository"
fi

packages=(nvidia-container-toolkit nvidia-container-toolkit-base libnvidia-container-tools libnvidia-container1)
pinned=()
for p in "${packages[@]}"; do [ "$(pkg_version "$p")" = "$TOOLKIT_VERSION" ] || pinned+=("$p=$TOOLKIT_VERSION"); done
if [ "${#pinned[@]}" -gt 0 ]; then
  apt_get update
  apt_get install --no-install-recommends --allow-downgrades --allow-change-held-packages "${pinned[@]}"
  changed "installed ${pinned[*]}"
fi
hold_packages "${packages[@]}"

if ! { [ -f "$daemon_json" ] && jq -e '.runtimes.nvidia' "$daemon_json" >/dev/null 2>&1; }; then
  mkdir -p "$(dirname "$daemon_json")"
  nvidia-ctk runtime configure --runtime=docker --config="$daemon_json"
  changed "nvidia-ctk added the nvidia runtime to $daemon_json"
  if systemctl is-active --quiet docker; then systemctl restart docker; changed "restarted docker"; fi
fi
report "NVIDIA container toolkit $TOOLKIT_VERSION"
