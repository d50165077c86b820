#!/usr/bin/env bash
# Writes one server's accepted LLM baseline, already rendered as node-exporter textfile metrics, so the
# vLLM dashboard shows it next to live values. The file is replaced atomically, so a scrape never
# sees half of it, and a second run with the same baseline leaves it untouched.
set -euo pipefail
: "${METRICS:?}" "${TEXTFILE_DIR:?}" "${SERVER:?}"
# One file per vLLM server; node_exporter merges a metric family across files when its HELP agrees
# (collector/textfile.go@v1.12.1).
out="${TEXTFILE_DIR}/citadel_vllm_baseline_${SERVER}.prom"
if printf '%s\n' "$METRICS" | write_file "${ROOT}${out}" 0644; then changed "wrote $out"; fi
# The single file this script wrote before vLLM had several servers; ours, and now stale.
legacy="${ROOT}${TEXTFILE_DIR}/citadel_vllm_baseline.prom"
if [ -f "$legacy" ]; then
  rm -f "$legacy"
  changed "removed the single-server baseline file $legacy"
fi
report "baseline metrics"
