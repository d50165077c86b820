/**
 * The live tier's harness: the services that run here (from the catalog), requests from the lab
 * bridge with and without the lab's logins, waiting, the stand-ins (Alertmanager's webhook
 * receiver, the Docker Engine API Alloy reads), and what the checks read of the program's output.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { PinName } from "../../../../components/pins";
import { CATALOG } from "../../../../components/plan/services";
import { WEB_USER } from "../../../../components/ladon/webauth";
import type { Ctx } from "../static";
import { hostfs } from "../services";

/**
 * The services that run here, from the catalog: each with a readiness endpoint, by container name,
 * with its pin, the path it answers once ready and the container port it answers on.
 */
export const READY: Record<string, { pin: PinName; path: string; port: number }> = Object.fromEntries(
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

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(what: string, seconds: number, probe: () => T | undefined): Promise<T> {
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

export function startWebhook(ctx: Ctx, file: string): ChildProcess {
  const script = path.join(__dirname, "..", "webhook.py");
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
export async function startDockerApi(ctx: Ctx): Promise<ChildProcess> {
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
  const child = spawn("python3", [path.join(__dirname, "..", "docker_api.py"), socket, file], {
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
export function base(ctx: Ctx, name: string): string {
  return `http://${ctx.sandbox.address(name)}:${READY[name]?.port}`;
}

/**
 * A request from the lab bridge. It logs in where the lab's basic auth asks (Prometheus and
 * Alertmanager, by address, from the run's netrc) unless `anonymous`.
 */
export function get(
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

export function json<T>(ctx: Ctx, url: string, extra: string[] = []): T {
  const r = get(ctx, url, extra);
  if (r.status !== 200) throw new Error(`GET ${url} -> ${r.status}: ${r.body.slice(0, 400)}`);
  return JSON.parse(r.body) as T;
}

/** A PromQL instant query against the live Prometheus: its result vector. */
export function instant(
  ctx: Ctx,
  query: string,
): { metric: Record<string, string>; value: [number, string] }[] {
  type Vector = { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  return json<Vector>(ctx, `${base(ctx, "prometheus")}/api/v1/query`, [
    "-G",
    "--data-urlencode",
    `query=${query}`,
  ]).data.result;
}

/** The basic-auth password of a service, as the lab's throwaway secrets hold it. */
export function webPassword(ctx: Ctx, service: "prometheus" | "alertmanager"): string {
  const p = ctx.lab.secrets[`${service}Password`];
  if (!p) throw new Error(`the run has no ${service}Password`);
  return p;
}

/** A netrc for requests from the lab bridge: the operator's login to Prometheus and Alertmanager. */
export function writeClientNetrc(ctx: Ctx): void {
  const lines = (["prometheus", "alertmanager"] as const).map(
    (s) => `machine ${ctx.sandbox.address(s)} login ${WEB_USER} password ${webPassword(ctx, s)}`,
  );
  writeFileSync(path.join(ctx.dir, "clients.netrc"), `${lines.join("\n")}\n`, { mode: 0o600 });
}

/** A request from the lab bridge with the given method and body: its status. */
export function call(
  ctx: Ctx,
  method: string,
  url: string,
  anonymous: boolean,
  extra: string[] = [],
): number {
  return get(ctx, url, ["-X", method, ...extra], anonymous).status;
}

/** A Grafana datasource's URL and basic-auth login, as the program hands them to the provider. */
export function datasource(ctx: Ctx, uid: string): { url: string; user: string; password: string } {
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
export function healthcheck(ctx: Ctx, name: string): string[] {
  const r = ctx.lab.result.resources.find(
    (x) => x.type === "docker:index/container:Container" && x.rawInputs.name === name,
  );
  const tests = (r?.rawInputs.healthcheck as { tests?: string[] } | undefined)?.tests;
  if (!tests || tests[0] !== "CMD") throw new Error(`${name} has no CMD healthcheck`);
  return tests.slice(1);
}

/** The `export KEY='value'` lines a rendered host script starts with (components/remote). */
export function scriptParams(script: string): Record<string, string> {
  return Object.fromEntries([...script.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]));
}

/** A host's own network namespace: the one its host-network containers (the node exporter) run in. */
export function hostNamespace(ctx: Ctx, host: string): string {
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
