#!/usr/bin/env bash
# Writes an accepted LLM baseline, already rendered as node-exporter textfile metrics, so the
# vLLM dashboard shows it next to live values. The file is replaced atomically, so a scrape never
# sees half of it, and a second run with the same baseline leaves it untouched.
set -euo pipefail
: "${METRICS:?}" "${TEXTFILE_DIR:?}"
out="${TEXTFILE_DIR}/citadel_vllm_baseline.prom"
if printf '%s\n' "$METRICS" | write_file "${ROOT}${out}" 0644; then changed "wrote $out"; fi
report "baseline metrics"
