#!/usr/bin/env bash
# Creates an mdadm RAID array only from blank members, or adopts the existing one; makes a
# filesystem on it only when the array is blank; mounts it by UUID with nofail.
#  - Adopted, never recreated: a running array with the expected UUID (or, without one, the
#    expected name) is used as it is; one that is not running is assembled from the members that
#    carry its superblock.
#  - Created only when no member carries a filesystem, partition table, RAID superblock or LVM
#    signature. Otherwise the run stops before writing anything, naming each such member and its
#    config key.
#  - Degraded: reported loudly (WARNING lines on stdout and stderr, with the command that adds a
#    member back), then mounted, and the step succeeds. A missing member is never "fixed" by
#    recreating; the data stays served; HostRaidDegraded alerts until the array is whole; and a
#    dead disk does not block deploying anything else. An array that is assembled but inactive
#    (too few members to start) stops the run instead: nothing can be mounted.
#  - /etc/mdadm/mdadm.conf holds one ARRAY line per array, and the initramfs is rebuilt only when
#    that line changed (or when the rebuild after a change failed).
set -euo pipefail
: "${NAME:?}" "${LEVEL:?}" "${MEMBERS:?}" "${FILESYSTEM:?}" "${LABEL:?}" "${MOUNT_POINT:?}" "${MOUNT_OPTIONS:?}" "${KEY:?}"
UUID="${UUID:-}"
PROTECTED_DEVICES="${PROTECTED_DEVICES:-}"
MEMBER_SIZE_BYTES="${MEMBER_SIZE_BYTES:-}"
conf="${ROOT}/etc/mdadm/mdadm.conf"
fstab="${ROOT}/etc/fstab"
# Set before mdadm.conf changes and cleared once the initramfs has it, so a failed rebuild is redone.
pending="${ROOT}/var/lib/citadel/raid-${NAME}.initramfs-pending"
target="${ROOT}${MOUNT_POINT}"
want_uuid=$(printf '%s' "$UUID" | tr 'A-F' 'a-f')

warn() {
  say "WARNING: $*"
  printf 'WARNING: %s\n' "$*" >&2
}
field() { printf '%s\n' "$2" | sed -n "s/^$1=//p" | awk 'NR == 1'; }

ensure_packages mdadm

read -r -a members <<<"$MEMBERS"
devs=()
for i in "${!members[@]}"; do
  m="${members[$i]}"
  # readlink -f fails outright when a directory on the way is missing (no /dev/disk/by-id).
  dev=$(readlink -f "$m" || true)
  if [ -z "$dev" ] || [ ! -b "$dev" ]; then die "$m is not a block device on this host; check $KEY.members[$i]"; fi
  for p in $PROTECTED_DEVICES; do
    [ -e "$p" ] || continue
    pdev=$(readlink -f "$p")
    parent=$(lsblk -nrpo PKNAME "$pdev" 2>/dev/null | awk 'NR == 1' || true)
    if [ "$pdev" = "$dev" ] || [ "$parent" = "$dev" ]; then
      die "$m holds $p (the LVM physical volume); refusing to touch it; fix $KEY.members[$i]"
    fi
  done
  for j in "${!devs[@]}"; do
    [ "${devs[$j]}" != "$dev" ] || die "$m and ${members[$j]} are the same drive ($dev); fix $KEY.members"
  done
  devs+=("$dev")
done

# True when an array's MD_UUID ($1) and MD_NAME ($2, "homehost:name") are the ones config expects.
ours() {
  if [ -n "$want_uuid" ]; then
    [ "$(printf '%s' "$1" | tr 'A-F' 'a-f')" = "$want_uuid" ]
  else
    [ "${2##*:}" = "$NAME" ]
  fi
}

