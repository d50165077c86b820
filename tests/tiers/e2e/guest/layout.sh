#!/usr/bin/env bash
# Lays out the e2e guest on top of the base layer's tree (called by image.sh):
#   - the admin user with passwordless sudo and an e2e client key; a pinned ed25519 host key;
#   - e2e-boot.service, which takes the address, route, hostname and simulated GPU count from the
#     kernel command line (so one image serves every VM and run);
#   - stand-in packages (NVIDIA driver and toolkit from tests/support/shims/shim; Docker's package
#     names depending on Debian's docker.io) in a local mirror: Docker's and NVIDIA's repositories
#     over HTTPS under their own host names (resolved to the guest itself, with a certificate from
#     an e2e CA), the driver in a local "archive" repository; all signed with an e2e key;
#   - update-grub as a stand-in for the boot loader: it writes the kernel arguments that
#     /etc/default/grub(.d) asks for to the small "bootcfg" disk, which the VM runner reads when
#     the guest reboots, as firmware reads grub.cfg.
#
#   layout.sh ROOT REPO WORK
# Parameters from the environment (derived by tests/tiers/e2e from the program's registered steps):
#   E2E_USER, E2E_DRIVER_PACKAGES, E2E_DRIVER_VERSION, E2E_TOOLKIT_VERSION
set -euo pipefail
root="${1:?}"
repo="${2:?}"
work="${3:?}"
: "${E2E_USER:?}" "${E2E_DRIVER_PACKAGES:?}" "${E2E_DRIVER_VERSION:?}" "${E2E_TOOLKIT_VERSION:?}"
here="$repo/tests/tiers/e2e/guest"
keys="$work/keys"
mkdir -p "$keys"

# --- identity: admin user, sudo, ssh keys -------------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -C e2e-client -f "$keys/client_ed25519"
rm -f "$root"/etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -C e2e-host -f "$root/etc/ssh/ssh_host_ed25519_key"
cp "$root/etc/ssh/ssh_host_ed25519_key.pub" "$keys/host_ed25519.pub"
# A second host key that no guest holds: the "wrong host key" fault pins it.
ssh-keygen -q -t ed25519 -N '' -C e2e-wrong -f "$keys/wrong_host_ed25519"
rm -f "$keys/wrong_host_ed25519"
cat >"$root/etc/ssh/sshd_config.d/e2e.conf" <<'EOF'
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
EOF
chroot "$root" useradd -m -s /bin/bash -G sudo "$E2E_USER"
install -d -m 0700 -o 1000 -g 1000 "$root/home/$E2E_USER/.ssh"
install -m 0600 -o 1000 -g 1000 "$keys/client_ed25519.pub" "$root/home/$E2E_USER/.ssh/authorized_keys"
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$E2E_USER" >"$root/etc/sudoers.d/e2e"
chmod 0440 "$root/etc/sudoers.d/e2e"
: >"$root/etc/machine-id"
printf 'e2e\n' >"$root/etc/hostname"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$root/etc/fstab"

# --- boot: address, route, hostname, simulated GPUs from the kernel command line -----------------
install -m 0755 "$here/e2e-boot" "$root/usr/local/sbin/e2e-boot"
install -m 0644 "$here/e2e-boot.service" "$root/etc/systemd/system/e2e-boot.service"
ln -sf /etc/systemd/system/e2e-boot.service "$root/etc/systemd/system/multi-user.target.wants/e2e-boot.service"
install -m 0755 "$here/update-grub" "$root/usr/sbin/update-grub"
# Docker is installed but off, as on a host where the Docker step has not run yet.
for unit in docker.service docker.socket containerd.service; do
  find "$root/etc/systemd/system" -name "$unit" -type l -delete
done

# --- stand-in packages --------------------------------------------------------------------------
debs="$work/debs"
mkdir -p "$debs"
# deb NAME VERSION DEPENDS DIR [DESCRIPTION]: builds NAME_VERSION from DIR (may be empty).
deb() {
  local name="$1" version="$2" depends="$3" dir="$4" desc="${5:-citadel e2e stand-in}"
  mkdir -p "$dir/DEBIAN"
  {
    printf 'Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: citadel e2e <e2e@citadel.invalid>\n' "$name" "$version"
    [ -z "$depends" ] || printf 'Depends: %s\n' "$depends"
    printf 'Description: %s\n' "$desc"
  } >"$dir/DEBIAN/control"
  dpkg-deb --root-owner-group -Zgzip -b "$dir" "$debs/${name}_${version//:/%3a}_amd64.deb" >/dev/null
}
pkgroot() { local d="$work/pkg/$1"; rm -rf "$d"; mkdir -p "$d"; printf '%s' "$d"; }

