/**
 * The LadonStack, live: the real Prometheus, Alertmanager, Loki, Alloy, node_exporter and Phoenix
 * at the pinned versions, each started from its container's exact command, environment and
 * volumes in its own network and mount namespace, then checked through their own APIs.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import {
  concreteQuery,
  dashboardQueries,
  phoenixApiKey,
  phoenixTraceHeaders,
} from "../../../components/ladon";
import { LOKI_FALLBACK_RETENTION } from "../../../components/ladon/render/configs";
import { parseProbe } from "../../../components/ops/validate";
import { PROBE_HEALTH } from "../../../components/ops/probe";
import type { PinName } from "../../../components/pins";
import { CATALOG, SERVICES } from "../../../components/plan/services";
import { WEB_USER } from "../../../components/ladon/webauth";
import type { Installed } from "../../../lib/upstream";
import { venvPython } from "../../../lib/upstream/pypi";
import type { Ctx } from "./static";
import { inRoot, versionOf, withTool, expectOk } from "./static";
import type { Bind } from "./sandbox";
import { hostfs, serviceRun } from "./services";
import { JOURNAL_LINES, XID_LINE } from "./hostfs";
import { healthcheckChecks } from "./healthchecks";

/**
 * The services that run here, from the catalog: each with a readiness endpoint, by container name,
 * with its pin, the path it answers once ready and the container port it answers on.
 */
const READY: Record<string, { pin: PinName; path: string; port: number }> = Object.fromEntries(
  CATALOG.flatMap((s) =>
    s.ready
      ? [[s.container, { pin: s.name, path: s.ready.path, port: s.ports[s.ready.port]?.container as number }]]
      : [],
  ),
);

/** Where the checks listen for Alertmanager's webhook: in the lab bridge's namespace. */
export const WEBHOOK = { address: "10.213.0.1", port: 19093, path: "/alerts" } as const;

/** Seconds in a Prometheus-style duration such as `744h` or `31d` (Loki prints them that way). */
export function durationSeconds(d: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  const parts = [...d.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== d) throw new Error(`not a duration: ${d}`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2] as string] as number), 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, seconds: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await sleep(1000);
  }
  throw new Error(`${what}: not within ${seconds} s${last ? ` (${(last as Error).message})` : ""}`);
}

export async function liveChecks(ctx: Ctx): Promise<void> {
  const { sandbox, lab } = ctx;

  // Alertmanager's webhook receiver (the conformance overlay routes alerts to it).
  const received = path.join(ctx.dir, "webhook.jsonl");
  const receiver = startWebhook(ctx, received);

  // The Docker Engine API Alloy's container-log components talk to, with the lab's containers.
  const dockerApi = await startDockerApi(ctx);

  // The program's own secret steps write Prometheus's and Alertmanager's basic-auth files (the
  // bcrypt web configs, their passwords, the host's netrc files) into the simulated host first.
  await secretSteps(ctx);
  writeClientNetrc(ctx);

  const children: ChildProcess[] = [];
  for (const [name, { pin }] of Object.entries(READY)) {
    const tool = ctx.tools[pin];
    if (!tool) {
      ctx.run.missing(pin, versionOf(pin), `${name} starts`, `not installed: run npm run upstream -- ${pin}`);
      continue;
    }
    const { spec } = serviceRun(ctx.dir, lab.container(name), pin, tool);
    children.push(sandbox.start(spec));
  }
  try {
    await readiness(ctx);
    await healthcheckChecks(
      ctx,
      Object.fromEntries(Object.entries(READY).map(([name, { pin }]) => [name, pin])),
    );
    publishPorts(ctx);
    await prometheusChecks(ctx);
    await alertChecks(ctx, received);
    await accessChecks(ctx);
    await lokiChecks(ctx);
    await backupChecks(ctx);
    await nodeExporterChecks(ctx);
    await phoenixChecks(ctx);
  } finally {
    receiver.kill("SIGKILL");
    dockerApi.kill("SIGKILL");
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  }
}

function startWebhook(ctx: Ctx, file: string): ChildProcess {
  const script = path.join(__dirname, "webhook.py");
  return spawn("ip", [
    "netns",
    "exec",
    `${ctx.sandbox.id}-lab`,
    "python3",
    script,
    WEBHOOK.address,
    String(WEBHOOK.port),
    file,
  ]);
}

/** The log lines the Docker API stand-in streams for a lab container, one per stream. */
export function containerLines(name: string): { stdout: string[]; stderr: string[] } {
  return {
    stdout: [`level=info conformance: stdout line of container ${name}`],
    stderr: [`ERROR conformance: stderr line of container ${name}`],
  };
}

/**
 * Starts tests/tiers/conformance/docker_api.py on the socket the Alloy container mounts
 * (/var/run/docker.sock in its host's filesystem), serving the lab's containers on that host.
 */