# The assembled arrays are the ARRAY and INACTIVE-ARRAY lines of `mdadm --detail --scan`, the
# device second (Detail.c@mdadm-4.3). Name and UUID are read from `--detail --export` (MD_NAME,
# MD_UUID), which every mdadm version prints alike; the scan line dropped name= in mdadm-4.3.
md="" md_kind="" md_info=""
find_array() {
  md="" md_kind="" md_info=""
  local kind device info uuid name
  while read -r kind device _; do
    case "$kind" in ARRAY | INACTIVE-ARRAY) ;; *) continue ;; esac
    info=$(mdadm --detail --export "$device" 2>/dev/null || true)
    uuid=$(field MD_UUID "$info")
    name=$(field MD_NAME "$info")
    if ours "$uuid" "$name"; then
      [ -z "$md" ] || die "two assembled arrays match $KEY ($md and $device); set $KEY.uuid to the one to use"
      md="$device" md_kind="$kind" md_info="$info"
    elif [ -n "$want_uuid" ] && [ "${name##*:}" = "$NAME" ]; then
      die "the assembled array $device is named $NAME but its UUID is $uuid, not $UUID; fix $KEY.uuid, or set $KEY.name to another name"
    fi
  done < <(mdadm --detail --scan 2>/dev/null || true)
}

find_array
if [ -z "$md" ]; then
  # Not assembled: the members that carry this array's superblock are assembled as they are.
  found=() found_uuid=""
  for i in "${!devs[@]}"; do
    sb=$(mdadm --examine --export "${devs[$i]}" 2>/dev/null || true)
    uuid=$(field MD_UUID "$sb")
    if [ -n "$uuid" ] && ours "$uuid" "$(field MD_NAME "$sb")"; then
      found+=("${devs[$i]}")
      found_uuid="$uuid"
    fi
  done
  if [ "${#found[@]}" -gt 0 ]; then
    mdadm --assemble "/dev/md/$NAME" --run --uuid="$found_uuid" "${found[@]}" </dev/null
    changed "assembled the existing array $NAME (UUID $found_uuid) from ${found[*]}"
  else
    # Nothing to adopt: create, but only from blank members. Every member is checked first and
    # every problem named, so one run says everything that stands in the way.
    problems=""
    for i in "${!devs[@]}"; do
      dev="${devs[$i]}" m="${members[$i]}"
      probe=$(blkid -p -o export "$dev" 2>/dev/null || true)
      fstype=$(field TYPE "$probe")
      label=$(field LABEL "$probe")
      pttype=$(field PTTYPE "$probe")
      signatures=$(wipefs --no-act --noheadings --output TYPE "$dev" 2>/dev/null | tr '\n' ' ' || true)
      children=$(lsblk -nrpo NAME "$dev" | tail -n +2 | tr '\n' ' ')
      what=""
      case "$fstype" in
        "") ;;
        linux_raid_member) what="an md RAID superblock${label:+ of array $label}; " ;;
        LVM2_member) what="an LVM physical volume; " ;;
        *) what="filesystem $fstype${label:+ labelled $label}; " ;;
      esac
      [ -z "$pttype" ] || what="${what}partition table $pttype; "
      [ -z "${children// /}" ] || what="${what}partitions ${children% }; "
      [ -z "$what" ] && [ -n "${signatures// /}" ] && what="signatures ${signatures% }; "
      if [ -n "$what" ]; then
        problems="${problems}
  $m ($KEY.members[$i]) carries ${what%; }"
      elif [ -n "$MEMBER_SIZE_BYTES" ]; then
        # A member much smaller or larger than config says is probably the wrong disk.
        actual=$(blockdev --getsize64 "$dev")
        if [ "$actual" -lt $((MEMBER_SIZE_BYTES * 9 / 10)) ] || [ "$actual" -gt $((MEMBER_SIZE_BYTES * 11 / 10)) ]; then
          problems="${problems}
  $m ($KEY.members[$i]) is $actual bytes but $KEY.memberSize says $MEMBER_SIZE_BYTES; is this the right disk?"
        fi
      fi
    done
    if [ -n "$problems" ]; then
      die "refusing to create RAID$LEVEL $NAME:${problems}
