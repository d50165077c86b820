/** The "vLLM serving" dashboard. */
import {
  DashboardBuilder,
  QueryVariableBuilder,
  RowBuilder,
} from "@grafana/grafana-foundation-sdk/dashboard";
import {
  PROMETHEUS_DS,
  RATE,
  timeseries,
  withBaseline,
  vllmAnnotations,
  base,
  quantiles,
  baselineQuantiles,
} from "./panels";

export function vllmDashboard(): DashboardBuilder {
  const m = '{model_name=~"$model"}';
  return vllmAnnotations(base("citadel-vllm", "vLLM serving"))
    .withVariable(
      new QueryVariableBuilder("model")
        .label("Model")
        .datasource(PROMETHEUS_DS)
        .query("label_values(vllm:num_requests_running, model_name)")
        .multi(true)
        .includeAll(true),
    )
    .withRow(new RowBuilder("Latency"))
    .withPanel(
      withBaseline(
        timeseries(
          "Time to first token",
          "s",
          [...quantiles("vllm:time_to_first_token_seconds", m), ...baselineQuantiles("ttft")],
          8,
        ),
      ),
    )
    .withPanel(
      withBaseline(
        timeseries(
          "Inter-token latency",
          "s",
          [...quantiles("vllm:inter_token_latency_seconds", m), ...baselineQuantiles("itl")],
          8,
        ),
      ),
    )
    .withPanel(
      withBaseline(
        timeseries(
          "End-to-end request latency",
          "s",
          [...quantiles("vllm:e2e_request_latency_seconds", m), ...baselineQuantiles("e2el")],
          8,
        ),
      ),
    )
    .withRow(new RowBuilder("Throughput and load"))
    .withPanel(
      withBaseline(
        // By model: a chat server's prompt and generated tokens, an embed or rerank server's
        // input tokens (its embedding throughput), each beside its recorded baseline.
        timeseries("Tokens per second", "short", [
          [`sum by (model_name) (rate(vllm:prompt_tokens_total${m}[${RATE}]))`, "{{model_name}} prompt"],
          [
            `sum by (model_name) (rate(vllm:generation_tokens_total${m}[${RATE}]))`,
            "{{model_name}} generation",
          ],
          [
            'max by (model, tokens) (citadel_vllm_baseline_tokens_per_second{model=~"$model"})',
            "baseline {{model}} {{tokens}}",
          ],
        ]),
      ),
    )
    .withPanel(
      timeseries("Requests", "short", [
        [`sum by (model_name) (vllm:num_requests_running${m})`, "{{model_name}} running"],
        [`sum by (model_name) (vllm:num_requests_waiting${m})`, "{{model_name}} waiting"],
      ]),
    )
    .withPanel(timeseries("Servers up", "short", [['up{job="vllm"}', "{{server}}"]], 8))
    .withPanel(
      timeseries(
        "KV-cache usage",
        "percentunit",
        [[`max by (model_name) (vllm:kv_cache_usage_perc${m})`, "{{model_name}}"]],
        8,
      ),
    )
    .withPanel(
      timeseries(
        "Preemptions",
        "short",
        [[`sum(rate(vllm:num_preemptions_total${m}[${RATE}]))`, "preemptions/s"]],
        8,
      ),
    )
    .withPanel(
      timeseries(
        "Prefix-cache hit rate",
        "percentunit",
        [
          [
            `sum(rate(vllm:prefix_cache_hits_total${m}[${RATE}])) / sum(rate(vllm:prefix_cache_queries_total${m}[${RATE}]))`,
            "hit rate",
          ],
        ],
        8,
      ),
    )
    .withPanel(
      timeseries(
        "Finished requests by reason",
        "reqps",
        [[`sum by (finished_reason) (rate(vllm:request_success_total${m}[${RATE}]))`, "{{finished_reason}}"]],
        24,
      ),
    );
}
