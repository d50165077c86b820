/**
 * What `pulumi up` would do between two plans, without running it: which resources' inputs
 * change, and whether each provider updates them in place or replaces them. Plus the blast-radius
 * table (single-knob changes and what they may touch) and the critical path of remote steps.
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { dashboards } from "../components/ladon/dashboards";
import { buildLab, loadLab, type LabOverrides } from "../components/lab";
import { diffPlans as planDiff } from "./diff/diff";
import { COMMAND_TYPES, type Effect } from "./semantics";
import { planFromSynth } from "./diff/plan";
import { synthesize, type ResourceRecord, type SynthResult } from "./synth/harness";
import { fromConfigMap } from "./synth/stackfile";

export { CONTAINER_UNAPPLIED, effectOf, unappliedKeys, type Effect } from "./semantics";

export interface Change {
  name: string;
  type: string;
  effect: Effect;
  /** Top-level inputs whose values differ. */
  keys: string[];
}

/**
 * The changes `pulumi up` would make to go from plan `a` to plan `b` (lib/diff/diff.ts, on the
 * inputs with secrets unwrapped, in memory only). Components have no inputs and are skipped;
 * containers a step merely restarts are not changes of their own.
 */
export function diffPlans(a: SynthResult, b: SynthResult): Change[] {
  return planDiff(planFromSynth(a, [], true), planFromSynth(b, [], true))
    .resources.filter((c) => c.action !== "rerun")
    .map((c) => ({ name: c.name, type: c.type, effect: c.action as Effect, keys: c.keys }))
    .sort((x, y) => (x.name < y.name ? -1 : 1));
}

// Rows edit the raw stack-file YAML, one knob each, as tests do.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ConfigMap = Record<string, any>;
const host = (c: ConfigMap) => c["citadel:hosts"].citadel;

export interface BlastRow {
  change: string;
  /** Changes one knob of the stack config. */
  config?: (c: ConfigMap) => void;
  /** Code-level choices for the variant, e.g. a dashboard with one panel changed. */
  overrides?: () => LabOverrides;
  /** Exactly the resources it may change, and how. */
  expect: Record<string, Effect>;
}

/** The single-knob changes and what each may touch; adding a row is one entry. */
export const BLAST_RADIUS: BlastRow[] = [
  {
    change: "vLLM chat model",
    config: (c) => (c["citadel:vllm"].servers.chat.model = "Qwen/Qwen2.5-7B-Instruct"),
    // Qwen2.5-7B's 28 heads divide TP 1 as well; only the chat server changes.
    expect: { "vllm-chat-container": "replace" },
  },
  {
    change: "vLLM chat max-model-len",
    config: (c) => (c["citadel:vllm"].servers.chat.maxModelLen = 16384),
    expect: { "vllm-chat-container": "replace" },
  },
  {
    change: "vLLM embed server's GPU share",
    config: (c) => (c["citadel:vllm"].servers.embed.gpuMemoryUtilization = 0.4),
    expect: { "vllm-embed-container": "replace" },
  },
  {
    change: "vLLM startup timeout (every server's healthcheck)",
    config: (c) => (c["citadel:vllm"].startupTimeoutSeconds = 3600),
    // The healthcheck's start period is one the provider would never apply: the recreate label
    // carries it, so every server's container is replaced.
    expect: { "vllm-chat-container": "replace", "vllm-embed-container": "replace" },
  },
  {
    change: "one dashboard panel",
    overrides: () => ({
      dashboards: dashboards().map((d) =>
        d.uid === "citadel-gpus"
          ? { ...d, json: d.json.replace('"title": "Temperature"', '"title": "GPU temperature"') }
          : d,
      ),
    }),
    expect: { "ladon-grafana-citadel-gpus": "update" },
  },
  {
    change: "one alert threshold",
    config: (c) => (c["citadel:ladon"].thresholds = { gpuPowerRatio: 0.9 }),
    expect: { "ladon-citadel-prometheus-rules": "replace" },
  },
  {
    change: "Loki retention",
    config: (c) => (c["citadel:ladon"].loki.retentionPeriod = "336h"),
    // The tenant's override in runtime.yaml, which Loki re-reads; loki.yaml keeps a fixed fallback.
    expect: { "ladon-citadel-loki-runtime": "replace" },
  },
  {
    change: "Prometheus retention",
    config: (c) => (c["citadel:ladon"].prometheus.retentionTime = "60d"),
    // In prometheus.yml (storage.tsdb.retention): its config step rewrites it and reloads.
    expect: { "ladon-citadel-prometheus-config": "replace" },
  },
  {
    change: "add a secondary disk",
    config: (c) =>
      host(c).storage.disks.push({
        device: "/dev/sdb",
        filesystem: "ext4",
        label: "archive",
        mountPoint: "/srv/archive",
        mountOptions: ["defaults", "noatime"],
      }),
    // The drift timer carries the host's checks, and a new mount is one: it is reinstalled.
    expect: { "citadel-storage-disk-archive": "create", "citadel-drift-timer": "replace" },
  },
  {
    change: "Grafana admin password",
    expect: { "ladon-citadel-grafana-admin-password": "update", "ladon-grafana-provider": "update" },
  },
  {
    change: "Prometheus password",
    // The hash, the password file and the host's netrc are rewritten from stdin (in-place
    // updates); Grafana's datasource gets the new secure JSON. No container restarts: Prometheus
    // re-reads its web config on every request.
    expect: {
      "ladon-citadel-prometheus-web-config": "update",
      "ladon-citadel-prometheus-web-password": "update",
      "ladon-citadel-prometheus-client-netrc": "update",
      "ladon-grafana-prometheus": "update",
    },
  },
  {
    change: "NVIDIA driver branch",
    config: (c) => (host(c).nvidia.driver.branch = "590"),
    expect: {
      "citadel-nvidia-driver": "replace",
      "citadel-nvidia-reboot": "replace",
      "citadel-nvidia-verify": "replace",
      // The drift timer checks the driver branch, so it is reinstalled with the new one.
      "citadel-drift-timer": "replace",
    },
  },
  {
    change: "a new alert receiver",
    config: (c) =>
      (c["citadel:ladon"].alertmanager.webhooks = [
        { name: "hades", url: "http://192.168.10.30:5001/alerts" },
      ]),
    expect: { "ladon-citadel-alertmanager-config": "replace" },
  },
];

