/** The "GPUs" dashboard. */
import { DashboardBuilder, QueryVariableBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { PROMETHEUS_DS, timeseries, vllmAnnotations, base } from "./panels";

export function gpuDashboard(): DashboardBuilder {
  const g = '{uuid=~"$gpu"}';
  return vllmAnnotations(base("citadel-gpus", "GPUs"))
    .withVariable(
      new QueryVariableBuilder("gpu")
        .label("GPU")
        .datasource(PROMETHEUS_DS)
        .query("label_values(nvidia_smi_gpu_info, uuid)")
        .multi(true)
        .includeAll(true),
    )
    .withPanel(
      timeseries("Utilisation", "percentunit", [
        [`nvidia_smi_utilization_gpu_ratio${g}`, "{{host}} {{uuid}}"],
      ]),
    )
    .withPanel(
      timeseries("Memory used", "bytes", [
        [`nvidia_smi_memory_used_bytes${g}`, "used {{uuid}}"],
        [`nvidia_smi_memory_total_bytes${g}`, "total {{uuid}}"],
      ]),
    )
    .withPanel(timeseries("Temperature", "celsius", [[`nvidia_smi_temperature_gpu${g}`, "{{uuid}}"]], 8))
    .withPanel(
      timeseries(
        "Power",
        "watt",
        [
          [`nvidia_smi_power_draw_watts${g}`, "draw {{uuid}}"],
          [`nvidia_smi_enforced_power_limit_watts${g}`, "limit {{uuid}}"],
        ],
        8,
      ),
    )
    .withPanel(
      timeseries(
        "Clocks",
        "hertz",
        [
          [`nvidia_smi_clocks_current_graphics_clock_hz${g}`, "graphics {{uuid}}"],
          [`nvidia_smi_clocks_current_memory_clock_hz${g}`, "memory {{uuid}}"],
        ],
        8,
      ),
    )
    .withPanel(
      timeseries("PCIe link", "short", [
        [`nvidia_smi_pcie_link_gen_current${g}`, "gen {{uuid}}"],
        [`nvidia_smi_pcie_link_width_current${g}`, "width {{uuid}}"],
      ]),
    )
    .withPanel(
      timeseries("Xid errors (kernel log)", "short", [
        ["sum by (host, pci, xid) (increase(citadel_nvidia_xid_total[1h]))", "{{host}} {{pci}} Xid {{xid}}"],
      ]),
    );
}