# citadel-shim: the project's shim (tests/support/shims/shim) with its state under /var/lib.
d=$(pkgroot citadel-shim)
install -D -m 0755 "$repo/tests/support/shims/shim" "$d/usr/lib/citadel-shim/shim"
for tool in nvidia-smi nvidia-ctk; do
  ln -s shim "$d/usr/lib/citadel-shim/$tool"
done
deb citadel-shim 1.0 "bash, jq" "$d" "tests/support/shims/shim packaged for the e2e guest"
# shim_tool DIR TOOL: /usr/bin/TOOL runs the shim as TOOL with the guest's shim state.
shim_tool() {
  install -d "$1/usr/bin"
  printf '#!/bin/sh\n# citadel e2e stand-in: %s from tests/support/shims/shim\nSHIM_STATE=/var/lib/citadel-shim exec /usr/lib/citadel-shim/%s "$@"\n' \
    "$2" "$2" >"$1/usr/bin/$2"
  chmod 0755 "$1/usr/bin/$2"
}

# The driver: nvidia-utils gives nvidia-smi; the headless package gives the "kernel module", which
# e2e-boot loads at the next boot (so a reboot is needed after the install, as with the real one),
# and nvidia-persistenced.
for p in $E2E_DRIVER_PACKAGES; do
  d=$(pkgroot "$p")
  case "$p" in
    nvidia-utils-*) shim_tool "$d" nvidia-smi; deb "$p" "$E2E_DRIVER_VERSION" citadel-shim "$d" ;;
    *)
      install -D -m 0644 "$here/nvidia-persistenced.service" "$d/lib/systemd/system/nvidia-persistenced.service"
      install -d "$d/usr/lib/citadel-shim"
      printf "%s\n" "${E2E_DRIVER_VERSION%%-*}" >"$d/usr/lib/citadel-shim/driver-version"
      deb "$p" "$E2E_DRIVER_VERSION" citadel-shim "$d" ;;
  esac
done
# The container toolkit: nvidia-ctk (base), the runtime name Docker is configured with.
d=$(pkgroot nvidia-container-toolkit-base)
shim_tool "$d" nvidia-ctk
ln -s runc "$d/usr/bin/nvidia-container-runtime"
deb nvidia-container-toolkit-base "$E2E_TOOLKIT_VERSION" "citadel-shim, runc" "$d"
deb libnvidia-container1 "$E2E_TOOLKIT_VERSION" "" "$(pkgroot libnvidia-container1)"
deb libnvidia-container-tools "$E2E_TOOLKIT_VERSION" "libnvidia-container1 (= $E2E_TOOLKIT_VERSION)" "$(pkgroot libnvidia-container-tools)"
deb nvidia-container-toolkit "$E2E_TOOLKIT_VERSION" \
  "nvidia-container-toolkit-base (= $E2E_TOOLKIT_VERSION), libnvidia-container-tools (= $E2E_TOOLKIT_VERSION)" \
  "$(pkgroot nvidia-container-toolkit)"
# Docker's package names in front of Debian's docker.io: docker.io's own package, renamed docker-ce
# at docker.io's upstream version (which dockerd reports), without its conflicts with docker-ce.
src=$(ls "$root"/var/cache/e2e-debs/docker.io_*.deb)
dockerio=$(dpkg-deb -f "$src" Version)
docker_upstream="${dockerio#*:}"
docker_upstream="${docker_upstream%-*}"
printf '%s\n' "$docker_upstream" >"$keys/docker-version"
dv="5:${docker_upstream}-1~debian.12~bookworm"
d=$(pkgroot docker-ce)
dpkg-deb -R "$src" "$d"
deps=$(dpkg-deb -f "$src" Depends)
sed -i -e '/^\(Conflicts\|Breaks\|Replaces\|Provides\|Depends\|Version\|Package\|Source\):/d' "$d/DEBIAN/control"
sed -i -e "1i Package: docker-ce\\nVersion: $dv\\nDepends: $deps, docker-ce-cli, containerd.io\\nProvides: docker.io" "$d/DEBIAN/control"
dpkg-deb --root-owner-group -Zgzip -b "$d" "$debs/docker-ce_${dv//:/%3a}_amd64.deb" >/dev/null
rm -rf "$root/var/cache/e2e-debs"
deb docker-ce-cli "$dv" "" "$(pkgroot docker-ce-cli)" "stand-in: the CLI is in docker-ce (Debian's docker.io)"
deb containerd.io 1.7.99-1 "containerd" "$(pkgroot containerd.io)" "stand-in: Debian's containerd behind containerd.io"
deb docker-buildx-plugin 0.0.1-1~debian.12~bookworm "" "$(pkgroot docker-buildx-plugin)"

