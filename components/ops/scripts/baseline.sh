#!/usr/bin/env bash
# Runs vLLM's own benchmark (`vllm bench serve`) inside the running vLLM container against the
# served model, with a fixed synthetic workload, and prints its JSON result on stdout. Progress
# goes to stderr. It changes nothing on the host: the result file lives in the container's /tmp.
set -euo pipefail
: "${MODEL:?}" "${SERVED:?}" "${INPUT_LEN:?}" "${OUTPUT_LEN:?}" "${NUM_PROMPTS:?}" "${REQUEST_RATE:?}" "${MAX_CONCURRENCY:?}" "${PORT:?}" "${CONTAINER:?}"
KIND="${KIND:-generate}"
RESULT=/tmp/citadel-baseline.json

if [ "$(docker inspect -f '{{.State.Health.Status}}' "$CONTAINER" 2>/dev/null || true)" != healthy ]; then
  printf 'baseline: the %s container is not running and healthy; run pulumi up first\n' "$CONTAINER" >&2
  exit 1
fi

# Arguments travel as argv, never re-parsed by a shell. The API key stays inside the container:
# the benchmark reads it from vLLM's own environment.
# shellcheck disable=SC2016 # $VLLM_API_KEY and $@ expand inside the container
# What each kind is asked (vllm/benchmarks/serve.py and lib/endpoint_request_func.py@v0.34.0):
# completions with TTFT and ITL; /v1/embeddings or /v1/rerank, which measure end-to-end latency only.
case "$KIND" in
  generate) kind_args=(--backend vllm --dataset-name random --random-output-len "$OUTPUT_LEN" --ignore-eos --percentile-metrics "ttft,itl,e2el") ;;
  embed) kind_args=(--backend openai-embeddings --endpoint /v1/embeddings --dataset-name random --percentile-metrics e2el) ;;
  rerank) kind_args=(--backend vllm-rerank --endpoint /v1/rerank --dataset-name random-rerank --percentile-metrics e2el) ;;
  *) printf 'baseline: unknown server kind %s\n' "$KIND" >&2; exit 1 ;;
esac
docker exec "$CONTAINER" sh -c 'rm -f "$1" && shift && OPENAI_API_KEY="$VLLM_API_KEY" exec vllm bench serve "$@"' sh "$RESULT" \
  "${kind_args[@]}" --base-url "http://127.0.0.1:${PORT}" --model "$MODEL" --served-model-name "$SERVED" \
  --random-input-len "$INPUT_LEN" --seed 0 \
  --num-prompts "$NUM_PROMPTS" --request-rate "$REQUEST_RATE" --max-concurrency "$MAX_CONCURRENCY" \
  --metric-percentiles 50,95,99 \
  --save-result --result-dir "$(dirname "$RESULT")" --result-filename "$(basename "$RESULT")" >&2
result=$(docker exec "$CONTAINER" cat "$RESULT")
if ! jq -e '.completed > 0' >/dev/null <<<"$result"; then
  printf 'baseline: no request completed; see the benchmark output above\n' >&2
  exit 1
fi
printf '%s\n' "$result"
