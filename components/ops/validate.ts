/**
 * Post-deploy validation: what the converged lab must look like, checked against what the probe
 * script printed on each host. Pure: sections in, pass/fail results out.
 */
import type { LabConfig } from "../config/schema";
import { parseSize } from "../config/units";
import { servedModelName, serversOf, vllmContainer } from "../config/vllm";
import { SERVICES } from "../plan/services";
import { planService } from "../ladon/containers";
import { resolveLadon } from "../plan/ladon-resolve";
import { PROBE_HEALTH } from "./probe";

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

/**
 * What Docker shows for a container that is well: `healthy` when its registered config has a
 * healthcheck, `running` when it has none. Docker adds a health state to the status only when the
 * container has a healthcheck: `Up 3 hours (healthy)` or `Up 3 hours` (State.String in
 * container/state.go@v28.5.2, which `docker ps`'s `{{.Status}}` prints through container/view.go).
 */
export type ContainerState = "healthy" | "running";

/** The containers a host should run, each with the state it shows when it is well. */
export function expectedContainers(lab: LabConfig, host: string): { name: string; state: ContainerState }[] {
  const config = lab.hosts[host];
  const ladon = lab.ladon && config ? resolveLadon(lab, lab.ladon) : undefined;
  const services = ladon?.placement[host] ?? [];
  const stack = services.map((s) => ({
    name: SERVICES[s].container,
    // The same container arguments the stack registers (ladon/stack.ts).
    state: (planService(s, ladon as NonNullable<typeof ladon>, host, config as NonNullable<typeof config>)
      .container.healthcheck
      ? "healthy"
      : "running") as ContainerState,
  }));
  // Every vLLM server's container has its readiness healthcheck (llm/vllm.ts, renderHealthcheck).
  const vllm =
    lab.vllm?.host === host
      ? serversOf(lab.vllm).map(([name]) => ({ name: vllmContainer(name), state: "healthy" as const }))
      : [];
  return [...stack, ...vllm].sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** The probe's VLLM_SERVERS for a host: `<container>|<kind>|<served name>` per server on it. */
export function probeServers(lab: LabConfig, host: string): string {
  if (lab.vllm?.host !== host) return "";
  return serversOf(lab.vllm)
    .map(([name, s]) => `${vllmContainer(name)}|${s.kind}|${servedModelName(s)}`)
    .join(" ");
}

/**
 * One check of a host, as data: the check list is built once here (`hostExpectations`) and read
 * by both evaluators, `evaluateHost` below and the host's own `scripts/drift_eval.py`, which the
 * hourly drift timer runs where there is no Node. Each `kind` means the same test in both.
 */
export type Expectation = { check: string } & (
  | { kind: "lvm"; vg: string; lv: string; size: string; minBytes: number }
  | { kind: "mount"; mountPoint: string }
  | { kind: "raid"; count: number }
  | { kind: "gpus"; count: number; branch: string }
  | { kind: "nvidia-runtime" }
  | { kind: "container"; name: string; state: ContainerState }
  | { kind: "vllm-models"; container: string; served: string }
  | { kind: "vllm-pooling"; section: string; path: string; what: string }
  | { kind: "prometheus-targets" }
  | { kind: "http-200"; section: string }
  | { kind: "timers-active"; count: number }
  | { kind: "backup-fresh"; maxAgeHours: number }
  | { kind: "firewall" }
  | { kind: "docker-user" }
);

/** What `npm run validate` checks on a host, in report order. Pure; plan-time values only. */
export function hostExpectations(lab: LabConfig, host: string): Expectation[] {
  const config = lab.hosts[host];
  if (!config) throw new Error(`no host ${host}`);
  const out: Expectation[] = [];
  const lvm = config.storage?.lvm;
  if (lvm) {
    const target = lvm.size === "all-free" ? (parseSize(lvm.currentSize) ?? 0) : (parseSize(lvm.size) ?? 0);
    out.push({ check: "LVM size", kind: "lvm", vg: lvm.vg, lv: lvm.lv, size: lvm.size, minBytes: target });
  }
  const raids = config.storage?.raids ?? [];
  for (const { mountPoint } of [...(config.storage?.disks ?? []), ...raids])
    out.push({ check: `mount ${mountPoint}`, kind: "mount", mountPoint });
  if (raids.length > 0) out.push({ check: "RAID arrays whole", kind: "raid", count: raids.length });
  if (config.nvidia) {
    const { gpus, driver } = config.nvidia;
    out.push({ check: "GPUs", kind: "gpus", count: gpus.count, branch: driver.branch });
    out.push({ check: "Docker nvidia runtime", kind: "nvidia-runtime" });
  }
  for (const { name, state } of expectedContainers(lab, host))
    out.push({ check: `container ${name}`, kind: "container", name, state });
  for (const [name, server] of lab.vllm?.host === host ? serversOf(lab.vllm) : []) {
    const container = vllmContainer(name);
    out.push({
      check: `vLLM ${name} /v1/models`,
      kind: "vllm-models",
      container,
      served: servedModelName(server),
    });
    const pooling = {
      embed: ["embeddings", "/v1/embeddings", "a vector of"],
      // vLLM's own path: `/v1/rerank` logs a deprecation warning (pooling/scoring/api_router.py@v0.34.0).
      rerank: ["rerank", "/rerank", "results:"],
    };
    if (server.kind !== "generate") {
      const [section, path, what] = pooling[server.kind] as [string, string, string];
      out.push({
        check: `vLLM ${name} ${path}`,
        kind: "vllm-pooling",
        section: `vllm-${section}-${container}`,
        path,
        what,
      });
    }
  }
  if (lab.ladon?.host === host) {
    out.push({ check: "Prometheus targets up", kind: "prometheus-targets" });
    for (const { service: svc } of PROBE_HEALTH)
      out.push({ check: `${svc} healthy`, kind: "http-200", section: `health-${svc}` });
  }
  if (lab.ops.backups?.host === host) {
    out.push({ check: "backup timers active", kind: "timers-active", count: 3 });
    const maxAgeHours = lab.ladon?.thresholds.backupMaxAgeHours ?? 26;
    out.push({ check: "last backup fresh", kind: "backup-fresh", maxAgeHours });
  }
  if (lab.ops.firewall) {
    out.push({ check: "firewall", kind: "firewall" });
    out.push({ check: "DOCKER-USER rules", kind: "docker-user" });
  }
  return out;
}

export function evaluateHost(lab: LabConfig, host: string, output: string): CheckResult[] {
  return evaluateExpectations(host, hostExpectations(lab, host), output);
}

/** The checks against the probe's output. Keep each kind in step with `scripts/drift_eval.py`. */
export function evaluateExpectations(
  host: string,
  expectations: Expectation[],
  output: string,
): CheckResult[] {
  const s = parseProbe(output);
  const text = (name: string) => s.get(name)?.text ?? "";
  const ran = (name: string) => s.has(name) && s.get(name)?.rc === 0;
  const states = new Map(
    text("containers")
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        const [name, state, status] = l.split("|");
        return [name as string, { state, status: status ?? "" }] as const;
      }),
  );
  const one = (e: Expectation): [boolean, string] => {
    switch (e.kind) {
      case "lvm": {
        const line = text("lvs")
          .split("\n")
          .map((l) => l.trim().split("|"))
          .find(([vg, lv]) => vg === e.vg && lv === e.lv);
        const size = Number(line?.[2] ?? 0);
        return [
          size >= e.minBytes,
          line ? `${e.vg}/${e.lv} is ${size} bytes, target ${e.size}` : `${e.vg}/${e.lv} not found`,
        ];
      }
      case "mount": {
        const mounted = text("findmnt")
          .split("\n")
          .some((l) => l.split(" ")[1] === e.mountPoint);
        const byUuid = text("fstab")
          .split("\n")
          .some((l) => /^UUID=\S+\s/.test(l) && l.split(/\s+/)[1] === e.mountPoint);
        return [
          mounted && byUuid,
          `${mounted ? "mounted" : "not mounted"}, ${byUuid ? "in fstab by UUID" : "no fstab entry by UUID"}`,
        ];
      }
      case "raid": {
        const arrays = mdstatArrays(text("mdstat"));
        const unwell = arrays.filter((a) => !a.active || a.members < a.wanted);
        return [
          arrays.length >= e.count && unwell.length === 0,
          arrays.length === 0
            ? `no md array running; config declares ${e.count}`
            : arrays
                .map((a) => `${a.device} ${a.active ? "active" : "inactive"} [${a.wanted}/${a.members}]`)
                .join(", "),
        ];
      }
      case "gpus": {
        const gpus = ran("nvidia-smi") ? text("nvidia-smi").split("\n").filter(Boolean) : [];
        const drivers = [...new Set(gpus.map((g) => g.split(", ")[2]?.split(".")[0]))];
        const ok = gpus.length === e.count && drivers.length === 1 && drivers[0] === e.branch;
        return [
          ok,
          ran("nvidia-smi")
            ? `${gpus.length} GPUs on driver ${drivers.join(", ") || "?"} (want ${e.count} on ${e.branch})`
            : "nvidia-smi failed",
        ];
      }
      case "nvidia-runtime": {
        let runtimes: unknown;
        try {
          runtimes = JSON.parse(text("docker-runtimes") || "{}");
        } catch {
          runtimes = {};
        }
        const ok = typeof runtimes === "object" && runtimes !== null && "nvidia" in runtimes;
        return [ok, ok ? "present" : "missing from docker info"];
      }
      case "container": {
        // `{{.State}}` is `running` also for an unhealthy container; only the status carries health.
        const c = states.get(e.name);
        const well = c?.state === "running" && (e.state === "running" || /\(healthy\)$/.test(c.status));
        return [well, c ? `${c.state}: ${c.status}` : "not found"];
      }
      case "vllm-models": {
        const section = `vllm-models-${e.container}`;
        const models = text(section).split("\n");
        const answered = ran(section);
        return [
          answered && models.includes(e.served),
          answered
            ? `serves ${models.filter(Boolean).join(", ") || "nothing"}`
            : "no answer with the API key",
        ];
      }
      case "vllm-pooling": {
        const out = text(e.section);
        const ok = ran(e.section) && Number(out) > 0;
        return [ok, ok ? `${e.what} ${out}` : `no answer: ${out || "nothing"}`];
      }
      case "prometheus-targets":
        try {
          const targets = (
            JSON.parse(text("prometheus-targets")) as {
              data: { activeTargets: { health: string; labels: { job: string; instance: string } }[] };
            }
          ).data.activeTargets;
          const down = targets
            .filter((t) => t.health !== "up")
            .map((t) => `${t.labels.job}/${t.labels.instance}`);
          return [
            targets.length > 0 && down.length === 0,
            down.length ? `down: ${down.join(", ")}` : `${targets.length} targets up`,
          ];
        } catch {
          return [false, "Prometheus did not answer"];
        }
      case "http-200": {
        const code = text(e.section);
        return [code === "200", `HTTP ${code || "no answer"}`];
      }
      case "timers-active": {
        const timers = text("timers").split("\n");
        return [timers.length === e.count && timers.every((t) => t === "active"), timers.join(", ")];
      }
      case "backup-fresh": {
        const last = Number(
          /^citadel_backup_last_success_timestamp_seconds (\d+)/m.exec(text("backup-metrics"))?.[1] ?? 0,
        );
        const ageHours = (Number(text("now")) - last) / 3600;
        return [
          last > 0 && ageHours <= e.maxAgeHours,
          last ? `${ageHours.toFixed(1)} h ago (limit ${e.maxAgeHours} h)` : "no successful backup yet",
        ];
      }
      case "firewall": {
        const ufw = text("ufw");
        return [
          /^Status: active/m.test(ufw) && /^Default: deny \(incoming\)/m.test(ufw),
          ufw.split("\n").slice(0, 2).join("; ") || "ufw did not answer",
        ];
      }
      case "docker-user":
        return [
          /^-A DOCKER-USER -j DROP$/m.test(text("docker-user")),
          /-j DROP/.test(text("docker-user"))
            ? "drops unlisted sources"
            : "no DROP rule: published ports bypass the firewall",
        ];
    }
  };
  return expectations.map((e) => {
    const [ok, detail] = one(e);
    return { host, check: e.check, ok, detail };
  });
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
