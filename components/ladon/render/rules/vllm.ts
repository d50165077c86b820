/** vLLM: each server up, its queue, its KV cache and its latency. */
import type { Thresholds } from "../../../config/ladon";
import type { RuleFixtures, RuleGroup } from "./types";

export function vllmRules(t: Thresholds, { vllmTarget, vllm, sel }: RuleFixtures): RuleGroup {
  return {
    name: "vllm",
    rules: [
      {
        alert: "VllmDown",
        expr: 'up{job="vllm"} == 0',
        for: "2m",
        severity: "critical",
        summary:
          "vLLM server {{ $labels.server }} on {{ $labels.host }} is down or has not loaded its model: `docker logs vllm-{{ $labels.server }}` shows why (a VRAM error names the max-model-len that fits).",
        labels: vllmTarget,
        fires: { series: { [`up${sel(vllmTarget)}`]: "0x10" }, at: "5m" },
        quiet: { series: { [`up${sel(vllmTarget)}`]: "1x10" }, at: "5m" },
      },
      {
        alert: "VllmTimeToFirstTokenHigh",
        expr: `histogram_quantile(0.95, sum by (le, model_name) (rate(vllm:time_to_first_token_seconds_bucket[5m]))) > ${t.ttftP95Seconds}`,
        for: "10m",
        severity: "warning",
        summary:
          "p95 time to first token of {{ $labels.model_name }} is high: requests queue or prompts are long; check waiting requests and KV-cache usage.",
        labels: { model_name: "qwen3-8b" },
        fires: {
          series: {
            [`vllm:time_to_first_token_seconds_bucket${sel({ ...vllm, le: "1" })}`]: "0+0x30",
            [`vllm:time_to_first_token_seconds_bucket${sel({ ...vllm, le: String(t.ttftP95Seconds * 4) })}`]:
              "0+10x30",
            [`vllm:time_to_first_token_seconds_bucket${sel({ ...vllm, le: "+Inf" })}`]: "0+10x30",
          },
          at: "20m",
        },
        quiet: {
          series: {
            [`vllm:time_to_first_token_seconds_bucket${sel({ ...vllm, le: "1" })}`]: "0+10x30",
            [`vllm:time_to_first_token_seconds_bucket${sel({ ...vllm, le: String(t.ttftP95Seconds * 4) })}`]:
              "0+10x30",
            [`vllm:time_to_first_token_seconds_bucket${sel({ ...vllm, le: "+Inf" })}`]: "0+10x30",
          },
          at: "20m",
        },
      },
      {
        alert: "VllmRequestsWaiting",
        expr: `vllm:num_requests_waiting > ${t.requestsWaiting}`,
        for: "5m",
        severity: "warning",
        summary:
          "{{ $labels.model_name }} has requests waiting for 5m: it is at capacity; lower max-model-len for more concurrency or add GPUs.",
        labels: vllm,
        fires: {
          series: { [`vllm:num_requests_waiting${sel(vllm)}`]: `${t.requestsWaiting * 3}x10` },
          at: "8m",
        },
        quiet: { series: { [`vllm:num_requests_waiting${sel(vllm)}`]: "0x10" }, at: "8m" },
      },
      {
        alert: "VllmKvCacheSaturated",
        expr: `vllm:kv_cache_usage_perc > ${t.kvCacheRatio}`,
        for: "10m",
        severity: "warning",
        summary:
          "{{ $labels.model_name }}'s KV cache is nearly full: expect preemptions; lower max-model-len, use an fp8 KV cache or raise gpu-memory-utilization.",
        labels: vllm,
        fires: { series: { [`vllm:kv_cache_usage_perc${sel(vllm)}`]: "0.99x15" }, at: "12m" },
        quiet: { series: { [`vllm:kv_cache_usage_perc${sel(vllm)}`]: "0.4x15" }, at: "12m" },
      },
      {
        alert: "VllmPreempting",
        expr: "increase(vllm:num_preemptions_total[10m]) > 0",
        for: "0m",
        severity: "warning",
        summary:
          "{{ $labels.model_name }} is preempting requests for lack of KV cache: latency suffers; see VllmKvCacheSaturated for the fixes.",
        labels: vllm,
        fires: { series: { [`vllm:num_preemptions_total${sel(vllm)}`]: "0 0 0 2 4 6" }, at: "5m" },
        quiet: { series: { [`vllm:num_preemptions_total${sel(vllm)}`]: "0x10" }, at: "5m" },
      },
    ],
  };
}
