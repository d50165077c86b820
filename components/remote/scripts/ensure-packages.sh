#!/usr/bin/env bash
# Installs Ubuntu packages a step needs, only those missing.
set -euo pipefail
: "${PACKAGES:?}"
read -r -a wanted <<<"$PACKAGES"
ensure_packages "${wanted[@]}"
report "packages $PACKAGES"