Nothing was changed. A member must be blank. If a drive's data is unwanted, wipe it by hand (wipefs -a <device>) and run again; otherwise fix $KEY.members (or $KEY.uuid, to adopt an existing array)."
    fi
    # --run: no "Continue creating array?" question (Create.c@mdadm-4.3). --bitmap=internal, said
    # outright: mdadm-4.3 adds one only above 100 GiB (Create.c) and mdadm-4.4 asks on a terminal
    # (mdadm.c); a write-intent bitmap keeps the resync after a power cut, likely on a Pi, short.
    mdadm --create "/dev/md/$NAME" --run --level="$LEVEL" --raid-devices="${#devs[@]}" --metadata=1.2 \
      --bitmap=internal --name="$NAME" "${devs[@]}" </dev/null
    changed "created RAID$LEVEL /dev/md/$NAME from ${members[*]}"
  fi
  udevadm settle --timeout=60 || true
  find_array
  [ -n "$md" ] || die "mdadm reported no array for $KEY after assembling or creating it; see dmesg and cat /proc/mdstat"
fi
if [ "$md_kind" = INACTIVE-ARRAY ]; then
  die "$md ($KEY) is assembled but inactive: too few members to start it (see cat /proc/mdstat). Nothing was changed. Check the members' cables and SMART data (smartctl -a), then start it with mdadm --run $md, or assemble it again once the members are back."
fi

uuid=$(field MD_UUID "$md_info")
metadata=$(field MD_METADATA "$md_info")
level=$(field MD_LEVEL "$md_info")
[ "$level" = "raid$LEVEL" ] ||
  die "$md is $level but $KEY.level is $LEVEL; the array is kept as it is (changing a level is a reshape, done by hand), so set $KEY.level to match it"
dev=$(readlink -f "$md")

# Members: each one config lists that the array lacks is reported, never added automatically.
present=""
while IFS= read -r d; do
  [ -n "$d" ] && present="${present}$(readlink -f "$d")
"
done < <(printf '%s\n' "$md_info" | sed -n 's/^MD_DEVICE_.*_DEV=//p')
sysfs="${ROOT}/sys/block/$(basename "$dev")/md"
degraded=$(cat "$sysfs/degraded" 2>/dev/null || echo 0)
action=$(cat "$sysfs/sync_action" 2>/dev/null || echo idle)
if [ "$degraded" -gt 0 ]; then
  warn "RAID$LEVEL $NAME ($md) is DEGRADED: $degraded member(s) missing. It was adopted as it is and is mounted; it is never recreated."
fi
for i in "${!devs[@]}"; do
  # A member the kernel failed stays listed in the array (mdadm-4.3's --detail --export gives it
  # ROLE=spare, Detail.c) until it is removed by hand; its sysfs state says "faulty"
  # (Documentation/admin-guide/md.rst, dev-XXX/state). `mdadm --add` refuses it while it is there.
  if grep -qw faulty "$sysfs/dev-$(basename "${devs[$i]}")/state" 2>/dev/null; then
    warn "${members[$i]} ($KEY.members[$i]) has FAILED in $md (marked faulty); once the drive is checked (smartctl -a ${members[$i]}) or replaced, take it out and add it back with: mdadm --manage $md --remove ${members[$i]} && mdadm --manage $md --add ${members[$i]}"
    continue
  fi
  printf '%s' "$present" | grep -qxF "${devs[$i]}" && continue
  if [ "$degraded" -gt 0 ]; then
    warn "${members[$i]} ($KEY.members[$i]) is not in $md; once the drive is checked (smartctl -a ${members[$i]}), add it back with: mdadm --manage $md --add ${members[$i]}"
  else
    warn "${members[$i]} ($KEY.members[$i]) is not in $md, which is complete without it; fix $KEY.members to the array's members (mdadm --detail $md)"
  fi
done
case "$action" in
  idle | frozen) ;;
  *) say "note: $md is running $action; it is usable meanwhile (cat /proc/mdstat shows the progress)" ;;
esac

# The filesystem: adopted when it is the expected one, made only on a blank array.
probe=$(blkid -p -o export "$dev" 2>/dev/null || true)
fstype=$(field TYPE "$probe")
label=$(field LABEL "$probe")
pttype=$(field PTTYPE "$probe")
signatures=$(wipefs --no-act --noheadings --output TYPE "$dev" 2>/dev/null | tr '\n' ' ' || true)
if [ "$fstype" = "$FILESYSTEM" ] && [ "$label" = "$LABEL" ]; then
  say "$md already holds the expected $FILESYSTEM filesystem labelled $LABEL; not formatting"
