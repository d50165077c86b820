#!/usr/bin/env bash
# Prunes the e2e image cache, which every checkout on this machine shares (branches with other
# shims or packages have other keys): keeps the KEEP most recently used entries matching each
# PATTERN (by mtime; image.sh touches a layer when it uses one), and never removes one that a
# running process holds a file of open (a VM booted from it).
#
#   prune-cache.sh CACHE_DIR KEEP PATTERN...     e.g. prune-cache.sh ~/.cache/citadel/e2e 2 'image-*' 'base-*.tar'
set -euo pipefail
cache="${1:?usage: prune-cache.sh CACHE_DIR KEEP PATTERN...}"
keep="${2:?usage: prune-cache.sh CACHE_DIR KEEP PATTERN...}"
shift 2
for pattern in "$@"; do
  find "$cache" -maxdepth 1 -name "$pattern" -printf '%T@ %p\n' | sort -rn | tail -n +"$((keep + 1))" |
    cut -d' ' -f2- | while read -r old; do
    # A command substitution, not a pipe: find fails on processes that end while it reads them.
    if [ -n "$(find /proc/[0-9]*/fd -lname "$old*" -print -quit 2>/dev/null)" ]; then
      echo "image: kept $(basename "$old"): a running process holds it open"
    else
      rm -rf "$old"
      echo "image: removed the older layer $(basename "$old")"
    fi
  done
done