async function startDockerApi(ctx: Ctx): Promise<ChildProcess> {
  const alloy = ctx.lab.container("alloy");
  const socket = path.join(hostfs(ctx.dir, alloy.host), "var/run/docker.sock");
  const list = ctx.lab.containers
    .filter((c) => c.host === alloy.host)
    .map((c, i) => ({
      name: c.name,
      id: createHash("sha256").update(c.name).digest("hex"),
      image: c.image,
      ip: `172.18.0.${i + 2}`,
      ...containerLines(c.name),
    }));
  const file = path.join(ctx.dir, "docker-containers.json");
  writeFileSync(file, JSON.stringify(list));
  const child = spawn("python3", [path.join(__dirname, "docker_api.py"), socket, file], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  await until("the Docker API stand-in's socket", 20, () => {
    if (child.exitCode !== null) throw new Error(`docker_api.py exited ${child.exitCode}: ${stderr}`);
    return existsSync(socket) && lstatSync(socket).isSocket() ? true : undefined;
  });
  return child;
}

/** `http://<name>:<port>` as seen from the lab bridge (the node exporter on its host's address). */
function base(ctx: Ctx, name: string): string {
  return `http://${ctx.sandbox.address(name)}:${READY[name]?.port}`;
}

/**
 * A request from the lab bridge. It logs in where the lab's basic auth asks (Prometheus and
 * Alertmanager, by address, from the run's netrc) unless `anonymous`.
 */
function get(
  ctx: Ctx,
  url: string,
  extra: string[] = [],
  anonymous = false,
): { status: number; body: string } {
  const login = anonymous ? [] : ["--netrc-file", path.join(ctx.dir, "clients.netrc")];
  const r = ctx.sandbox.curl(["-o", "-", "-w", "\n%{http_code}", ...login, ...extra, url]);
  const at = r.stdout.lastIndexOf("\n");
  return { status: Number(r.stdout.slice(at + 1)), body: r.stdout.slice(0, at) };
}

function json<T>(ctx: Ctx, url: string, extra: string[] = []): T {
  const r = get(ctx, url, extra);
  if (r.status !== 200) throw new Error(`GET ${url} -> ${r.status}: ${r.body.slice(0, 400)}`);
  return JSON.parse(r.body) as T;
}

/** A PromQL instant query against the live Prometheus: its result vector. */
function instant(ctx: Ctx, query: string): { metric: Record<string, string>; value: [number, string] }[] {
  type Vector = { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  return json<Vector>(ctx, `${base(ctx, "prometheus")}/api/v1/query`, [
    "-G",
    "--data-urlencode",
    `query=${query}`,
  ]).data.result;
}

async function readiness(ctx: Ctx): Promise<void> {
  for (const [name, r] of Object.entries(READY)) {
    if (!ctx.tools[r.pin]) continue;
    await ctx.run.check(
      name,
      versionOf(r.pin),
      `starts from its container's command and answers ${r.path}`,
      async () => {
        await until(`${name} ready`, name === "phoenix" ? 240 : 90, () => {
          const res = get(ctx, `${base(ctx, name)}${r.path}`);
          return res.status === 200 ? true : undefined;
        }).catch((e: Error) => {
          const log = path.join(ctx.sandbox.dir, "logs", `${name}.log`);
          const tail = existsSync(log)
            ? readFileSync(log, "utf8").split("\n").slice(-25).join("\n")
            : "(no output)";
          throw new Error(`${e.message}\n${name}'s output:\n${tail}`);
        });
      },
    );
  }
}

interface Target {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: string;
  lastError: string;
}

/** Jobs whose service runs here: their targets must be up. */
const RUNNING_JOBS = ["prometheus", "alertmanager", "loki", "alloy", "node", "phoenix"];

async function prometheusChecks(ctx: Ctx): Promise<void> {
  const prom = base(ctx, "prometheus");
  await withTool(
    ctx,
    "prometheus",
    "prometheus",
    "every target of a service that runs here is up",
    async () => {
      const down = await until("all running targets up", 120, () => {
        const t = json<{ data: { activeTargets: Target[] } }>(ctx, `${prom}/api/v1/targets`).data
          .activeTargets;
        const running = t.filter((x) => RUNNING_JOBS.includes(x.labels.job ?? ""));
        if (running.length !== RUNNING_JOBS.length) return undefined;
        const bad = running.filter((x) => x.health !== "up");
        return bad.length === 0 ? [] : undefined;
      }).catch(() => {
        const t = json<{ data: { activeTargets: Target[] } }>(ctx, `${prom}/api/v1/targets`).data
          .activeTargets;
        return t.filter((x) => RUNNING_JOBS.includes(x.labels.job ?? "") && x.health !== "up");
      });
      if (down.length > 0) {
        throw new Error(
          down.map((t) => `${t.labels.job} ${t.scrapeUrl}: ${t.health} ${t.lastError}`).join("\n"),
        );
      }
    },
  );

  await withTool(ctx, "prometheus", "prometheus", "every alert rule is evaluated without error", async () => {
    type Rule = { name: string; health: string; lastError?: string; lastEvaluation: string };
    const rules = await until("every rule evaluated", 90, () => {
      const groups = json<{ data: { groups: { rules: Rule[] }[] } }>(ctx, `${prom}/api/v1/rules`).data.groups;
      const all = groups.flatMap((g) => g.rules);
      return all.length > 0 && all.every((r) => !r.lastEvaluation.startsWith("0001")) ? all : undefined;
    });
    const bad = rules.filter((r) => r.health !== "ok");
    if (bad.length > 0)
      throw new Error(bad.map((r) => `${r.name}: ${r.health} ${r.lastError ?? ""}`).join("\n"));
  });

  await withTool(
    ctx,
    "prometheus",
    "prometheus",
    "every dashboard PromQL query runs without error",
    async () => {
      const errors: string[] = [];
      for (const q of dashboardQueries("prometheus")) {
        const expr = concreteQuery(q, "1m");
        const r = get(ctx, `${prom}/api/v1/query`, ["--data-urlencode", `query=${expr}`, "-G"]);
        if (r.status !== 200) errors.push(`${q.dashboard} / ${q.panel}: ${r.status} ${r.body.slice(0, 300)}`);
      }
      if (errors.length > 0) throw new Error(errors.join("\n"));
    },
  );
}

async function alertChecks(ctx: Ctx, received: string): Promise<void> {
  await withTool(
    ctx,
    "alertmanager",
    "alertmanager",
    "a firing rule reaches Alertmanager and its webhook receiver",
    async () => {
      await until("the forced alert delivered to the webhook", 180, () => {
        if (!existsSync(received)) return undefined;
        const hits = readFileSync(received, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { alerts: { labels: Record<string, string>; status: string }[] });
        return hits.some((h) =>
          h.alerts.some((a) => a.labels.alertname === "ConformanceForcedAlert" && a.status === "firing"),
        )
          ? true
          : undefined;
      });
    },
  );
}

/** A Loki stream's index labels are exactly these: the README promises no others. */
function sameLabels(got: Record<string, string>, want: Record<string, string>): void {
  const keys = [...new Set([...Object.keys(got), ...Object.keys(want)])].sort();
  const diff = keys.filter((k) => got[k] !== want[k]);
  if (diff.length > 0) {
    throw new Error(
      `labels ${JSON.stringify(got)}; expected exactly ${JSON.stringify(want)} (differ in ${diff.join(", ")})`,
    );
  }
}

async function lokiChecks(ctx: Ctx): Promise<void> {
  const loki = base(ctx, "loki");
  // categorize-labels: `stream` holds only the index labels, and structured metadata (Loki's own
  // detected_level) stays beside each line (pkg/util/httpreq/encoding_flags.go@v3.7.8).
  const query = (q: string) =>
    json<{ data: { result: { stream: Record<string, string>; values: [string, string][] }[] } }>(
      ctx,
      `${loki}/loki/api/v1/query_range`,
      [
        "-H",
        "X-Loki-Response-Encoding-Flags: categorize-labels",
        "-G",
        "--data-urlencode",
        `query=${q}`,
        "--data-urlencode",
        "since=24h",
        "--data-urlencode",
        "limit=100",
      ],
    ).data.result;

  await withTool(
    ctx,
    "alloy",
    "alloy",
    "ships journal lines to Loki with the host, unit and level labels",
    async () => {
      const streams = await until("the journal line in Loki", 120, () => {
        const r = query(`{unit="${JOURNAL_LINES.unit}"}`);
        return r.length > 0 ? r : undefined;
      });
      sameLabels(streams[0]?.stream ?? {}, {
        host: ctx.lab.container("alloy").host,
        unit: JOURNAL_LINES.unit,
        level: "error",
      });
    },
  );

  await withTool(
    ctx,
    "alloy",
    "alloy",
    "ships every container's stdout and stderr to Loki with the host, container and level labels",
    async () => {
      const alloy = ctx.lab.container("alloy");
      const problems: string[] = [];
      for (const c of ctx.lab.containers.filter((x) => x.host === alloy.host)) {
        const want = containerLines(c.name);
        const streams = await until(`${c.name}'s lines in Loki`, 60, () => {
          const r = query(`{container="${c.name}"}`);
          const lines = r.flatMap((s) => s.values.map(([, l]) => l));
          return [...want.stdout, ...want.stderr].every((l) => lines.includes(l)) ? r : undefined;
        }).catch((e: Error) => {
          problems.push(e.message);
          return [];
        });
        for (const s of streams) {
          const line = s.values[0]?.[1] ?? "";
          const level = want.stderr.includes(line) ? "error" : "info";
          try {
            sameLabels(s.stream, { host: alloy.host, container: c.name, level });
          } catch (e) {
            problems.push(`${c.name}: ${(e as Error).message}`);
          }
        }
      }
      if (problems.length > 0) throw new Error(problems.join("\n"));
    },
  );

  await withTool(
    ctx,
    "alloy",
    "alloy",
    'finds the NVIDIA Xid kernel line under {unit="kernel"}',
    async () => {
      await until("the Xid line in Loki", 60, () => {
        const r = query('{unit="kernel"} |= "NVRM: Xid"');
        return r.some((s) => s.values.some(([, line]) => line.includes(XID_LINE))) ? true : undefined;
      });
    },
  );

  await withTool(ctx, "prometheus", "prometheus", "scrapes citadel_nvidia_xid_total from Alloy", async () => {
    await until("citadel_nvidia_xid_total in Prometheus", 120, () => {
      const r = instant(ctx, "citadel_nvidia_xid_total");
      return r.some((s) => s.metric.xid === "79" && Number(s.value[1]) >= 1) ? true : undefined;
    });
  });

  await withTool(
    ctx,
    "loki",
    "loki",
    "its tenant carries the configured retention over a global fallback, and the compactor applies retention",
    async () => {
      // Loki serves its effective config at /config and one tenant's limits, runtime overrides
      // applied, at /config/tenant/v1/limits (pkg/loki/loki.go@v3.7.8); "fake" without auth.
      const want = durationSeconds(ctx.lab.config.ladon?.loki.retentionPeriod ?? "");
      const config = parse(get(ctx, `${loki}/config`).body) as {
        compactor: { retention_enabled: boolean };
        limits_config: { retention_period: string };
      };
      if (config.compactor.retention_enabled !== true)
        throw new Error("compactor.retention_enabled is not true");
      // The global value is loki.yaml's fixed fallback; the configured one is the tenant's override.
      const global = config.limits_config.retention_period;
      if (durationSeconds(global) !== durationSeconds(LOKI_FALLBACK_RETENTION))
        throw new Error(
          `limits_config.retention_period is ${global}, not the ${LOKI_FALLBACK_RETENTION} fallback`,
        );
      const limits = parse(
        get(ctx, `${loki}/config/tenant/v1/limits`, ["-H", "X-Scope-OrgID: fake"]).body,
      ) as { retention_period?: string } | null;
      const tenant = limits?.retention_period;
      if (!tenant || durationSeconds(tenant) !== want)
        throw new Error(`tenant fake's retention_period is ${tenant}`);
      const metrics = get(ctx, `${loki}/metrics`).body;
      if (!/^loki_compactor_\w+/m.test(metrics))
        throw new Error("Loki exposes no loki_compactor_ metrics: no compactor runs");
    },
  );

  await withTool(ctx, "loki", "loki", "every dashboard LogQL query runs without error", async () => {
    const errors: string[] = [];
    for (const q of dashboardQueries("loki")) {
      const expr = concreteQuery(q, "1m");
      const r = get(ctx, `${loki}/loki/api/v1/query_range`, ["-G", "--data-urlencode", `query=${expr}`]);
      if (r.status !== 200) errors.push(`${q.dashboard} / ${q.panel}: ${r.status} ${r.body.slice(0, 300)}`);
    }
    if (errors.length > 0) throw new Error(errors.join("\n"));
  });
}

/** The program's remote steps that write one secret file (ladon/scripts/secret-file.sh). */
function secretFileSteps(ctx: Ctx, host: string) {
  return ctx.lab.result.resources.filter((r) => {
    if (r.type !== "command:remote:Command") return false;
    const create = String(r.rawInputs.create ?? "");
    return (
      /^export SECRET_PATH='/m.test(create) &&
      (r.rawInputs.connection as { host?: string } | undefined)?.host === ctx.lab.config.hosts[host]?.address
    );
  });
}

/**
 * Runs each secret-file step of the stack host as rendered, in the host's namespace on the
 * simulated host's root, with the secret on stdin as the program feeds it. No container runs in
 * Docker here: a `docker` that answers nothing stands in, so no step reloads anything.
 */
async function secretSteps(ctx: Ctx): Promise<void> {
  const host = ctx.lab.container("prometheus").host;
  const stub = path.join(ctx.dir, "no-docker");
  mkdirSync(stub, { recursive: true });
  writeFileSync(path.join(stub, "docker"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
  await ctx.run.check("secret steps", "-", "write every secret file of the stack host from stdin", () => {
    const steps = secretFileSteps(ctx, host);
    if (steps.length === 0) throw new Error(`no secret-file step for ${host}`);
    for (const r of steps) {
      const script = path.join(hostfs(ctx.dir, host), "commands", `${r.name}.sh`);
      const res = ctx.sandbox.inNamespace(
        hostNamespace(ctx, host),
        ["bash", script],
        { CITADEL_ROOT: hostfs(ctx.dir, host), PATH: `${stub}:${process.env.PATH ?? ""}` },
        String(r.rawInputs.stdin ?? ""),
      );
      expectOk(res, r.name);
    }
  });
}

/** The basic-auth password of a service, as the lab's throwaway secrets hold it. */
function webPassword(ctx: Ctx, service: "prometheus" | "alertmanager"): string {
  const p = ctx.lab.secrets[`${service}Password`];
  if (!p) throw new Error(`the run has no ${service}Password`);
  return p;
}

/** A netrc for requests from the lab bridge: the operator's login to Prometheus and Alertmanager. */
function writeClientNetrc(ctx: Ctx): void {
  const lines = (["prometheus", "alertmanager"] as const).map(
    (s) => `machine ${ctx.sandbox.address(s)} login ${WEB_USER} password ${webPassword(ctx, s)}`,
  );
  writeFileSync(path.join(ctx.dir, "clients.netrc"), `${lines.join("\n")}\n`, { mode: 0o600 });
}

/** A request from the lab bridge with the given method and body: its status. */
function call(ctx: Ctx, method: string, url: string, anonymous: boolean, extra: string[] = []): number {
  return get(ctx, url, ["-X", method, ...extra], anonymous).status;
}

/** A Grafana datasource's URL and basic-auth login, as the program hands them to the provider. */
function datasource(ctx: Ctx, uid: string): { url: string; user: string; password: string } {
  const r = ctx.lab.result.resources.find(
    (x) => x.type === "grafana:oss/dataSource:DataSource" && x.rawInputs.uid === uid,
  );
  if (!r) throw new Error(`the lab has no Grafana datasource ${uid}`);
  const secure = JSON.parse(String(r.rawInputs.secureJsonDataEncoded ?? "{}")) as {
    basicAuthPassword?: string;
  };
  if (r.rawInputs.basicAuthEnabled !== true || !secure.basicAuthPassword)
    throw new Error(`Grafana's ${uid} datasource has no basic auth`);
  return {
    url: String(r.rawInputs.url),
    user: String(r.rawInputs.basicAuthUsername),
    password: secure.basicAuthPassword,
  };
}

/** A container's healthcheck command, as the program gives it to Docker. */
function healthcheck(ctx: Ctx, name: string): string[] {
  const r = ctx.lab.result.resources.find(
    (x) => x.type === "docker:index/container:Container" && x.rawInputs.name === name,
  );
  const tests = (r?.rawInputs.healthcheck as { tests?: string[] } | undefined)?.tests;
  if (!tests || tests[0] !== "CMD") throw new Error(`${name} has no CMD healthcheck`);
  return tests.slice(1);
}

/**
 * Issue 24 from the network: Prometheus's admin and lifecycle APIs and Alertmanager's silences
 * answer a device on the lab subnet (the lab bridge) only with the login; the program's own
 * clients (the healthchecks, Grafana's datasources, the drift probe) log in and work.
 */
async function accessChecks(ctx: Ctx): Promise<void> {
  const prom = base(ctx, "prometheus");
  const am = base(ctx, "alertmanager");
  await withTool(
    ctx,
    "prometheus",
    "prometheus",
    "refuses its admin and lifecycle APIs without the login (401) and accepts them with it",
    async () => {
      const problems: string[] = [];
      const want = (what: string, got: number, expected: number) => {
        if (got !== expected) problems.push(`${what} -> ${got}, not ${expected}`);
      };
      // Without the login: deletes, a snapshot, a reload and a quit are all refused.
      for (const [method, p] of [
        ["POST", "/api/v1/admin/tsdb/delete_series?match[]=up"],
        ["POST", "/api/v1/admin/tsdb/snapshot"],
        ["POST", "/-/reload"],
        ["POST", "/-/quit"],
        ["GET", "/api/v1/query?query=up"],
        ["GET", "/-/ready"],
      ] as const)
        want(`${method} ${p} without the login`, call(ctx, method, `${prom}${p}`, true), 401);
      want(
        "POST /api/v1/admin/tsdb/clean_tombstones with a wrong password",
        call(ctx, "POST", `${prom}/api/v1/admin/tsdb/clean_tombstones`, true, [
          "-u",
          `${WEB_USER}:not-the-password-0123456789`,
        ]),
        401,
      );
      // With it: the admin API answers (clean_tombstones changes nothing here; an answer without
      // data is 204, web/api/v1/api.go@v3.16.0) and so does a reload (200, web/web.go@v3.16.0).
      want(
        "POST /api/v1/admin/tsdb/clean_tombstones with the login",
        call(ctx, "POST", `${prom}/api/v1/admin/tsdb/clean_tombstones`, false),
        204,
      );
      want("POST /-/reload with the login", call(ctx, "POST", `${prom}/-/reload`, false), 200);
      if (problems.length > 0) throw new Error(problems.join("\n"));
    },
  );

  await withTool(
    ctx,
    "alertmanager",
    "alertmanager",
    "refuses silences and reloads without the login (401) and accepts a silence with it",
    async () => {
      // POST /api/v2/silences answers 200 with {silenceID}; DELETE /api/v2/silence/{id} expires it
      // (api/v2/openapi.yaml@v0.35.0). The matcher names an alert that never fires.
      const now = new Date();
      const silence = JSON.stringify({
        matchers: [{ name: "alertname", value: "ConformanceAccessCheck", isRegex: false, isEqual: true }],
        startsAt: now.toISOString(),
        endsAt: new Date(now.getTime() + 600_000).toISOString(),
        createdBy: "conformance",
        comment: "issue 24: a silence needs the login",
      });
      const body = ["-H", "Content-Type: application/json", "--data", silence];
      const problems: string[] = [];
      const anon = call(ctx, "POST", `${am}/api/v2/silences`, true, body);
      if (anon !== 401) problems.push(`POST /api/v2/silences without the login -> ${anon}, not 401`);
      const reload = call(ctx, "POST", `${am}/-/reload`, true);
      if (reload !== 401) problems.push(`POST /-/reload without the login -> ${reload}, not 401`);
      const made = get(ctx, `${am}/api/v2/silences`, ["-X", "POST", ...body]);
      if (made.status !== 200)
        problems.push(`POST /api/v2/silences with the login -> ${made.status}: ${made.body}`);
      else {
        const id = (JSON.parse(made.body) as { silenceID?: string }).silenceID;
        const expired = call(ctx, "DELETE", `${am}/api/v2/silence/${id}`, false);
        if (expired !== 200) problems.push(`DELETE /api/v2/silence/${id} with the login -> ${expired}`);
      }
      if (problems.length > 0) throw new Error(problems.join("\n"));
    },
  );

  await withTool(
    ctx,
    "prometheus",
    "prometheus",
    "Grafana's Prometheus and Alertmanager datasources log in with the program's credentials",
    async () => {
      // Grafana itself has no conformance build (components/pins.ts); this is the request its
      // datasource makes: the datasource's URL, user and secure-JSON password, from the lab network.
      const problems: string[] = [];
      for (const [uid, p] of [
        ["prometheus", "/api/v1/query?query=up"],
        ["alertmanager", "/api/v2/status"],
      ] as const) {
        if (!ctx.tools[uid]) continue;
        const d = datasource(ctx, uid);
        const url = d.url.replace(`http://${uid}:`, `http://${ctx.sandbox.address(uid)}:`) + p;
        const ok = get(ctx, url, ["-u", `${d.user}:${d.password}`], true).status;
        if (ok !== 200) problems.push(`${uid} datasource: GET ${p} -> ${ok}`);
      }
      if (problems.length > 0) throw new Error(problems.join("\n"));
    },
  );

  for (const [name, pin] of [
    ["prometheus", "prometheus"],
    ["alertmanager", "alertmanager"],
  ] as const) {
    await withTool(ctx, pin, pin, "its container's healthcheck logs in and passes", async () => {
      const [binary, ...argv] = healthcheck(ctx, name);
      expectOk(await inRoot(ctx, name, pin, binary as string, argv), `${name}'s healthcheck`);
    });
  }

  await withTool(
    ctx,
    "prometheus",
    "prometheus",
    "the drift probe reads Prometheus's targets and every running service's health, logging in with the host's netrc files",
    async () => {
      const host = ctx.lab.container("prometheus").host;
      const fs = hostfs(ctx.dir, host);
      const drift = scriptParams(
        readFileSync(path.join(fs, "usr/local/lib/citadel/citadel-drift.sh"), "utf8"),
      );
      const probe = Buffer.from(drift.PROBE_B64 ?? "", "base64").toString("utf8");
      if (!probe.includes("--netrc-file")) throw new Error("the rendered probe does not log in");
      writeFileSync(path.join(ctx.dir, "probe.sh"), probe);
      const clients = "/etc/citadel/clients";
      const r = await ctx.sandbox.run(
        {
          service: hostNamespace(ctx, host),
          argv: ["bash", "/citadel-check/probe.sh"],
          // The probe also asks Docker (containers, vLLM through docker exec): a `docker` that
          // answers nothing stands in, so the check never reaches the machine's own Docker.
          env: { PATH: "/citadel-bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" },
          binds: [
            { src: path.join(fs, clients), dst: clients, readOnly: true },
            { src: ctx.dir, dst: "/citadel-check", readOnly: true },
            { src: path.join(ctx.dir, "no-docker"), dst: "/citadel-bin", readOnly: true },
          ],
        },
        120_000,
      );
      // Some sections fail here (no LVM, GPUs or Docker in the sandbox); these two must not.
      const sections = parseProbe(`${r.stdout}`);
      const targets = sections.get("prometheus-targets");
      const problems: string[] = [];
      if (targets?.rc !== 0 || !/"activeTargets"/.test(targets.text))
        problems.push(`prometheus-targets rc=${targets?.rc}: ${targets?.text.slice(0, 300)}`);
      // Every health section of a service that runs here answers 200 (ports and paths from the
      // catalog, components/ops/probe.ts); Grafana does not run in this tier.
      for (const { service } of PROBE_HEALTH.filter((h) => SERVICES[h.service].container in READY)) {
        const health = sections.get(`health-${service}`);
        if (health?.text !== "200") problems.push(`health-${service}: ${health?.text}`);
      }
      if (problems.length > 0) throw new Error(problems.join("\n"));
    },
  );
}

/** The rendered backup timer's script, where the lab has backups. */
const BACKUP_SCRIPT = "/usr/local/lib/citadel/citadel-backup.sh";

/** The `export KEY='value'` lines a rendered host script starts with (components/remote). */
function scriptParams(script: string): Record<string, string> {
  return Object.fromEntries([...script.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]));
}

/**
 * The backup timer's own script, as rendered, run once on the stack host's namespace in a root made
 * of the simulated host: Prometheus's admin API takes the TSDB snapshot, SQLite copies Phoenix's
 * live database online, restic (Debian's, as the host installs it) writes the repository under
 * the run's /srv, and the node exporter serves the result to Prometheus.
 */
async function backupChecks(ctx: Ctx): Promise<void> {
  const host = ctx.lab.container("prometheus").host;
  const fs = hostfs(ctx.dir, host);
  if (!existsSync(path.join(fs, BACKUP_SCRIPT))) return; // this lab has no backups
  await withTool(
    ctx,
    "prometheus",
    "prometheus",
    "the backup script snapshots the live TSDB and Phoenix's database into restic, and its metrics are scraped",
    async () => {
      const params = scriptParams(readFileSync(path.join(fs, BACKUP_SCRIPT), "utf8"));
      const need = (k: string) => {
        const v = params[k];
        if (!v) throw new Error(`${BACKUP_SCRIPT} exports no ${k}`);
        return v;
      };
      // What the host's other steps would have made: the password file and an fstab.
      const password = path.join(fs, need("RESTIC_PASSWORD_FILE"));
      mkdirSync(path.dirname(password), { recursive: true });
      writeFileSync(password, ctx.lab.secrets.resticPassword as string, { mode: 0o600 });
      if (!existsSync(path.join(fs, "etc/fstab"))) writeFileSync(path.join(fs, "etc/fstab"), "# citadel\n");
      // Every path the script reads or writes comes from the simulated host, never the machine's.
      const dirs = [
        "/srv",
        path.dirname(need("RESTIC_PASSWORD_FILE")),
        need("TEXTFILE_DIR"),
        need("LAYOUT_DIR"),
        "/var/cache",
        ...need("PATHS")
          .split(" ")
          .filter((p) => p.startsWith("/etc/") && p !== "/etc/fstab"),
      ];
      const binds: Bind[] = [
        ...[...new Set(dirs)].map((d) => {
          mkdirSync(path.join(fs, d), { recursive: true });
          return { src: path.join(fs, d), dst: d, readOnly: false };
        }),
        { src: path.join(fs, "etc/fstab"), dst: "/etc/fstab", readOnly: true },
        // The root's /usr is the machine's, read-only; the script runs from beside it.
        { src: path.join(fs, path.dirname(BACKUP_SCRIPT)), dst: "/citadel-check", readOnly: true },
      ];
      const r = await ctx.sandbox.run(
        {
          service: hostNamespace(ctx, host),
          argv: ["bash", `/citadel-check/${path.basename(BACKUP_SCRIPT)}`],
          binds,
        },
        300_000,
      );
      const out = expectOk(r, "citadel-backup.sh");
      if (!/Prometheus snapshot \S+/.test(out)) throw new Error(`Prometheus took no snapshot:\n${out}`);

      // What restic holds: the TSDB snapshot and the SQLite copy, never the live files.
      const files = execFileSync("restic", ["ls", "--json", "latest"], {
        encoding: "utf8",
        env: {
          ...process.env,
          RESTIC_REPOSITORY: path.join(fs, need("RESTIC_REPOSITORY")),
          RESTIC_PASSWORD_FILE: password,
          RESTIC_CACHE_DIR: path.join(ctx.dir, "restic-cache"),
        },
      })
        .split("\n")
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { path?: string }).path ?? "");
      const prometheus = need("PROMETHEUS_DATA");
      const phoenix = need("SQLITE_DBS")
        .split(" ")
        .find((d) => d.includes("phoenix"));
      const has = (re: RegExp) => files.some((f) => re.test(f));
      const problems = [
        has(new RegExp(`${prometheus}/snapshots/[^/]+/[^/]+/meta\\.json$`))
          ? ""
          : "no TSDB block of the snapshot in the backup",
        has(new RegExp(`${prometheus}/wal/`)) ? "the live WAL is in the backup" : "",
        phoenix && !files.some((f) => f.endsWith(`${phoenix}.citadel-backup`))
          ? "no SQLite copy of Phoenix's database in the backup"
          : "",
        phoenix && files.some((f) => f.endsWith(phoenix)) ? "Phoenix's live database is in the backup" : "",
        existsSync(path.join(fs, prometheus, "snapshots")) &&
        readdirSync(path.join(fs, prometheus, "snapshots")).length > 0
          ? "the TSDB snapshot was left behind"
          : "",
      ].filter(Boolean);
      if (problems.length > 0) throw new Error(problems.join("\n"));

      await until("citadel_backup_snapshots in Prometheus", 90, () => {
        const res = instant(ctx, "citadel_backup_snapshots");
        return res.some((x) => Number(x.value[1]) >= 1) ? true : undefined;
      });
    },
  );
}

async function nodeExporterChecks(ctx: Ctx): Promise<void> {
  await withTool(
    ctx,
    "nodeExporter",
    "node_exporter",
    "reads the textfile metrics, and Prometheus scrapes them",
    async () => {
      for (const metric of [
        "citadel_lvm_vg_size_bytes",
        "citadel_data_dir_bytes",
        "citadel_vllm_baseline_seconds",
      ]) {
        await until(`${metric} in Prometheus`, 90, () =>
          instant(ctx, metric).length > 0 ? true : undefined,
        );
      }
      const m = get(ctx, `${base(ctx, "node-exporter")}/metrics`).body;
      if (/^node_textfile_scrape_error 1$/m.test(m)) throw new Error("node_textfile_scrape_error is 1");
    },
  );
}

async function phoenixChecks(ctx: Ctx): Promise<void> {
  const ph = base(ctx, "phoenix");
  await withTool(ctx, "phoenix", "phoenix", "refuses unauthenticated API and trace requests", async () => {
    for (const [method, p] of [
      ["GET", "/v1/projects"],
      ["POST", "/v1/traces"],
      ["POST", "/graphql"],
    ] as const) {
      const r = get(ctx, `${ph}${p}`, ["-X", method]);
      if (r.status !== 401) throw new Error(`${method} ${p} without credentials -> ${r.status}, not 401`);
    }
  });
  // The program's own key step (rendered for the stack host) against the live Phoenix, from the
  // host's namespace, where Phoenix's published port answers as Docker would publish it.
  let stepOutput = "";
  await withTool(
    ctx,
    "phoenix",
    "phoenix",
    "the key step creates a system API key for vLLM's traces; a second run reuses it",
    async () => {
      const run = phoenixStep(ctx, "ladon-phoenix-trace-key");
      const first = run();
      stepOutput = expectOk(first, "the key step");
      if (!/^changed: created Phoenix system API key vllm-traces$/m.test(stepOutput))
        throw new Error(stepOutput);
      const second = expectOk(run(), "the key step, again");
      if (!/^no changes: /m.test(second)) throw new Error(`a second run changed something:\n${second}`);
      if (phoenixTraceHeaders(second) !== phoenixTraceHeaders(stepOutput))
        throw new Error("the second run printed another key");
    },
  );
  await withTool(
    ctx,
    "phoenix",
    "phoenix",
    "the HADES step creates its project and system API key once; the key reads the project",
    async () => {
      const run = phoenixStep(ctx, "ladon-phoenix-hades");
      const first = expectOk(run(), "the HADES step");
      const project = ctx.lab.config.ladon?.phoenix.hadesProject ?? "hades";
      for (const want of ["created Phoenix system API key hades", `created Phoenix project ${project}`])
        if (!first.includes(`changed: ${want}`)) throw new Error(`no "${want}" in:\n${first}`);
      const second = expectOk(run(), "the HADES step, again");
      if (!/^no changes: /m.test(second)) throw new Error(`a second run changed something:\n${second}`);
      const key = phoenixApiKey(second);
      if (!key || key !== phoenixApiKey(first)) throw new Error("the second run printed another key");
      // From the lab bridge, as HADES would reach Phoenix, with the HADES key as its only credential.
      const body = json<{ data?: { name?: string } }>(ctx, `${base(ctx, "phoenix")}/v1/projects/${project}`, [
        "-H",
        `Authorization: Bearer ${key}`,
      ]);
      if (body.data?.name !== project)
        throw new Error(`GET /v1/projects/${project} with the HADES key answered ${JSON.stringify(body)}`);
    },
  );
  await withTool(
    ctx,
    "phoenix",
    "phoenix",
    "accepts a trace sent the way vLLM sends it, and stores it in vLLM's project",
    async () => {
      if (!ctx.tools.vllm) throw new Error("vLLM is not installed: run npm run upstream -- vllm");
      // In the vLLM container's namespace and root, with its environment (the trace headers as the
      // program derives them from the key step), through vLLM's own exporter.
      const vllm = ctx.lab.containers.find((c) => c.image.startsWith("vllm/vllm-openai:"));
      if (!vllm) throw new Error("the lab has no vLLM container");
      if (!/openinference\.project\.name=vllm\b/.test(vllm.env.OTEL_RESOURCE_ATTRIBUTES ?? ""))
        throw new Error(
          `${vllm.name} does not name its Phoenix project: ${vllm.env.OTEL_RESOURCE_ATTRIBUTES}`,
        );
      const tool = ctx.tools.vllm as Installed;
      copyFileSync(path.join(__dirname, "phoenix_trace.py"), path.join(ctx.dir, "phoenix_trace.py"));
      const { spec } = serviceRun(ctx.dir, vllm, "vllm", tool, {
        env: {
          OTEL_EXPORTER_OTLP_TRACES_HEADERS: phoenixTraceHeaders(stepOutput),
          PHOENIX_URL: `http://${ctx.lab.container("phoenix").name}:6006`,
          PHOENIX_ADMIN_PASSWORD: ctx.lab.secrets.phoenixAdminPassword as string,
          VLLM_ARGV: JSON.stringify(vllm.command),
        },
      });
      if (!("OTEL_EXPORTER_OTLP_TRACES_HEADERS" in vllm.env)) {
        throw new Error(
          "the vLLM container's environment has no OTEL_EXPORTER_OTLP_TRACES_HEADERS for Phoenix's auth",
        );
      }
      spec.argv = [venvPython(tool.dir), "/citadel-check/phoenix_trace.py"];
      spec.binds.push({ src: ctx.dir, dst: "/citadel-check", readOnly: true });
      expectOk(await ctx.sandbox.run(spec, 180_000), "phoenix_trace.py");
    },
  );
}

/**
 * One of the program's Phoenix key steps (rendered for the stack host), run against the live
 * Phoenix from the host's namespace, with the admin password on stdin as the program feeds it.
 */
function phoenixStep(ctx: Ctx, step: string) {
  const host = ctx.lab.container("phoenix").host;
  const script = path.join(ctx.dir, "hostfs", host, "commands", `${step}.sh`);
  return () =>
    ctx.sandbox.inNamespace(
      hostNamespace(ctx, host),
      ["bash", script],
      { CITADEL_ROOT: hostfs(ctx.dir, host) },
      `${ctx.lab.secrets.phoenixAdminPassword}\n`,
    );
}

/** A host's own network namespace: the one its host-network containers (the node exporter) run in. */
function hostNamespace(ctx: Ctx, host: string): string {
  const c = ctx.lab.containers.find((x) => x.host === host && x.hostNetwork);
  if (!c) throw new Error(`no host-network container on ${host} to stand for its namespace`);
  return c.name;
}

/** Publishes every container port on its host's namespace, as Docker does. */
export function publishPorts(ctx: Ctx): void {
  for (const c of ctx.lab.containers) {
    if (c.hostNetwork || !ctx.lab.containers.some((x) => x.host === c.host && x.hostNetwork)) continue;
    for (const p of c.ports)
      ctx.sandbox.publish(hostNamespace(ctx, c.host), p.external, ctx.sandbox.address(c.name), p.internal);
  }
}
