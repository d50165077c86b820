#!/usr/bin/env bash
# Helpers included in every citadel host script, right after its parameters.
# CITADEL_ROOT prefixes every path the scripts touch; it is empty on a real host and a scratch
# directory in tests.
set -euo pipefail
# shellcheck disable=SC2034 # read by the scripts that include this prelude
ROOT="${CITADEL_ROOT:-}"
CHANGES=0
say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
changed() { CHANGES=$((CHANGES + 1)); say "changed: $*"; }
# Last line of every script: the operator sees whether this run changed anything.
report() {
  if [ "$CHANGES" -eq 0 ]; then say "no changes: $1 already converged"; else say "done: $1 ($CHANGES changes)"; fi
}
# Steps on one host may run in parallel; apt and dpkg work is serialised on this lock (fd 9).
APT_LOCKED=false
apt_lock() {
  [ "$APT_LOCKED" = true ] && return 0
  mkdir -p "${ROOT}/run/lock"
  exec 9>"${ROOT}/run/lock/citadel-apt.lock"
  flock -w 1800 9 || die "another citadel step held the apt lock for 30 minutes"
  APT_LOCKED=true
}
apt_get() {
  apt_lock
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -y -q "$@" </dev/null
}
# Installed version of a package, or nothing (never fails, so `v=$(pkg_version p)` is safe).
pkg_version() {
  { dpkg-query -W -f='${db:Status-Status} ${Version}\n' "$1" 2>/dev/null || true; } | awk '$1 == "installed" { print $2 }'
}
# Installs whichever of the named packages are missing (unpinned helpers such as jq and curl).
ensure_packages() {
  local missing=() p
  for p in "$@"; do [ -n "$(pkg_version "$p")" ] || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  apt_get update
  apt_get install --no-install-recommends "${missing[@]}"
  changed "installed ${missing[*]}"
}
# Holds packages so unattended upgrades cannot move them off their pinned version.
hold_packages() {
  local held p
  held=$(apt-mark showhold)
  for p in "$@"; do
    if ! printf '%s\n' "$held" | grep -qx "$p"; then
      apt_lock
      apt-mark hold "$p" >/dev/null
      changed "held $p"
    fi
  done
}
# write_file PATH MODE: replaces PATH atomically with stdin when the content differs.
# Returns 0 when it wrote, 1 when the file already had that content.
write_file() {
  local path="$1" mode="$2" tmp
  mkdir -p "$(dirname "$path")"
  tmp=$(mktemp "${path}.citadel.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path"; then rm -f "$tmp"; return 1; fi
  mv -f "$tmp" "$path"
}
# Enables (and starts, when START=true) a systemd unit unless it already is.
ensure_service() {
  local unit="$1" start="$2"
  local out
  if ! systemctl is-enabled --quiet "$unit" 2>/dev/null; then
    # systemctl reports the symlinks it made on stderr: shown only when enabling fails.
    out=$(systemctl enable "$unit" 2>&1) || die "could not enable $unit: ${out:-systemctl enable failed}"
    changed "enabled $unit"
  fi
  if [ "$start" = true ] && ! systemctl is-active --quiet "$unit"; then systemctl start "$unit"; changed "started $unit"; fi
}
