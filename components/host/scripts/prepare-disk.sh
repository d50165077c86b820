#!/usr/bin/env bash
# Formats a secondary disk only when it is blank, then mounts it by UUID with nofail.
# A disk that carries any filesystem, partition table, RAID or LVM signature is never formatted:
# the expected filesystem (same type and label) is adopted, anything else stops the run.
set -euo pipefail
: "${DEVICE:?}" "${FILESYSTEM:?}" "${LABEL:?}" "${MOUNT_POINT:?}" "${MOUNT_OPTIONS:?}"
PROTECTED_DEVICES="${PROTECTED_DEVICES:-}"
SIZE_BYTES="${SIZE_BYTES:-}"
fstab="${ROOT}/etc/fstab"
target="${ROOT}${MOUNT_POINT}"

dev=$(readlink -f "$DEVICE")
[ -b "$dev" ] || die "$DEVICE is not a block device on this host; check storage.disks[].device"
for p in $PROTECTED_DEVICES; do
  [ -e "$p" ] || continue
  pdev=$(readlink -f "$p")
  parent=$(lsblk -nrpo PKNAME "$pdev" 2>/dev/null | awk 'NR == 1' || true)
  if [ "$pdev" = "$dev" ] || [ "$parent" = "$dev" ]; then
    die "$DEVICE holds $p (the LVM physical volume); refusing to touch it"
  fi
done

# A disk much smaller or larger than config says is probably the wrong disk: stop before touching it.
if [ -n "$SIZE_BYTES" ]; then
  actual=$(blockdev --getsize64 "$dev")
  if [ "$actual" -lt $((SIZE_BYTES * 9 / 10)) ] || [ "$actual" -gt $((SIZE_BYTES * 11 / 10)) ]; then
    die "$DEVICE is $actual bytes but storage.disks[].size says $SIZE_BYTES; is this the right disk? Nothing was changed."
  fi
fi

field() { printf '%s\n' "$probe" | sed -n "s/^$1=//p" | awk 'NR == 1'; }
probe=$(blkid -p -o export "$dev" 2>/dev/null || true)
fstype=$(field TYPE)
label=$(field LABEL)
pttype=$(field PTTYPE)
signatures=$(wipefs --no-act --noheadings --output TYPE "$dev" 2>/dev/null | tr '\n' ' ' || true)
children=$(lsblk -nrpo NAME "$dev" | tail -n +2 | tr '\n' ' ')

if [ "$fstype" = "$FILESYSTEM" ] && [ "$label" = "$LABEL" ]; then
  say "$DEVICE already holds the expected $FILESYSTEM filesystem labelled $LABEL; not formatting"
elif [ -n "$fstype$pttype${signatures// /}${children// /}" ]; then
  die "refusing to format $DEVICE: it carries ${fstype:+filesystem $fstype }${label:+labelled $label }${pttype:+partition table $pttype }${children:+partitions $children}${signatures:+signatures $signatures}but the config expects a blank disk or a $FILESYSTEM filesystem labelled $LABEL. Nothing was changed. If its data is unwanted, wipe it by hand (wipefs -a $DEVICE) and run again; otherwise fix storage.disks[] to match it."
else
  case "$FILESYSTEM" in
    ext4) mkfs.ext4 -q -L "$LABEL" "$dev" </dev/null ;;
    xfs) mkfs.xfs -q -L "$LABEL" "$dev" </dev/null ;;
    *) die "unsupported filesystem $FILESYSTEM; use ext4 or xfs" ;;
  esac
  changed "formatted blank $DEVICE as $FILESYSTEM labelled $LABEL"
fi

uuid=$(blkid -p -o value -s UUID "$dev")
[ -n "$uuid" ] || die "$DEVICE has no filesystem UUID after formatting"
options="$MOUNT_OPTIONS"
case ",$options," in *,nofail,*) ;; *) options="$options,nofail" ;; esac
line="UUID=$uuid $target $FILESYSTEM $options 0 2"

touch "$fstab"
other=$(awk -v t="$target" -v u="UUID=$uuid" '$0 !~ /^[[:space:]]*#/ && $2 == t && $1 != u { print $1 }' "$fstab")
[ -z "$other" ] || die "$fstab already mounts $other at $MOUNT_POINT; remove that line by hand or choose another mountPoint"
if ! grep -qxF "$line" "$fstab"; then
  # Keep every other line; drop only an older entry for this same UUID, then add ours once.
  awk -v u="UUID=$uuid" '$1 != u' "$fstab" | { cat; printf '%s\n' "$line"; } | write_file "$fstab" 0644 || true
  changed "fstab: $line"
fi
# systemctl daemon-reload is deliberately not run: it can drop GPUs from running containers, and
# mount(8) reads fstab directly. systemd picks the entry up at the next boot.
if [ ! -d "$target" ]; then
  mkdir -p "$target"
  changed "created $MOUNT_POINT"
fi
mounted=$(findmnt -rno SOURCE --mountpoint "$target" || true)
if [ -z "$mounted" ]; then
  mount --fstab "$fstab" "$target"
  changed "mounted $DEVICE (UUID=$uuid) at $MOUNT_POINT"
elif [ "$(readlink -f "$mounted")" != "$dev" ]; then
  die "$MOUNT_POINT is already a mount of $mounted, not $DEVICE; unmount it or choose another mountPoint"
fi
report "disk $DEVICE at $MOUNT_POINT"
