/** GPUs: the exporter, temperature, memory and power. */
import type { Thresholds } from "../../../config/ladon";
import type { RuleFixtures, RuleGroup } from "./types";

export function gpusRules(t: Thresholds, { gpu, sel }: RuleFixtures): RuleGroup {
  return {
    name: "gpus",
    rules: [
      {
        alert: "GpuTemperatureHigh",
        expr: `nvidia_smi_temperature_gpu > ${t.gpuTemperatureCelsius}`,
        for: "5m",
        severity: "warning",
        summary:
          "GPU {{ $labels.uuid }} on {{ $labels.host }} is running hot: check its fans and the case airflow.",
        labels: gpu,
        fires: {
          series: { [`nvidia_smi_temperature_gpu${sel(gpu)}`]: `${t.gpuTemperatureCelsius + 5}x15` },
          at: "10m",
        },
        quiet: {
          series: { [`nvidia_smi_temperature_gpu${sel(gpu)}`]: `${t.gpuTemperatureCelsius - 20}x15` },
          at: "10m",
        },
      },
      {
        alert: "GpuPowerHigh",
        expr: `nvidia_smi_power_draw_watts / nvidia_smi_enforced_power_limit_watts > ${t.gpuPowerRatio}`,
        for: "15m",
        severity: "warning",
        summary:
          "GPU {{ $labels.uuid }} on {{ $labels.host }} has been at its power limit for 15m: it is throttling; check the load and the PSU.",
        labels: gpu,
        fires: {
          series: {
            [`nvidia_smi_power_draw_watts${sel(gpu)}`]: "285x30",
            [`nvidia_smi_enforced_power_limit_watts${sel(gpu)}`]: "285x30",
          },
          at: "20m",
        },
        quiet: {
          series: {
            [`nvidia_smi_power_draw_watts${sel(gpu)}`]: "120x30",
            [`nvidia_smi_enforced_power_limit_watts${sel(gpu)}`]: "285x30",
          },
          at: "20m",
        },
      },
      {
        alert: "GpuXidError",
        expr: "(citadel_nvidia_xid_total unless citadel_nvidia_xid_total offset 10m) or increase(citadel_nvidia_xid_total[10m]) > 0",
        for: "0m",
        severity: "critical",
        summary:
          "The NVIDIA driver logged Xid {{ $labels.xid }} on {{ $labels.host }}: look it up in NVIDIA's Xid table; 48, 79 and 119 usually need a reboot.",
        labels: { job: "alloy", host: "citadel", instance: "alloy:12345", xid: "79" },
        fires: {
          series: {
            [`citadel_nvidia_xid_total${sel({ job: "alloy", host: "citadel", instance: "alloy:12345", xid: "79" })}`]:
              "_x10 1 1",
          },
          at: "11m",
        },
        quiet: {
          series: {
            [`citadel_nvidia_xid_total${sel({ job: "alloy", host: "citadel", instance: "alloy:12345", xid: "79" })}`]:
              "1x30",
          },
          at: "25m",
        },
      },
      {
        alert: "GpuMemoryNearlyFull",
        expr: `nvidia_smi_memory_used_bytes / nvidia_smi_memory_total_bytes > ${t.gpuMemoryRatio}`,
        for: "15m",
        severity: "warning",
        summary:
          "GPU {{ $labels.uuid }} on {{ $labels.host }} is nearly out of memory beyond vLLM's reservation: look for another process with `nvidia-smi`.",
        labels: gpu,
        fires: {
          series: {
            [`nvidia_smi_memory_used_bytes${sel(gpu)}`]: "16.9e9x30",
            [`nvidia_smi_memory_total_bytes${sel(gpu)}`]: "17.1e9x30",
          },
          at: "20m",
        },
        quiet: {
          series: {
            [`nvidia_smi_memory_used_bytes${sel(gpu)}`]: "15.4e9x30",
            [`nvidia_smi_memory_total_bytes${sel(gpu)}`]: "17.1e9x30",
          },
          at: "20m",
        },
      },
    ],
  };
}
