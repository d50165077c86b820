#!/usr/bin/env bash
# Writes an accepted LLM baseline, already rendered as node-exporter textfile metrics, so the
# vLLM dashboard shows it next to live values. The file is replaced atomically, so a scrape never
# sees half of it, and a second run with the same baseline leaves it untouched.
set -euo pipefail
: "${METRICS:?}" "${TEXTFILE_DIR:?}"
ROOT="${CITADEL_ROOT:-}"
out="${ROOT}${TEXTFILE_DIR}/citadel_vllm_baseline.prom"
mkdir -p "$(dirname "$out")"
tmp=$(mktemp "${out}.XXXXXX")
trap 'rm -f "$tmp"' EXIT

printf '%s\n' "$METRICS" >"$tmp"
chmod 0644 "$tmp"
if cmp -s "$tmp" "$out"; then
  printf 'baseline metrics: unchanged\n'
else
  mv -f "$tmp" "$out"
  printf 'baseline metrics: written to %s\n' "$out"
fi
