#!/usr/bin/env bash
# Runs hourly from a systemd timer on every host (citadel-drift.timer): the read-only probe of
# `npm run validate`, evaluated on the host by drift_eval.py against the checks rendered for this
# host at plan time, written as node_exporter textfile metrics (citadel_validate_check per check,
# citadel_validate_last_run_timestamp_seconds). It carries no secret: the probe asks vLLM from
# inside its containers, with their own key, and logs in to Prometheus and Alertmanager with the
# host's root-only netrc files.
# The file is replaced atomically, and its temporary name does not end in .prom, so a scrape never
# sees half of it: node_exporter's textfile collector reads only `*.prom` files
# (collector/textfile.go@v1.12.1, `strings.HasSuffix(f.Name(), ".prom")`).
set -euo pipefail
# The probe and the evaluator come base64-encoded: as plain text they would be quoted twice in the
# step that installs this script, a quoting shellcheck rightly finds hard to read.
: "${TEXTFILE_DIR:?}" "${PROBE_B64:?}" "${EVALUATOR_B64:?}" "${EXPECTATIONS:?}"
ROOT="${CITADEL_ROOT:-}"
out="${ROOT}${TEXTFILE_DIR}/citadel_validate.prom"
mkdir -p "$(dirname "$out")"
tmp=$(mktemp "${out}.XXXXXX")
trap 'rm -f "$tmp"' EXIT

probe=$(bash -c "$(base64 -d <<<"$PROBE_B64")" </dev/null)
printf '%s\n' "$probe" | python3 -c "$(base64 -d <<<"$EVALUATOR_B64")" >"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
