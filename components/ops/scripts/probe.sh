#!/usr/bin/env bash
# Read-only: prints what `npm run validate` checks, one section per probe, each headed
# `### <name> rc=<exit code>`. It changes nothing on the host.
set -euo pipefail
# Ports and paths come from the port catalog (components/ops/probe.ts renders them): none typed here.
PROMETHEUS_PORT="${PROMETHEUS_PORT:?the host port of Prometheus, from the port catalog}"
# One word per health check: <service>|<url>|<netrc file, or nothing where no login is asked>.
HEALTH_CHECKS="${HEALTH_CHECKS:-}"
TEXTFILE="${TEXTFILE:-/var/lib/node_exporter/textfile/citadel_backup.prom}"
# One word per vLLM server on this host: <container>|<kind>|<served model name>.
VLLM_SERVERS="${VLLM_SERVERS:-}"

section() {
  local name="$1" out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  printf '### %s rc=%s\n%s\n' "$name" "$rc" "$out"
}
http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$@"; }

section lvs lvs --noheadings --units b --nosuffix --separator '|' -o vg_name,lv_name,lv_size
section findmnt findmnt -rno SOURCE,TARGET
section fstab cat /etc/fstab
section mdstat cat /proc/mdstat
section nvidia-smi nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader
section docker-runtimes docker info --format '{{json .Runtimes}}'
section containers docker ps -a --format '{{.Names}}|{{.State}}|{{.Status}}'
# Each request runs inside the server's container with the key from its own environment, so the
# probe needs no vLLM key on the host. Embedding and reranking one word changes nothing. Reranking
# is at /rerank: /v1/rerank logs a deprecation warning (pooling/scoring/api_router.py@vLLM v0.34.0).
vllm_call() {
  docker exec "$1" python3 -c 'import json, os, sys, urllib.request
body = None if sys.argv[2] == "" else sys.argv[2].encode()
r = urllib.request.Request("http://127.0.0.1:8000" + sys.argv[1], data=body, headers={"Authorization": "Bearer " + os.environ["VLLM_API_KEY"], "Content-Type": "application/json"})
d = json.load(urllib.request.urlopen(r, timeout=10))
print("\n".join(m["id"] for m in d["data"]) if sys.argv[1] == "/v1/models" else len(d["data"][0]["embedding"]) if "data" in d else len(d["results"]))' "$2" "$3"
}
for server in $VLLM_SERVERS; do
  IFS='|' read -r container kind served <<<"$server"
  section "vllm-models-${container}" vllm_call "$container" /v1/models ""
  case "$kind" in
    embed) section "vllm-embeddings-${container}" vllm_call "$container" /v1/embeddings "{\"model\": \"${served}\", \"input\": \"citadel\"}" ;;
    rerank) section "vllm-rerank-${container}" vllm_call "$container" /rerank "{\"model\": \"${served}\", \"query\": \"citadel\", \"documents\": [\"citadel\"]}" ;;
  esac
done
# Prometheus and Alertmanager answer only with basic auth: the host's root-only netrc files
# (written by the LadonStack) log in, so no password enters this script or its command line.
PROMETHEUS_NETRC="${PROMETHEUS_NETRC:?the netrc file root logs in to Prometheus with}"
section prometheus-targets curl -fsS -m 10 --netrc-file "$PROMETHEUS_NETRC" "http://127.0.0.1:${PROMETHEUS_PORT}/api/v1/targets?state=active"
for check in $HEALTH_CHECKS; do
  IFS='|' read -r service url netrc <<<"$check"
  if [ -n "$netrc" ]; then
    section "health-${service}" http_code "$url" --netrc-file "$netrc"
  else
    section "health-${service}" http_code "$url"
  fi
done
section timers systemctl is-active citadel-backup.timer citadel-backup-prune.timer citadel-backup-check.timer
section backup-metrics cat "$TEXTFILE"
section now date +%s
section ufw ufw status verbose
section docker-user iptables -S DOCKER-USER
