/**
 * Pure helpers the renderers share: stable key order, and the container facts every container
 * (LadonStack services and vLLM) applies the same way. No Pulumi import: renderers and the plan
 * use these without loading a ComponentResource module.
 */
import { createHash } from "node:crypto";

/** The create/update/delete timeouts of a container (a `pulumi.CustomTimeouts`). */
export interface ContainerTimeouts {
  create: string;
  update: string;
  delete: string;
}

/** Deep-sorts object keys; arrays keep their order. */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeys) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    ) as T;
  }
  return value;
}

/**
 * Container inputs the docker provider records as in-place updates but never applies to the
 * running container: its Update (kreuzwerker terraform-provider-docker,
 * internal/provider/resource_docker_container_funcs.go, which @pulumi/docker v5 bridges) applies
 * only restart, memory, CPU shares and set, swap and block-IO limits. A change to one of these
 * would leave the container running with the old setting while the state says otherwise.
 */
export const UNAPPLIED_CONTAINER_INPUTS = ["healthcheck", "tmpfs", "init", "cpuPeriod", "cpuQuota"] as const;

/** The label that carries a hash of the unapplied inputs. */
export const RECREATE_LABEL = "org.hana-x.citadel.recreate-hash";

/**
 * A label whose value hashes the container's unapplied inputs: labels force a new container, so a
 * change to any of them replaces the container instead of drifting from it.
 */
export function recreateLabel(args: Record<string, unknown>): { label: string; value: string } {
  const watched = Object.fromEntries(UNAPPLIED_CONTAINER_INPUTS.map((k) => [k, args[k] ?? null]));
  const value = createHash("sha256")
    .update(JSON.stringify(sortKeys(watched)))
    .digest("hex")
    .slice(0, 16);
  return { label: RECREATE_LABEL, value };
}

/**
 * Create and update timeouts that outlast `wait`: the provider's default is 20 minutes for each,
 * and `wait`/`waitTimeout` run inside the create (resource_docker_container.go Timeouts), so a
 * longer start would fail the `up` and leave the container running.
 */
export function containerTimeouts(waitSeconds: number): ContainerTimeouts {
  const minutes = Math.max(20, Math.ceil(waitSeconds / 60) + 10);
  return { create: `${minutes}m`, update: `${minutes}m`, delete: "10m" };
}
