#!/usr/bin/env bash
# The e2e tier's machine image: a Debian bookworm root made with debootstrap from Debian's archive,
# with every package the lab's steps need installed in a chroot on the build machine (never in the
# emulated guest), the NVIDIA driver and toolkit and Docker's package names served by stand-in
# packages from a local mirror inside the image, and the result written as a raw ext4 image plus
# the kernel and initrd for direct boot.
#
#   image.sh CACHE_DIR REPO_DIR     prints the image directory on its last line
# with E2E_USER, E2E_DRIVER_PACKAGES, E2E_DRIVER_VERSION, E2E_TOOLKIT_VERSION set (guest/layout.sh).
#
# Two layers, each cached under CACHE_DIR and keyed by a hash of what makes it:
#   base-<key>.tar   debootstrap + apt-get in the chroot (key: packages.txt and the base recipe)
#   image-<key>/     the bootable image (key: the base key, this script and the shims)
# Each layer is built under a .partial name and renamed into place, so a killed build leaves
# nothing that a later run would take for finished.
set -euo pipefail
CACHE="${1:?usage: image.sh CACHE_DIR REPO_DIR}"
REPO="${2:?usage: image.sh CACHE_DIR REPO_DIR}"
HERE="$REPO/tests/tiers/e2e"
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
ROOT_SIZE=8G

need() { command -v "$1" >/dev/null || { echo "error: $1 is missing; install it with: apt-get install -y $2" >&2; exit 1; }; }
need debootstrap debootstrap
need mkfs.ext4 e2fsprogs
need dpkg-deb dpkg
need dpkg-scanpackages dpkg-dev
need gpg gnupg
need openssl openssl
need ssh-keygen openssh-client
need unshare util-linux
[ "$(id -u)" = 0 ] || { echo "error: the image build needs root (debootstrap, chroot)" >&2; exit 1; }
mkdir -p "$CACHE"

base_packages=$(sed -n 's/^base: //p' "$HERE/packages.txt")
step_packages=$(sed -n 's/^steps: //p' "$HERE/packages.txt")
base_recipe=$(sed -n '/^# BASE RECIPE START/,/^# BASE RECIPE END/p' "$0")
base_key=$(printf '%s\n%s\n%s\n%s\n%s\n' "$SUITE" "$MIRROR" "$base_packages" "$step_packages" "$base_recipe" |
  sha256sum | cut -c1-16)
: "${E2E_USER:?}" "${E2E_DRIVER_PACKAGES:?}" "${E2E_DRIVER_VERSION:?}" "${E2E_TOOLKIT_VERSION:?}"
image_key=$(cat <(printf '%s\n' "$base_key" "$E2E_USER" "$E2E_DRIVER_PACKAGES" "$E2E_DRIVER_VERSION" "$E2E_TOOLKIT_VERSION") "$0" "$REPO/tests/support/shims/shim" "$HERE/guest"/* | sha256sum | cut -c1-16)
image="$CACHE/image-$image_key"
base="$CACHE/base-$base_key.tar"

# Runs a command chrooted into $1 with /proc, /sys and /dev mounted in a private mount namespace,
# so nothing stays mounted on the build machine when it ends (also when it is killed).
in_chroot() {
  local root="$1"
  shift
  # shellcheck disable=SC2016 # expanded by the inner shell
  unshare -m --propagation private bash -c '
    set -euo pipefail
    r="$1"; shift
    mount -t proc proc "$r/proc"
    mount -t sysfs sys "$r/sys"
    mount --rbind /dev "$r/dev"
    exec chroot "$r" "$@"' in-chroot "$root" "$@"
}

if [ -d "$image" ]; then
  # Its mtime marks its last use: the pruning below keeps the most recently used layers.
  touch "$image"
  echo "image: cached $image"
  echo "$image"
  exit 0
fi

t0=$(date +%s)
# BASE RECIPE START
if [ ! -f "$base" ]; then
  echo "image: building the base layer (debootstrap $SUITE minbase + chroot installs); several minutes"
  work=$(mktemp -d "$CACHE/base.partial.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  debootstrap --variant=minbase --include="${base_packages// /,}" "$SUITE" "$work/root" "$MIRROR" \
    >"$work/debootstrap.log" 2>&1 || { tail -30 "$work/debootstrap.log" >&2; exit 1; }
  # Nothing starts services inside the chroot. docker.io's dependencies stay installed, docker.io
  # itself only as a .deb: the mirror serves it as docker-ce, and the Docker step installs it.
  printf '#!/bin/sh\nexit 101\n' >"$work/root/usr/sbin/policy-rc.d"
  chmod 0755 "$work/root/usr/sbin/policy-rc.d"
  # shellcheck disable=SC2086 # a word list
  in_chroot "$work/root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C bash -c \
    "apt-get update -q && apt-get install -y -q --no-install-recommends $step_packages &&
     mkdir -p /var/cache/e2e-debs && cd /var/cache/e2e-debs && apt-get download -q docker.io &&
     dpkg --purge docker.io && apt-get clean" \
    >"$work/apt.log" 2>&1 || { tail -30 "$work/apt.log" >&2; exit 1; }
  rm -f "$work/root/usr/sbin/policy-rc.d"
  tar -C "$work/root" --numeric-owner -cf "$work/base.tar" .
  mv "$work/base.tar" "$base"
  rm -rf "$work"
  trap - EXIT
  echo "image: base layer built in $(($(date +%s) - t0)) s"
fi
# BASE RECIPE END

echo "image: building the bootable image from $(basename "$base")"
work=$(mktemp -d "$CACHE/image.partial.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"
tar -C "$root" --numeric-owner -xf "$base"
bash "$HERE/guest/layout.sh" "$root" "$REPO" "$work"
out="$work/out"
mkdir -p "$out"
cp "$root"/boot/vmlinuz-* "$out/vmlinuz"
cp "$root"/boot/initrd.img-* "$out/initrd.img"
cp "$work/keys/"* "$out/"
mkfs.ext4 -q -F -L e2e-root -d "$root" "$out/root.img" "$ROOT_SIZE"
mv "$out" "$image"
rm -rf "$work"
trap - EXIT
# Keep the two most recently used keys of each layer, so two branches do not rebuild each other's.
touch "$image" "$base"
bash "$HERE/prune-cache.sh" "$CACHE" 2 'image-*' 'base-*.tar'
echo "image: built in $(($(date +%s) - t0)) s"
echo "$image"