# --- the mirror: keys, repositories, HTTPS ------------------------------------------------------
export GNUPGHOME="$work/gnupg"
mkdir -p "$GNUPGHOME"
chmod 0700 "$GNUPGHOME"
gpg -q --batch --passphrase '' --quick-gen-key 'citadel e2e mirror <e2e@citadel.invalid>' ed25519 sign never
www="$root/srv/e2e-mirror"
# repo DIR DISTPATH PKGPATTERN...: Packages of the matching debs under DIR/pool, Release and InRelease at DISTPATH.
repo() {
  local top="$1" dist="$2" comp="$3" suite="$4"
  shift 4
  mkdir -p "$top/pool" "$dist/$comp"
  local p
  for p in "$@"; do cp "$debs"/"$p"_*.deb "$top/pool/"; done
  (cd "$top" && dpkg-scanpackages -m pool /dev/null 2>/dev/null) >"$dist/$comp/Packages"
  gzip -9nk "$dist/$comp/Packages"
  {
    printf 'Origin: citadel-e2e\nLabel: citadel-e2e\nSuite: %s\nCodename: %s\nArchitectures: amd64\n' "$suite" "$suite"
    [ "$comp" = . ] || printf 'Components: %s\n' "${comp%%/*}"
    printf 'Date: %s\nSHA256:\n' "$(LC_ALL=C date -u -R)"
    local f
    for f in "$comp/Packages" "$comp/Packages.gz"; do
      printf ' %s %s %s\n' "$(sha256sum "$dist/$f" | cut -d' ' -f1)" "$(stat -c %s "$dist/$f")" "${f#./}"
    done
  } >"$dist/Release"
  gpg -q --batch --yes --clearsign -o "$dist/InRelease" "$dist/Release"
}
docker_top="$www/download.docker.com/linux/ubuntu"
repo "$docker_top" "$docker_top/dists/bookworm" stable/binary-amd64 bookworm \
  docker-ce docker-ce-cli containerd.io docker-buildx-plugin
gpg -q --armor --export >"$docker_top/gpg"
nv_top="$www/nvidia.github.io/libnvidia-container"
nv_flat="$nv_top/stable/deb/amd64"
repo "$nv_flat" "$nv_flat" . stable citadel-shim nvidia-container-toolkit nvidia-container-toolkit-base \
  libnvidia-container-tools libnvidia-container1
gpg -q --armor --export >"$nv_top/gpgkey"
# The distribution archive's part that Debian lacks: the NVIDIA driver stand-ins.
archive="$www/archive"
# shellcheck disable=SC2086 # a word list
repo "$archive" "$archive/dists/bookworm" main/binary-amd64 bookworm citadel-shim $E2E_DRIVER_PACKAGES
gpg -q --export >"$root/usr/share/keyrings/citadel-e2e-archive.gpg"
rm -f "$root/etc/apt/sources.list" "$root/etc/apt/sources.list.d/"*
printf 'deb [signed-by=/usr/share/keyrings/citadel-e2e-archive.gpg] file:/srv/e2e-mirror/archive bookworm main\n' \
  >"$root/etc/apt/sources.list.d/e2e-archive.list"

# TLS for download.docker.com and nvidia.github.io, which resolve to the guest itself.
tls="$work/tls"
mkdir -p "$tls"
openssl req -x509 -newkey ed25519 -nodes -days 3650 -subj '/CN=citadel e2e mirror CA' \
  -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null
openssl req -newkey ed25519 -nodes -subj '/CN=e2e-mirror' -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:download.docker.com,DNS:nvidia.github.io\n' >"$tls/ext"
openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial -days 3650 \
  -extfile "$tls/ext" -out "$tls/server.crt" 2>/dev/null
install -D -m 0644 "$tls/ca.crt" "$root/usr/local/share/ca-certificates/citadel-e2e-mirror.crt"
chroot "$root" update-ca-certificates >/dev/null 2>&1
install -d -m 0700 "$root/etc/e2e-mirror"
install -m 0600 "$tls/server.key" "$root/etc/e2e-mirror/server.key"
install -m 0644 "$tls/server.crt" "$root/etc/e2e-mirror/server.crt"
install -m 0755 "$here/e2e-mirror.py" "$root/usr/local/sbin/e2e-mirror"
install -m 0644 "$here/e2e-mirror.service" "$root/etc/systemd/system/e2e-mirror.service"
ln -sf /etc/systemd/system/e2e-mirror.service "$root/etc/systemd/system/multi-user.target.wants/e2e-mirror.service"
printf '127.0.0.1 localhost\n::1 localhost\n127.0.0.2 download.docker.com nvidia.github.io\n' >"$root/etc/hosts"
