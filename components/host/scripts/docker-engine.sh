#!/usr/bin/env bash
# Installs Docker Engine at one pinned version from Docker's apt repository, holds it, and puts
# the admin user in the docker group.
set -euo pipefail
: "${DOCKER_VERSION:?}" "${ADMIN_USER:?}" "${HOST_NAME:?}"
keyring="${ROOT}/etc/apt/keyrings/docker.asc"
sources="${ROOT}/etc/apt/sources.list.d/docker.list"

ensure_packages ca-certificates curl gnupg jq
if [ ! -s "$keyring" ]; then
  mkdir -p "$(dirname "$keyring")"
  curl -fsSL https://download.docker.com/linux/ubuntu/gpg -o "$keyring" ||
    die "could not download Docker's apt key from https://download.docker.com/linux/ubuntu/gpg; check that this host reaches download.docker.com"
  chmod 0644 "$keyring"
  changed "added Docker's apt key"
fi
codename=$(sed -n 's/^VERSION_CODENAME=//p' "${ROOT}/etc/os-release" | tr -d '"')
arch=$(dpkg --print-architecture)
if printf 'deb [arch=%s signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu %s stable\n' \
  "$arch" "$codename" | write_file "$sources" 0644; then
  changed "added Docker's apt repository for $codename"
fi

installed=$(pkg_version docker-ce)
case "$installed" in
  "5:${DOCKER_VERSION}-"*) ;;
  *)
    apt_get update
    version=$(apt-cache madison docker-ce | awk -v v="5:${DOCKER_VERSION}-" 'index($3, v) == 1 && !found++ { print $3 }')
    [ -n "$version" ] ||
      die "Docker $DOCKER_VERSION is not in Docker's repository for $codename; list versions with 'apt-cache madison docker-ce' and set hosts.${HOST_NAME}.docker.version"
    apt_get install --no-install-recommends --allow-downgrades --allow-change-held-packages \
      "docker-ce=$version" "docker-ce-cli=$version" containerd.io docker-buildx-plugin
    changed "installed docker-ce $version (was ${installed:-absent})"
    ;;
esac
hold_packages docker-ce docker-ce-cli
ensure_service docker true

groups=$(id -nG "$ADMIN_USER") ||
  die "user $ADMIN_USER does not exist on this host; check hosts.${HOST_NAME}.ssh.user"
if ! printf '%s\n' "$groups" | tr ' ' '\n' | grep -qx docker; then
  usermod -aG docker "$ADMIN_USER"
  changed "added $ADMIN_USER to the docker group"
fi
report "Docker Engine $DOCKER_VERSION"
