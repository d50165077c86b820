#!/usr/bin/env bash
# Grows one logical volume, then the filesystem on it, online into the VG's free space.
# It only grows: a volume already at or above the target is left alone. Each half is checked on
# its own, so a run that failed between the two finishes the filesystem next time.
set -euo pipefail
: "${VG:?}" "${LV:?}" "${TARGET:?}" "${FILESYSTEM:?}"
lv_path="/dev/${VG}/${LV}"

vgs "$VG" >/dev/null 2>&1 || die "volume group $VG does not exist on this host; check storage.lvm.vg"
lvs "$lv_path" >/dev/null 2>&1 || die "logical volume $lv_path does not exist; check storage.lvm.lv"
lv_bytes() { lvs --noheadings --units b --nosuffix -o lv_size "$lv_path" | tr -d ' '; }
vg_free=$(vgs --noheadings --units b --nosuffix -o vg_free "$VG" | tr -d ' ')
size=$(lv_bytes)

if [ "$TARGET" = all-free ]; then
  if [ "$vg_free" -gt 0 ]; then
    lvextend -l +100%FREE "$lv_path"
    changed "grew $lv_path by all $vg_free free bytes of $VG"
  fi
elif [ "$TARGET" -le "$size" ]; then
  [ "$TARGET" -lt "$size" ] && say "note: $lv_path is $size bytes, above the target $TARGET; it is never shrunk"
else
  need=$((TARGET - size))
  [ "$need" -le "$vg_free" ] ||
    die "growing $lv_path to $TARGET bytes needs $need free bytes but $VG has $vg_free; lower storage.lvm.size or add a PV"
  lvextend -L "${TARGET}b" "$lv_path"
  changed "grew $lv_path from $size to $TARGET bytes"
fi

# The filesystem: grown whenever it is more than 64 MiB smaller than its volume.
size=$(lv_bytes)
case "$FILESYSTEM" in
  ext4) fs_bytes=$(dumpe2fs -h "$lv_path" 2>/dev/null |
    awk -F: '/^Block count/ { c = $2 } /^Block size/ { s = $2 } END { printf "%.0f\n", c * s }') ;;
  xfs) fs_bytes=$(xfs_info "$lv_path" |
    awk '/^data/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "bsize") b = kv[2]; if (kv[1] == "blocks") n = kv[2] } }
         END { gsub(",", "", n); printf "%.0f\n", b * n }') ;;
  *) die "unsupported filesystem $FILESYSTEM; use ext4 or xfs" ;;
esac
if [ -z "$fs_bytes" ] || [ "$fs_bytes" -le 0 ]; then die "could not read the $FILESYSTEM size on $lv_path"; fi
if [ $((size - fs_bytes)) -gt $((64 * 1024 * 1024)) ]; then
  case "$FILESYSTEM" in
    ext4) resize2fs "$lv_path" ;;
    xfs) xfs_growfs "$(findmnt -rno TARGET --source "$lv_path" | awk 'NR == 1')" ;;
  esac
  changed "grew the $FILESYSTEM filesystem on $lv_path from $fs_bytes to fill $size bytes"
fi
say "$lv_path: $(lv_bytes) bytes, $VG free: $(vgs --noheadings --units b --nosuffix -o vg_free "$VG" | tr -d ' ') bytes"
report "logical volume $lv_path"
