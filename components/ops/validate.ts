/**
 * Post-deploy validation: what the converged lab must look like, checked against what the probe
 * script printed on each host. Pure: sections in, pass/fail results out.
 */
import type { LabConfig } from "../config/schema";
import { parseSize } from "../config/units";
import { servedModelName } from "../config/vllm";
import { SERVICES, type ServiceName } from "../ladon/catalog";
import { placement } from "../ladon/plan";

export interface CheckResult {
  host: string;
  check: string;
  ok: boolean;
  detail: string;
}

/** The probe's output split into sections: name -> { rc, text }. */
export function parseProbe(output: string): Map<string, { rc: number; text: string }> {
  const sections = new Map<string, { rc: number; text: string }>();
  let current: { name: string; rc: number; lines: string[] } | undefined;
  const flush = () =>
    current && sections.set(current.name, { rc: current.rc, text: current.lines.join("\n").trim() });
  for (const line of output.split("\n")) {
    const head = /^### (\S+) rc=(\d+)$/.exec(line);
    if (head) {
      flush();
      current = { name: head[1] as string, rc: Number(head[2]), lines: [] };
    } else current?.lines.push(line);
  }
  flush();
  return sections;
}

/** The containers a host should run. */
export function expectedContainers(lab: LabConfig, host: string): string[] {
  const services: ServiceName[] = lab.ladon ? (placement(lab, lab.ladon)[host] ?? []) : [];
  return [...services.map((s) => SERVICES[s].container), ...(lab.vllm?.host === host ? ["vllm"] : [])].sort();
}

