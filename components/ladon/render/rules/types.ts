/** The shapes of the alert rules, and the label sets their promtool tests are written with. */
import { SERVICES } from "../../../plan/services";

export interface AlertTest {
  /** Input series, `promtool test rules` notation: `metric{labels}` -> `values`. */
  series: Record<string, string>;
  /** Evaluation time, e.g. `15m`. */
  at: string;
}

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  severity: "critical" | "warning";
  /** What happened and what to do. Only `{{ $labels.x }}` templates, so tests can expand them. */
  summary: string;
  /** The alert's labels when it fires, besides severity. */
  labels: Record<string, string>;
  fires: AlertTest;
  quiet: AlertTest;
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/** Filesystems node-exporter reports that are not data: no disk alert looks at them. */
export const FS = 'fstype!~"tmpfs|overlay|squashfs|iso9660|nsfs"';

/** The series labels every concern's tests use, as the lab's scrape config sets them. */
export function ruleFixtures() {
  const nodePort = SERVICES.nodeExporter.ports.http?.host;
  const node = { job: "node", host: "citadel", instance: `192.168.10.29:${nodePort}` };
  const gpu = { job: "gpu", host: "citadel", instance: "gpu-exporter:9835", uuid: "GPU-1" };
  const vllmTarget = { job: "vllm", host: "citadel", instance: "vllm-chat:8000", server: "chat" };
  const vllm = { ...vllmTarget, model_name: "qwen3-8b", engine: "0" };
  const fs = { ...node, device: "/dev/nvme1n1", fstype: "ext4", mountpoint: "/srv/data" };
  // The monitoring Pi's array, as node-exporter names it (the kernel's md device, not /dev/md/<name>).
  const md = { job: "node", host: "pi", instance: `192.168.10.40:${nodePort}`, device: "md127" };
  const sel = (labels: Record<string, string>) =>
    `{${Object.keys(labels)
      .sort()
      .map((k) => `${k}="${labels[k]}"`)
      .join(",")}}`;
  return { node, gpu, vllmTarget, vllm, fs, md, sel, FS };
}

export type RuleFixtures = ReturnType<typeof ruleFixtures>;
