/** The "Logs" dashboard. */
import { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { logs, logRate, vllmAnnotations, base } from "./panels";

export function logsDashboard(): DashboardBuilder {
  return vllmAnnotations(base("citadel-logs", "Logs"))
    .withPanel(logs("vLLM errors", '{container=~"vllm-.+"} |~ "(?i)error|exception|traceback"'))
    .withPanel(logs("Kernel and NVIDIA messages", '{unit="kernel"} |~ "(?i)nvrm|xid|nvidia|oom"'))
    .withPanel(
      logRate(
        "Log lines per container",
        'sum by (host, container) (rate({container=~".+"}[$__auto]))',
        "{{host}} {{container}}",
      ),
    );
}