export function evaluateHost(lab: LabConfig, host: string, output: string): CheckResult[] {
  const config = lab.hosts[host];
  if (!config) throw new Error(`no host ${host}`);
  const s = parseProbe(output);
  const results: CheckResult[] = [];
  const add = (check: string, ok: boolean, detail: string) => results.push({ host, check, ok, detail });
  const text = (name: string) => s.get(name)?.text ?? "";
  const ran = (name: string) => s.has(name) && s.get(name)?.rc === 0;

  const lvm = config.storage?.lvm;
  if (lvm) {
    const line = text("lvs")
      .split("\n")
      .map((l) => l.trim().split("|"))
      .find(([vg, lv]) => vg === lvm.vg && lv === lvm.lv);
    const size = Number(line?.[2] ?? 0);
    const target = lvm.size === "all-free" ? (parseSize(lvm.currentSize) ?? 0) : (parseSize(lvm.size) ?? 0);
    add(
      "LVM size",
      size >= target,
      line ? `${lvm.vg}/${lvm.lv} is ${size} bytes, target ${lvm.size}` : `${lvm.vg}/${lvm.lv} not found`,
    );
  }
  const raids = config.storage?.raids ?? [];
  for (const { mountPoint } of [...(config.storage?.disks ?? []), ...raids]) {
    const mounted = text("findmnt")
      .split("\n")
      .some((l) => l.split(" ")[1] === mountPoint);
    const byUuid = text("fstab")
      .split("\n")
      .some((l) => /^UUID=\S+\s/.test(l) && l.split(/\s+/)[1] === mountPoint);
    add(
      `mount ${mountPoint}`,
      mounted && byUuid,
      `${mounted ? "mounted" : "not mounted"}, ${byUuid ? "in fstab by UUID" : "no fstab entry by UUID"}`,
    );
  }
  if (raids.length > 0) {
    const arrays = mdstatArrays(text("mdstat"));
    const unwell = arrays.filter((a) => !a.active || a.members < a.wanted);
    add(
      "RAID arrays whole",
      arrays.length >= raids.length && unwell.length === 0,
      arrays.length === 0
        ? `no md array running; config declares ${raids.length}`
        : arrays
            .map((a) => `${a.device} ${a.active ? "active" : "inactive"} [${a.wanted}/${a.members}]`)
            .join(", "),
    );
  }
  if (config.nvidia) {
    const gpus = ran("nvidia-smi") ? text("nvidia-smi").split("\n").filter(Boolean) : [];
    const drivers = [...new Set(gpus.map((g) => g.split(", ")[2]?.split(".")[0]))];
    const ok =
      gpus.length === config.nvidia.gpus.count &&
      drivers.length === 1 &&
      drivers[0] === config.nvidia.driver.branch;
    add(
      "GPUs",
      ok,
      ran("nvidia-smi")
        ? `${gpus.length} GPUs on driver ${drivers.join(", ") || "?"} (want ${config.nvidia.gpus.count} on ${config.nvidia.driver.branch})`
        : "nvidia-smi failed",
    );
    let runtimes: Record<string, unknown> = {};
    try {
      runtimes = JSON.parse(text("docker-runtimes") || "{}") as Record<string, unknown>;
    } catch {
      runtimes = {};
    }
    add(
      "Docker nvidia runtime",
      "nvidia" in runtimes,
      "nvidia" in runtimes ? "present" : "missing from docker info",
    );
  }
  const states = new Map(
    text("containers")
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        const [name, state, status] = l.split("|");
        return [name as string, { state, status: status ?? "" }] as const;
      }),
  );
  for (const name of expectedContainers(lab, host)) {
    const c = states.get(name);
    const healthy = c?.state === "running" && /\(healthy\)/.test(c.status);
    add(`container ${name}`, healthy, c ? `${c.state}: ${c.status}` : "not found");
  }
  if (lab.vllm?.host === host) {
    const served = servedModelName(lab.vllm);
    const models = text("vllm-models").split("\n");
    add(
      "vLLM /v1/models",
      ran("vllm-models") && models.includes(served),
      ran("vllm-models")
        ? `serves ${models.filter(Boolean).join(", ") || "nothing"}`
        : "no answer with the API key",
    );
  }
  if (lab.ladon?.host === host) {
    let down: string[] = [];
    let total = 0;
    try {
      const targets = (
        JSON.parse(text("prometheus-targets")) as {
          data: { activeTargets: { health: string; labels: { job: string; instance: string } }[] };
        }
      ).data.activeTargets;
      total = targets.length;
      down = targets.filter((t) => t.health !== "up").map((t) => `${t.labels.job}/${t.labels.instance}`);
      add(
        "Prometheus targets up",
        total > 0 && down.length === 0,
        down.length ? `down: ${down.join(", ")}` : `${total} targets up`,
      );
    } catch {
      add("Prometheus targets up", false, "Prometheus did not answer");
    }
    for (const svc of ["grafana", "loki", "alertmanager", "phoenix"]) {
      const code = text(`health-${svc}`);
      add(`${svc} healthy`, code === "200", `HTTP ${code || "no answer"}`);
    }
  }
  const backups = lab.ops.backups;
  if (backups?.host === host) {
    const timers = text("timers").split("\n");
    add(
      "backup timers active",
      timers.length === 3 && timers.every((t) => t === "active"),
      timers.join(", "),
    );
    const last = Number(
      /^citadel_backup_last_success_timestamp_seconds (\d+)/m.exec(text("backup-metrics"))?.[1] ?? 0,
    );
    const ageHours = (Number(text("now")) - last) / 3600;
    const maxAge = lab.ladon?.thresholds.backupMaxAgeHours ?? 26;
    add(
      "last backup fresh",
      last > 0 && ageHours <= maxAge,
      last ? `${ageHours.toFixed(1)} h ago (limit ${maxAge} h)` : "no successful backup yet",
    );
  }
  if (lab.ops.firewall) {
    const ufw = text("ufw");
    add(
      "firewall",
      /^Status: active/m.test(ufw) && /^Default: deny \(incoming\)/m.test(ufw),
      ufw.split("\n").slice(0, 2).join("; ") || "ufw did not answer",
    );
    add(
      "DOCKER-USER rules",
      /^-A DOCKER-USER -j DROP$/m.test(text("docker-user")),
      /-j DROP/.test(text("docker-user"))
        ? "drops unlisted sources"
        : "no DROP rule: published ports bypass the firewall",
    );
  }
  return results;
}

/**
 * The arrays in /proc/mdstat: `md127 : active raid10 sdd[3] ...` then a status line ending in
 * `[n/m] [UU_U]`, n the members the array wants and m those working (md.c, md_seq_show).
 */
export function mdstatArrays(
  mdstat: string,
): { device: string; active: boolean; wanted: number; members: number }[] {
  const lines = mdstat.split("\n");
  return lines.flatMap((line, i) => {
    const head = /^(md\S+) : (\S+)/.exec(line);
    if (!head) return [];
    const counts = /\[(\d+)\/(\d+)\]/.exec(lines[i + 1] ?? "");
    return [
      {
        device: head[1] as string,
        active: head[2] === "active",
        wanted: Number(counts?.[1] ?? 0),
        members: Number(counts?.[2] ?? 0),
      },
    ];
  });
}

/** The results as a table. */
export function renderResults(results: CheckResult[]): string {
  const rows = results.map((r) => [r.ok ? "PASS" : "FAIL", r.host, r.check, r.detail]);
  const widths = [4, ...[1, 2].map((i) => Math.max(...rows.map((r) => (r[i] as string).length), 5))];
  const failed = results.filter((r) => !r.ok).length;
  return [
    ...rows.map((r) => r.map((c, i) => (i < 3 ? c.padEnd(widths[i] as number) : c)).join("  ")),
    "",
    `${results.length - failed} passed, ${failed} failed`,
  ].join("\n");
}