elif [ -n "$fstype$pttype${signatures// /}" ]; then
  die "refusing to format $md: it carries ${fstype:+filesystem $fstype }${label:+labelled $label }${pttype:+partition table $pttype }${signatures:+signatures $signatures}but $KEY expects a blank array or a $FILESYSTEM filesystem labelled $LABEL. Nothing was changed. Fix $KEY.filesystem and $KEY.label to match it, or, if its data is unwanted, wipe it by hand (wipefs -a $md) and run again."
else
  case "$FILESYSTEM" in
    ext4) mkfs.ext4 -q -L "$LABEL" "$dev" </dev/null ;;
    xfs) mkfs.xfs -q -L "$LABEL" "$dev" </dev/null ;;
    *) die "unsupported filesystem $FILESYSTEM; use ext4 or xfs" ;;
  esac
  changed "formatted blank $md as $FILESYSTEM labelled $LABEL"
fi

# mdadm.conf: this array's one ARRAY line, by UUID, so it assembles under its name at boot.
line="ARRAY /dev/md/$NAME metadata=$metadata UUID=$uuid"
if [ ! -f "$conf" ] || ! grep -qxF "$line" "$conf"; then
  if [ -f "$conf" ]; then
    other=$(awk -v d="/dev/md/$NAME" -v u="uuid=$uuid" 'toupper($1) == "ARRAY" && $2 == d && index(tolower($0), u) == 0' "$conf")
    [ -z "$other" ] || die "$conf already names another array /dev/md/$NAME ($other); remove that line by hand or set $KEY.name"
  fi
  mkdir -p "$(dirname "$pending")"
  touch "$pending"
  # Keep every other line; drop only an older line for this same UUID, then add ours once.
  { if [ -f "$conf" ]; then awk -v u="uuid=$uuid" '!(toupper($1) == "ARRAY" && index(tolower($0), u))' "$conf"; fi
    printf '%s\n' "$line"; } | write_file "$conf" 0644 || true
  changed "mdadm.conf: $line"
fi
if [ -f "$pending" ]; then
  update-initramfs -u || die "rebuilding the initramfs for the new ARRAY line failed (its error above); fix that, then run again: the next run rebuilds it"
  rm -f "$pending"
  changed "rebuilt the initramfs with the new ARRAY line"
fi

# fstab and the mount, as for a disk: by filesystem UUID, with nofail so a dead array never blocks boot.
fs_uuid=$(blkid -p -o value -s UUID "$dev")
[ -n "$fs_uuid" ] || die "$md has no filesystem UUID after formatting"
options="$MOUNT_OPTIONS"
case ",$options," in *,nofail,*) ;; *) options="$options,nofail" ;; esac
entry="UUID=$fs_uuid $target $FILESYSTEM $options 0 2"
touch "$fstab"
other=$(awk -v t="$target" -v u="UUID=$fs_uuid" '$0 !~ /^[[:space:]]*#/ && $2 == t && $1 != u { print $1 }' "$fstab")
[ -z "$other" ] || die "$fstab already mounts $other at $MOUNT_POINT; remove that line by hand or change $KEY.mountPoint"
if ! grep -qxF "$entry" "$fstab"; then
  awk -v u="UUID=$fs_uuid" '$1 != u' "$fstab" | { cat; printf '%s\n' "$entry"; } | write_file "$fstab" 0644 || true
  changed "fstab: $entry"
fi
# No systemctl daemon-reload, as for disks: mount(8) reads fstab itself; systemd reads it at boot.
if [ ! -d "$target" ]; then
  mkdir -p "$target"
  changed "created $MOUNT_POINT"
fi
mounted=$(findmnt -rno SOURCE --mountpoint "$target" || true)
if [ -z "$mounted" ]; then
  mount --fstab "$fstab" "$target"
  changed "mounted $md (UUID=$fs_uuid) at $MOUNT_POINT"
elif [ "$(readlink -f "$mounted")" != "$dev" ]; then
  die "$MOUNT_POINT is already a mount of $mounted, not $md; unmount it or change $KEY.mountPoint"
fi
report "RAID$LEVEL /dev/md/$NAME at $MOUNT_POINT"
