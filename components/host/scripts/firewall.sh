#!/usr/bin/env bash
# ufw as code: deny incoming by default, SSH from the admin subnet, the vLLM API and monitoring
# ports from the lab subnet; plus DOCKER-USER rules in /etc/ufw/after.rules so the same policy
# holds for published container ports, which bypass ufw; and the access model's rows for this host
# in /etc/ufw/citadel-access.json (who may reach which port, what it can change). Refuses to enable the firewall when the
# SSH client running it is outside the admin subnet, which would lock it out.
set -euo pipefail
: "${RULES:?}" "${AFTER_BLOCK:?}" "${ADMIN_SUBNET:?}" "${BEGIN_MARK:?}" "${END_MARK:?}" "${ACCESS:?}"
after="${ROOT}/etc/ufw/after.rules"

ensure_packages ufw

# in_subnet IP CIDR: true when the IPv4 address is inside the subnet.
in_subnet() {
  local ip="$1" net="${2%/*}" bits="${2#*/}" a b c d n
  IFS=. read -r a b c d <<<"$ip"
  local x=$(((a << 24) | (b << 16) | (c << 8) | d))
  IFS=. read -r a b c d <<<"$net"
  n=$(((a << 24) | (b << 16) | (c << 8) | d))
  local mask=$(((0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF))
  [ $((x & mask)) -eq $((n & mask)) ]
}
# The machine running pulumi: SSH_CONNECTION of the session this runs in. sudo drops it from our
# environment, so read it from the nearest ancestor that has it (root may read their environ).
ssh_client() {
  local pid=$$ env
  while [ "$pid" -gt 1 ]; do
    env=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^SSH_CONNECTION=//p' || true)
    if [ -n "$env" ]; then printf '%s\n' "${env%% *}"; return 0; fi
    pid=$(awk '{ print $4 }' "/proc/$pid/stat" 2>/dev/null || echo 1)
  done
}
client=$(ssh_client)
if [ -n "$client" ] && [[ "$client" =~ ^[0-9.]+$ ]] && ! in_subnet "$client" "$ADMIN_SUBNET"; then
  die "this SSH session comes from $client, outside ops.firewall.adminSubnet $ADMIN_SUBNET; enabling the firewall would lock it out. Fix the subnet first."
fi

status=$(ufw status verbose)
if ! grep -q "^Default: deny (incoming), allow (outgoing)" <<<"$status"; then
  ufw default deny incoming >/dev/null
  ufw default allow outgoing >/dev/null
  changed "default: deny incoming, allow outgoing"
fi

# What `ufw show added` prints for a rule we add with `comment citadel`.
shown() { printf 'ufw %s\n' "${1% comment citadel} comment 'citadel'"; }
current=$(ufw show added | grep "comment 'citadel'" || true)
while IFS= read -r rule; do
  [ -n "$rule" ] || continue
  if ! grep -qxF "$(shown "$rule")" <<<"$current"; then
    read -r -a args <<<"$rule"
    ufw "${args[@]}" >/dev/null
    changed "ufw $rule"
  fi
done <<<"$RULES"
wanted=$(while IFS= read -r rule; do [ -n "$rule" ] && shown "$rule"; done <<<"$RULES")
while IFS= read -r line; do
  [ -n "$line" ] || continue
  if ! grep -qxF "$line" <<<"$wanted"; then
    spec="${line#ufw }"
    spec="${spec% comment \'citadel\'}"
    read -r -a args <<<"$spec"
    ufw delete "${args[@]}" >/dev/null
    changed "removed stale rule: $line"
  fi
done <<<"$current"

if printf '%s' "$ACCESS" | write_file "${ROOT}/etc/ufw/citadel-access.json" 0644; then
  changed "access model in /etc/ufw/citadel-access.json"
fi

reload=false
mkdir -p "$(dirname "$after")"
touch "$after"
if { awk -v b="$BEGIN_MARK" -v e="$END_MARK" '$0 == b { skip = 1 } !skip { print } $0 == e { skip = 0 }' "$after"
  printf '%s\n' "$AFTER_BLOCK"; } | write_file "$after" 0640; then
  changed "DOCKER-USER rules in /etc/ufw/after.rules"
  reload=true
fi

if ! grep -q "^Status: active" <<<"$(ufw status)"; then
  ufw --force enable >/dev/null
  changed "enabled ufw"
elif [ "$reload" = true ]; then
  ufw reload >/dev/null
  changed "reloaded ufw"
fi
report "firewall"