/** Secrets a row changes, as `pulumi config set --secret` would. */
export const BLAST_SECRETS: Record<string, Record<string, string>> = {
  "Grafana admin password": { grafanaAdminPassword: "a-new-and-long-grafana-password" },
  "Prometheus password": { prometheusPassword: "0a1b2c3d4e5f60718293a4b5c6d7e8f9" },
};

/** The program with a row's code-level overrides. */
export function programWith(overrides: LabOverrides = {}) {
  return (): Record<string, unknown> => {
    const { lab, secrets, plan } = loadLab();
    return buildLab(lab, secrets, overrides, plan).outputs;
  };
}

const isStep = (r: ResourceRecord) => COMMAND_TYPES.has(r.type);

/**
 * The longest chain of dependent steps, counting remote (and local) commands, from each
 * resource's dependsOn. Independent steps start together, so this chain bounds a first `up`.
 */
export function criticalPath(result: SynthResult): { length: number; chain: string[] } {
  const byUrn = new Map(result.resources.map((r) => [r.urn, r]));
  const memo = new Map<string, { length: number; chain: string[] }>();
  const visit = (r: ResourceRecord): { length: number; chain: string[] } => {
    const known = memo.get(r.urn);
    if (known) return known;
    let best = { length: 0, chain: [] as string[] };
    for (const dep of r.dependsOn) {
      const d = byUrn.get(dep);
      if (!d) continue;
      const p = visit(d);
      if (p.length > best.length) best = p;
    }
    const self = isStep(r) ? 1 : 0;
    const out = { length: best.length + self, chain: [...best.chain, r.name] };
    memo.set(r.urn, out);
    return out;
  };
  let longest = { length: 0, chain: [] as string[] };
  for (const r of result.resources.filter((x) => x.custom)) {
    const p = visit(r);
    if (p.length > longest.length || (p.length === longest.length && p.chain.length > longest.chain.length))
      longest = p;
  }
  return longest;
}

export const BLAST_HEAD = [
  "change",
  "changed",
  "updates",
  "replaces",
  "creates",
  "containers replaced",
  "running services",
  "resources",
];

/** What each single-knob change of BLAST_RADIUS does to the plan of `stackFile`, as table rows. */
export async function blastRadiusRows(
  stackFile: string,
  result: SynthResult,
  progress: (i: number, change: string) => void = () => undefined,
): Promise<string[][]> {
  const rows: string[][] = [];
  const configMap = () => parse(readFileSync(stackFile, "utf8")).config as Record<string, unknown>;
  for (const [i, row] of BLAST_RADIUS.entries()) {
    progress(i, row.change);
    const config = configMap();
    row.config?.(config);
    const variant = await synthesize({
      stack: fromConfigMap(config),
      program: programWith(row.overrides?.()),
      secrets: BLAST_SECRETS[row.change] ?? {},
    });
    const changes = diffPlans(result, variant);
    const count = (effect: string) => String(changes.filter((c) => c.effect === effect).length);
    const containersReplaced = changes.filter(
      (c) => c.effect === "replace" && c.type === "docker:index/container:Container",
    ).length;
    rows.push([
      row.change,
      String(changes.length),
      count("update"),
      count("replace"),
      count("create"),
      String(containersReplaced),
      appliedBy(
        variant,
        changes.map((c) => c.name),
      ),
      changes.map((c) => c.name).join(", "),
    ]);
  }
  return rows;
}

/**
 * How the changed config steps reach their running service (service-files.sh's RELOAD): `reload`
 * (an HTTP reload), `restart`, or `re-read` (the service watches the file itself).
 */
function appliedBy(variant: SynthResult, names: string[]): string {
  const how = names.flatMap((name) => {
    const create = String(variant.resources.find((r) => r.name === name)?.rawInputs.create ?? "");
    const reload = /^export RELOAD='([^']*)'$/m.exec(create)?.[1];
    const container = /^export CONTAINER='([^']*)'$/m.exec(create)?.[1];
    if (reload === undefined || container === undefined) return [];
    const verb = reload.startsWith("http:") ? "reload" : reload === "restart" ? "restart" : "re-read";
    return [`${container} ${verb}`];
  });
  return [...new Set(how)].join(", ") || "-";
}
