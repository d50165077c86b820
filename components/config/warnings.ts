/**
 * What is legal but probably not meant: config namespaces nothing reads, names that point at
 * another model, an admin subnet without the lab in it. Warnings never stop a run; typos of the
 * `citadel` namespace itself are refused, since they drop a whole section silently.
 */
import { isIP } from "node:net";
import { MODEL_CATALOG } from "../shared/models";
import { cidrContains } from "./ops";
import type { LabConfig } from "./schema";

/** A config key outside `citadel:` and what is wrong with it, as the loader reports it. */
export interface Finding {
  path: string;
  message: string;
}

/**
 * Namespaces a stack file may hold besides `citadel`: Pulumi's own (`pulumi:tags`,
 * `pulumi:disable-default-providers`, ...) and those of the provider packages the program uses
 * (package.json: @pulumi/docker, @pulumi/command, @pulumiverse/grafana), which configure their
 * default providers.
 */
export const KNOWN_NAMESPACES = ["pulumi", "docker", "command", "grafana"] as const;

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

/** The known name closest to `name` (case-insensitive), when it is close enough to be a typo. */
export function closest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const scored = known
    .map((k) => ({ k, d: editDistance(lower, k.toLowerCase()) }))
    .sort((x, y) => x.d - y.d || (x.k < y.k ? -1 : 1));
  const best = scored[0];
  if (!best) return undefined;
  const limit = Math.max(1, Math.min(2, Math.floor(best.k.length / 3)));
  return best.d <= limit ? best.k : undefined;
}

/**
 * Keys of other namespaces: a namespace that is a typo of `citadel` is refused (its section
 * would be dropped), any other that nothing reads is a warning.
 */
export function namespaceFindings(
  foreignKeys: readonly string[],
  namespace: string,
): { problems: Finding[]; warnings: Finding[] } {
  const problems: Finding[] = [];
  const warnings: Finding[] = [];
  for (const key of [...foreignKeys].sort()) {
    const ns = key.split(":")[0] as string;
    const rest = key.slice(ns.length + 1);
    if ((KNOWN_NAMESPACES as readonly string[]).includes(ns)) continue;
    // Another case of the namespace is at distance 0: a typo as well.
    if (editDistance(ns.toLowerCase(), namespace) <= 2) {
      problems.push({
        path: key,
        message: `namespace "${ns}" is not "${namespace}", so nothing reads this section and the lab would be planned without it; rename the key to ${namespace}:${rest}`,
      });
      continue;
    }
    const near = closest(ns, KNOWN_NAMESPACES);
    warnings.push({
      path: key,
      message: `nothing reads the namespace "${ns}" (the program reads ${namespace}:, and Pulumi and its providers read ${KNOWN_NAMESPACES.map((n) => `${n}:`).join(", ")})${near ? `; did you mean ${near}:${rest}?` : "; remove the key"}`,
    });
  }
  return { problems, warnings };
}

/** The short name a model id suggests to clients: "Qwen/Qwen3-8B" is "qwen3-8b". */
function shortName(model: string): string {
  return (model.split("/").pop() ?? model).toLowerCase();
}

/** Legal settings that are probably mistakes, each at its key (without the namespace). */
export function labWarnings(lab: LabConfig): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  for (const [name, server] of Object.entries(lab.vllm?.servers ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const served = server.servedModelName?.toLowerCase();
    if (served === undefined) continue;
    const other = Object.keys(MODEL_CATALOG).find(
      (id) => id !== server.model && (id.toLowerCase() === served || shortName(id) === served),
    );
    if (other && !(served === shortName(server.model) || served === server.model.toLowerCase())) {
      out.push({
        path: ["vllm", "servers", name, "servedModelName"],
        message: `"${server.servedModelName}" names ${other}, but this server serves ${server.model}; clients asking for it get another model than they think. Set it to a name for ${server.model} (e.g. ${shortName(server.model)}), or remove it`,
      });
    }
  }
  const firewall = lab.ops.firewall;
  if (firewall) {
    const addresses = Object.entries(lab.hosts).filter(([, h]) => isIP(h.address) === 4);
    if (addresses.length > 0 && !addresses.some(([, h]) => cidrContains(firewall.adminSubnet, h.address))) {
      out.push({
        path: ["ops", "firewall", "adminSubnet"],
        message: `${firewall.adminSubnet} contains no host of the lab (${addresses.map(([n, h]) => `${n} ${h.address}`).join(", ")}); SSH is allowed only from there, so check it holds the machine that runs pulumi`,
      });
    }
  }
  for (const [name, host] of Object.entries(lab.hosts)) {
    if (host.storage?.lvm?.size === "all-free" && lab.ladon && lab.ladon.thresholds.vgFreeRatio !== "off") {
      out.push({
        path: ["hosts", name, "storage", "lvm", "size"],
        message: `all-free leaves the volume group no free extents, so LvmVolumeGroupNearlyFull fires for good; set ladon.thresholds.vgFreeRatio: off, or give a size`,
      });
    }
  }
  return out;
}
