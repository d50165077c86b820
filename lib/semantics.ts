/**
 * The one table of provider semantics: how each provider applies a change to a resource's inputs
 * (update in place or replace). `npm run diff`, the benchmark's blast-radius table and the tests
 * all classify changes through `effectOf`.
 */

export type Effect = "create" | "delete" | "update" | "replace";

/** The command provider's resource types: a host step each. */
export const COMMAND_TYPES: ReadonlySet<string> = new Set([
  "command:remote:Command",
  "command:local:Command",
]);

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
 * container. The program hashes them into a label (components/shared/render.ts recreateLabel), so
 * in practice their change is a replace.
 */
export const CONTAINER_UNAPPLIED = new Set(["healthcheck", "tmpfs", "init", "cpuPeriod", "cpuQuota"]);

/** How a provider applies a change to `keys` of a resource of `type`. */
export function effectOf(
  type: string,
  keys: string[],
  before?: Record<string, unknown>,
  after?: Record<string, unknown>,
): "update" | "replace" {
  if (COMMAND_TYPES.has(type)) {
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

function dashboardUid(inputs?: Record<string, unknown>): unknown {
  const json = inputs?.configJson;
  return typeof json === "string" ? (JSON.parse(json) as { uid?: unknown }).uid : undefined;
}

/** Container inputs of a change that the provider would record but not apply. */
export function unappliedKeys(type: string, keys: string[]): string[] {
  return type === "docker:index/container:Container" ? keys.filter((k) => CONTAINER_UNAPPLIED.has(k)) : [];
}
