/**
 * What `pulumi up` would do between two plans, without running it: which resources' inputs
 * change, and whether each provider updates them in place or replaces them. Plus the blast-radius
 * table (single-knob changes and what they may touch) and the critical path of remote steps.
 */
import { loadLabConfig } from "../components/config";
import { dashboards } from "../components/ladon/dashboards";
import { buildLab, type LabOverrides } from "../components/lab";
import type { ResourceRecord, SynthResult } from "./synth/harness";

export type Effect = "create" | "delete" | "update" | "replace";

export interface Change {
  name: string;
  type: string;
  effect: Effect;
  /** Top-level inputs whose values differ. */
  keys: string[];
}

/**
 * Container inputs whose change the docker provider applies in place. Read in kreuzwerker
 * terraform-provider-docker internal/provider/resource_docker_container.go (which fields are not
 * ForceNew) and resource_docker_container_funcs.go (what Update sends to `docker update`), which
 * @pulumi/docker v5 bridges: Update applies only these to the running container.
 */
const CONTAINER_APPLIED = new Set([
  "restart",
  "maxRetryCount",
  "cpuShares",
  "cpuSet",
  "memory",
  "memoryReservation",
  "memorySwap",
  "blkioWeight",
  "blkioDeviceReadBps",
  "blkioDeviceWriteBps",
  "blkioDeviceReadIops",
  "blkioDeviceWriteIops",
]);
/** Provider-side settings: an update changes only how the provider manages the container. */
const CONTAINER_PROVIDER_ONLY = new Set([
  "mustRun",
  "wait",
  "waitTimeout",
  "destroyGraceSeconds",
  "start",
  "removeVolumes",
]);
/**
 * Not ForceNew, yet Update never sends them: recorded as in-place updates that do not reach the
 * container. The program hashes them into a label (components/host/docker.ts recreateLabel), so
 * in practice their change is a replace.
 */
export const CONTAINER_UNAPPLIED = new Set(["healthcheck", "tmpfs", "init", "cpuPeriod", "cpuQuota"]);

/** How a provider applies a change to `keys` of a resource of `type`. */
export function effectOf(
  type: string,
  keys: string[],
  before?: ResourceRecord,
  after?: ResourceRecord,
): "update" | "replace" {
  if (type === "command:remote:Command" || type === "command:local:Command") {
    // The command SDK marks triggers replaceOnChanges (pulumi-command #855); create alone is an update.
    return keys.includes("triggers") ? "replace" : "update";
  }
  if (type === "docker:index/container:Container") {
    const inPlace = (k: string) =>
      CONTAINER_APPLIED.has(k) || CONTAINER_PROVIDER_ONLY.has(k) || CONTAINER_UNAPPLIED.has(k);
    return keys.every(inPlace) ? "update" : "replace";
  }
  if (type === "docker:index/remoteImage:RemoteImage")
    return keys.some((k) => ["name", "platform", "pullTriggers", "triggers"].includes(k))
      ? "replace"
      : "update";
  if (type === "docker:index/network:Network") return "replace";
  if (type === "grafana:oss/dashboard:Dashboard") {
    // A changed uid inside configJson is a new dashboard (resource_dashboard.go: uid is ForceNew).
    if (keys.includes("configJson") && dashboardUid(before) !== dashboardUid(after)) return "replace";
    return keys.some((k) => ["orgId"].includes(k)) ? "replace" : "update";
  }
  if (type.startsWith("grafana:"))
    return keys.includes("uid") || keys.includes("orgId") ? "replace" : "update";
  return "update";
}

function dashboardUid(r?: ResourceRecord): unknown {
  const json = r?.rawInputs.configJson;
  return typeof json === "string" ? (JSON.parse(json) as { uid?: unknown }).uid : undefined;
}

/** Container inputs of a change that the provider would record but not apply. */
export function unappliedKeys(type: string, keys: string[]): string[] {
  return type === "docker:index/container:Container" ? keys.filter((k) => CONTAINER_UNAPPLIED.has(k)) : [];
}

/** The changes `pulumi up` would make to go from plan `a` to plan `b`. Components have no inputs and are skipped. */
export function diffPlans(a: SynthResult, b: SynthResult): Change[] {
  const custom = (r: SynthResult) => new Map(r.resources.filter((x) => x.custom).map((x) => [x.name, x]));
  const before = custom(a);
  const after = custom(b);
  const changes: Change[] = [];
  for (const [name, r] of after) {
    const old = before.get(name);
    if (!old) {
      changes.push({ name, type: r.type, effect: "create", keys: [] });
      continue;
    }
    const keys = [...new Set([...Object.keys(old.rawInputs), ...Object.keys(r.rawInputs)])]
      .filter((k) => JSON.stringify(old.rawInputs[k]) !== JSON.stringify(r.rawInputs[k]))
      .sort();
    if (keys.length > 0) changes.push({ name, type: r.type, effect: effectOf(r.type, keys, old, r), keys });
  }
  for (const [name, r] of before)
    if (!after.has(name)) changes.push({ name, type: r.type, effect: "delete", keys: [] });
  return changes.sort((x, y) => (x.name < y.name ? -1 : 1));
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
    change: "vLLM model",
    config: (c) => (c["citadel:vllm"].model = "Qwen/Qwen2.5-7B-Instruct"),
    expect: { "vllm-container": "replace" },
  },
  {
    change: "vLLM max-model-len",
    config: (c) => (c["citadel:vllm"].maxModelLen = 16384),
    expect: { "vllm-container": "replace" },
  },
  {
    change: "vLLM startup timeout (its healthcheck)",
    config: (c) => (c["citadel:vllm"].startupTimeoutSeconds = 3600),
    // The healthcheck's start period is one the provider would never apply: the recreate label
    // carries it, so the container is replaced.
    expect: { "vllm-container": "replace" },
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
    // Global and per tenant (renderLokiConfig): the main config's step restarts Loki.
    expect: { "ladon-citadel-loki-config": "replace", "ladon-citadel-loki-runtime": "replace" },
  },
  {
    change: "Prometheus retention",
    config: (c) => (c["citadel:ladon"].prometheus.retentionTime = "60d"),
    expect: { "ladon-citadel-prometheus-container": "replace" },
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
    expect: { "citadel-storage-disk-archive": "create" },
  },
  {
    change: "Grafana admin password",
    expect: { "ladon-citadel-grafana-admin-password": "update", "ladon-grafana-provider": "update" },
  },
  {
    change: "NVIDIA driver branch",
    config: (c) => (host(c).nvidia.driver.branch = "590"),
    expect: {
      "citadel-nvidia-driver": "replace",
      "citadel-nvidia-reboot": "replace",
      "citadel-nvidia-verify": "replace",
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
};

/** The program with a row's code-level overrides. */
export function programWith(overrides: LabOverrides = {}) {
  return (): Record<string, unknown> => {
    const { lab, secrets } = loadLabConfig();
    return buildLab(lab, secrets, overrides).outputs;
  };
}

const isStep = (r: ResourceRecord) =>
  r.type === "command:remote:Command" || r.type === "command:local:Command";

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
