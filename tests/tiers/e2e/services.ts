/**
 * The e2e tier's service checks on the stack host: Prometheus, Alertmanager and node-exporter run in the guest's
 * real Docker engine, created from the inputs the program registers (tests/tiers/e2e/containers.ts) with
 * images built from the pinned upstream binaries (tests/tiers/e2e/images.ts). Then, each a line:
 *   - each container becomes healthy by its own rendered healthcheck;
 *   - Prometheus lists every target it was rendered with, `up == 1` for those whose service runs
 *     in the VM, and names the rest as not running here;
 *   - a probe container on the lab's bridge network reaches every port Prometheus scrapes on the
 *     host through the real rules (ufw + DOCKER-USER), and not SSH (admin subnet only);
 *   - issue 24, from the network: a lab guest (a lab-subnet address that is no lab host) gets no
 *     request through to a port that can change data (the access model, components/plan/access.ts),
 *     and from the admin subnet Prometheus's admin API answers 200 with credentials, 401 without.
 */
import { parse } from "yaml";
import { resolveLadon } from "../../../components/plan/ladon-resolve";
import { hostAccess } from "../../../components/plan/access";
import { SERVICES, type ServiceName } from "../../../components/plan/services";
import { PINS, type PinName } from "../../../components/pins";
import type { ResourceRecord } from "../../../lib/synth/harness";
import { exec } from "./apply";
import { standInListeners } from "./standins";
import {
  apiPost,
  containersOf,
  createBody,
  execWithFile,
  importCommand,
  label,
  NETWORK,
  networkBody,
} from "./containers";
import { buildImage, buildProbe, PROBE_REF, type BuiltImage } from "./images";
import type { E2eLab } from "./lab";

/** The services this tier runs as containers: their images are built from the upstream cache. */
export const RUN_IN_VM: readonly PinName[] = ["prometheus", "alertmanager", "nodeExporter"];

/**
 * Requests that change data, per service, each read at the pinned version:
 * - Prometheus: web/api/v1/api.go@v0.316.0 registers POST /admin/tsdb/delete_series, /snapshot,
 *   /clean_tombstones under /api/v1 (with --web.enable-admin-api); web/web.go@v0.316.0 POST
 *   /-/quit and /-/reload (with --web.enable-lifecycle).
 * - Alertmanager: api/v2/openapi.yaml@v0.35.0 POST /api/v2/silences; POST /-/reload.
 * - Loki: pkg/util/constants/api_paths.go@v3.7.8 /loki/api/v1/push; the compactor's
 *   /loki/api/v1/delete.
 */
const WRITES: Partial<Record<ServiceName, { method: string; path: string }[]>> = {
  prometheus: [
    { method: "POST", path: "/api/v1/admin/tsdb/delete_series?match[]=up" },
    { method: "POST", path: "/api/v1/admin/tsdb/snapshot" },
    { method: "POST", path: "/-/quit" },
  ],
  alertmanager: [
    { method: "POST", path: "/api/v2/silences" },
    { method: "POST", path: "/-/reload" },
  ],
  loki: [
    { method: "POST", path: "/loki/api/v1/push" },
    { method: "POST", path: "/loki/api/v1/delete?query={job=%22x%22}&start=0" },
  ],
};

export interface ServiceCtx {
  lab: E2eLab;
  host: string;
  cache: string;
  check(name: string, ok: boolean, detail: string): boolean;
  time(what: string, seconds: number): void;
  log(line: string): void;
  root(cmd: string, timeoutS?: number): Promise<{ code: number | null; out: string; stdout: string }>;
  /** argv that runs `cmd` in the guest as the SSH user, over SSH from the lab namespace. */
  sshArgv(cmd: string, timeoutS: number): string[];
  env: NodeJS.ProcessEnv;
  /** `ip netns exec <lab>`: the runner, in the admin subnet. */
  inLab: string[];
  /** `ip netns exec <guest>`: the lab guest. */
  inGuest: string[];
  runnerIp: string;
  guestIp: string;
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Target {
  job: string;
  address: string;
}

/** Every static target of the rendered prometheus.yml, by job. */
function renderedTargets(yml: string): Target[] {
  const doc = parse(yml) as {
    scrape_configs?: { job_name: string; static_configs?: { targets?: string[] }[] }[];
  };
  return (doc.scrape_configs ?? []).flatMap((j) =>
    (j.static_configs ?? []).flatMap((s) =>
      (s.targets ?? []).map((address) => ({ job: j.job_name, address })),
    ),
  );
}

/** HTTP status of a request from a namespace (000: no connection). */
async function status(
  prefix: string[],
  method: string,
  url: string,
  auth?: string,
): Promise<{ code: string; body: string }> {
  const r = await exec(
    [
      ...prefix,
      "curl",
      "-sS",
      "-m",
      "20",
      "--connect-timeout",
      "6",
      "-o",
      "-",
      "-w",
      "\n%{http_code}",
      "-X",
      method,
      ...(auth ? ["-u", auth] : []),
      url,
    ],
    undefined,
    process.env,
  );
  const lines = r.stdout.split("\n");
  return { code: (lines.pop() ?? "000").trim() || "000", body: lines.join("\n") };
}

export async function serviceChecks(ctx: ServiceCtx): Promise<void> {
  const { lab, host: h } = ctx;
  const config = lab.config;
  const address = config.hosts[h]?.address as string;
  const resources = lab.result.resources;

  // 1. Images: tarballs on the build machine, `docker import` in the guest.
  const images: BuiltImage[] = [];
  for (const pin of RUN_IN_VM) {
    const ref = `${PINS[pin].repository}:${PINS[pin].tag}`;
    if (containersOf(resources, ref).length === 0) continue;
    const img = buildImage(ctx.cache, pin, ref);
    ctx.time(`image tarball ${ref} ${img.cached ? "(cached)" : "(built)"}`, img.seconds);
    images.push(img);
  }
  const probe = buildProbe(ctx.cache);
  images.push(probe);
  for (const img of images) {
    const started = Date.now();
    const r = await execWithFile(
      ctx.sshArgv(`sudo -n bash -c ${shq(importCommand(img))}`, 900),
      img.tar,
      ctx.env,
    );
    const seconds = (Date.now() - started) / 1000;
    ctx.time(`${h}: docker import ${img.ref}`, seconds);
    ctx.check(
      `${h}: docker import ${img.ref} (${img.binaries.length > 0 ? "the pinned upstream binaries laid out as the upstream image" : "busybox"}; nothing pulled)`,
      r.code === 0 && r.stdout.trim() === img.key,
      [`changes: ${img.changes.join("; ")}`, ...img.binaries, r.code === 0 ? "" : r.stderr.trim()]
        .filter(Boolean)
        .join("\n"),
    );
  }

  // 2. The networks and containers the program registers, from their inputs.
  for (const n of resources.filter((r) => r.type === NETWORK)) {
    const body = networkBody(n.name, n.rawInputs);
    const r = await ctx.root(
      `docker network inspect ${shq(String(body.Name))} >/dev/null 2>&1 && echo 'HTTP exists' || ${apiPost("/networks/create", body)}`,
    );
    ctx.check(
      `${h}: Docker network ${String(body.Name)} created from its registered inputs (${n.name})`,
      /HTTP (201|exists)$/.test(r.out),
      r.out.split("\n").slice(-3).join("; "),
    );
  }
  const running: { record: ResourceRecord; name: string; inputs: Record<string, unknown> }[] = [];
  for (const img of images.filter((i) => i.ref !== PROBE_REF)) {
    for (const c of containersOf(resources, img.ref)) {
      const { containerName, body } = createBody(c.name, c.rawInputs);
      const started = Date.now();
      const created = await ctx.root(
        apiPost(`/containers/create?name=${encodeURIComponent(containerName)}`, body),
      );
      const start = await ctx.root(apiPost(`/containers/${encodeURIComponent(containerName)}/start`));
      ctx.time(`${h}: container ${containerName} create and start`, (Date.now() - started) / 1000);
      const ok = /HTTP 201$/.test(created.out) && /HTTP 204$/.test(start.out);
      ctx.check(
        `${h}: container ${containerName} created from its registered inputs (${c.name}) and started`,
        ok,
        ok
          ? `image ${img.ref}; command ${JSON.stringify(c.rawInputs.command ?? [])}`
          : `create: ${created.out.slice(-600)}\nstart: ${start.out.slice(-600)}`,
      );
      if (ok) running.push({ record: c, name: containerName, inputs: c.rawInputs });
    }
  }

  // 3. Healthy by their own rendered healthcheck, within the provider's waitTimeout.
  await Promise.all(
    running.map(async (c) => {
      const started = Date.now();
      const limit = Number(c.inputs.waitTimeout ?? 300) * 1000;
      let state = "";
      while (Date.now() - started < limit) {
        state = (
          await ctx.root(`docker inspect -f '{{.State.Status}} {{.State.Health.Status}}' ${shq(c.name)}`)
        ).out;
        if (/ (healthy|unhealthy)$/.test(state)) break;
        await sleep(5000);
      }
      const seconds = (Date.now() - started) / 1000;
      ctx.time(`${h}: container ${c.name} start until healthy`, seconds);
      const hc = (c.inputs.healthcheck as { tests?: string[] } | undefined)?.tests ?? [];
      const log =
        /healthy$/.test(state) && !/unhealthy$/.test(state)
          ? ""
          : (
              await ctx.root(
                `docker inspect -f '{{json .State.Health}}' ${shq(c.name)}; docker logs --tail 20 ${shq(c.name)} 2>&1`,
              )
            ).out.slice(-2000);
      ctx.check(
        `${h}: container ${c.name} becomes healthy by its rendered healthcheck (${hc.join(" ")})`,
        / healthy$/.test(state),
        `state: ${state} after ${seconds.toFixed(0)} s${log ? `\n${log}` : ""}`,
      );
    }),
  );

  // 4. Prometheus's targets, through its API with the credentials the program renders.
  const prom = running.find((c) => label(c.record, "org.hana-x.citadel.service") === "prometheus");
  const clientYml = lab.result.files.get(`${h}/etc/citadel/prometheus/client.yml`);
  const promYml = lab.result.files.get(`${h}/etc/citadel/prometheus/prometheus.yml`);
  const promPort = ((prom?.inputs.ports ?? []) as { internal: number; external?: number }[]).find(
    (p) => p.internal === SERVICES.prometheus.ports.http?.container,
  )?.external;
  const user = clientYml
    ? (parse(clientYml) as { basic_auth?: { username?: string } }).basic_auth?.username
    : undefined;
  const auth = user ? `${user}:${lab.secrets.prometheusPassword}` : undefined;
  if (prom && promYml && promPort && auth) {
    const base = `http://${address}:${promPort}`;
    const targets = renderedTargets(promYml);
    // A target runs in the VM when its address is a running container on the bridge (by its
    // alias, at its metrics port), Prometheus itself (localhost), or the host's address at the
    // metrics port of a host-network container.
    const inVm = (t: Target) => {
      const [name, port] = t.address.split(":");
      return running.some((c) => {
        const metrics = label(c.record, "org.hana-x.citadel.metrics-port");
        if (metrics !== port) return false;
        const aliases = ((c.inputs.networksAdvanced ?? []) as { aliases?: string[] }[]).flatMap(
          (n) => n.aliases ?? [],
        );
        if (c === prom && name === "localhost") return true;
        if (c.inputs.networkMode === "host") return name === address;
        return name === c.name || aliases.includes(name as string);
      });
    };
    const mine = targets.filter(inVm);
    const others = targets.filter((t) => !inVm(t));
    let up: { job: string; instance: string; value: string }[] = [];
    let listed: { scrapeUrl: string; health: string; job: string }[] = [];
    const started = Date.now();
    while (Date.now() - started < 180_000) {
      const q = await status(ctx.inLab, "GET", `${base}/api/v1/query?query=up`, auth);
      const t = await status(ctx.inLab, "GET", `${base}/api/v1/targets?state=active`, auth);
      try {
        up = (
          JSON.parse(q.body) as {
            data: { result: { metric: Record<string, string>; value: [number, string] }[] };
          }
        ).data.result.map((r) => ({
          job: r.metric.job ?? "",
          instance: r.metric.instance ?? "",
          value: r.value[1],
        }));
        listed = (
          JSON.parse(t.body) as {
            data: { activeTargets: { scrapeUrl: string; health: string; labels: Record<string, string> }[] };
          }
        ).data.activeTargets.map((a) => ({
          scrapeUrl: a.scrapeUrl,
          health: a.health,
          job: a.labels.job ?? "",
        }));
      } catch {
        up = [];
      }
      if (mine.every((m) => up.some((u) => u.instance === m.address && u.job === m.job))) break;
      await sleep(5000);
    }
    ctx.time(
      `${h}: Prometheus start until every target in the VM was scraped`,
      (Date.now() - started) / 1000,
    );
    const upOf = (t: Target) => up.find((u) => u.instance === t.address && u.job === t.job)?.value;
    ctx.check(
      `${h}: Prometheus (its API on ${address}:${promPort}, with the rendered basic-auth credentials) shows up == 1 for every target whose service runs in the VM (${mine.map((t) => `${t.job} ${t.address}`).join(", ")})`,
      mine.length > 0 && mine.some((t) => t.job === "node") && mine.every((t) => upOf(t) === "1"),
      mine.map((t) => `${t.job} ${t.address}: up ${upOf(t) ?? "(not scraped)"}`).join("; "),
    );
    const missing = targets.filter(
      (t) => !listed.some((l) => l.job === t.job && l.scrapeUrl.includes(`//${t.address}/`)),
    );
    ctx.check(
      `${h}: Prometheus lists all ${targets.length} rendered targets; not running in the VM (so not up): ${others.map((t) => `${t.job} ${t.address}`).join(", ") || "none"}`,
      missing.length === 0 && others.every((t) => upOf(t) !== "1"),
      missing.map((t) => `not listed: ${t.job} ${t.address}`).join("; "),
    );

    // 5. A probe container on the bridge reaches every port Prometheus scrapes on this host,
    // through the real rules, and not SSH (admitted from the admin subnet only).
    const net = ((prom.inputs.networksAdvanced ?? []) as { name: string }[])[0]?.name;
    const scraped = mine.map((t) =>
      t.address.startsWith("localhost:") ? { ...t, address: `${prom.name}:${t.address.split(":")[1]}` } : t,
    );
    const probes = [...scraped.map((t) => t.address), `${address}:22`];
    // Container names as the network's DNS would answer them (read from the engine, so that the
    // probe needs no resolver of its own): the probe checks the path, not the name service.
    const hostOf = async (name: string) =>
      /^\d+\.\d+\.\d+\.\d+$/.test(name)
        ? name
        : (
            await ctx.root(
              `docker inspect -f '{{(index .NetworkSettings.Networks "${net ?? "bridge"}").IPAddress}}' ${shq(name)}`,
            )
          ).out.trim();
    const lines: string[] = [];
    for (const a of probes) {
      const [name, port] = a.split(":");
      const ip = await hostOf(name as string);
      lines.push(
        `if timeout 8 nc -w 5 ${ip} ${port} </dev/null >/dev/null 2>&1; then echo "${a} open"; else echo "${a} closed $?"; fi`,
      );
    }
    const script = lines.join("; ");
    const r = await ctx.root(
      `docker run --rm --network ${shq(net ?? "bridge")} ${shq(PROBE_REF)} sh -c ${shq(script)}`,
      300,
    );
    // `timeout` ends nc (143) only after it connected and the peer kept the connection open.
    const open = (a: string) => new RegExp(`^${a.replace(/\./g, "\\.")} (open|closed 143)$`, "m").test(r.out);
    ctx.check(
      `${h}: a probe container on the ${net} network reaches every port Prometheus scrapes on this host through ufw and DOCKER-USER (${scraped.map((t) => t.address).join(", ")})`,
      r.code === 0 && scraped.every((t) => open(t.address)),
      r.out,
    );
    ctx.check(
      `${h}: the probe container does not reach SSH on ${address}:22 (admitted from the admin subnet only)`,
      r.code === 0 && !open(`${address}:22`),
      r.out
        .split("\n")
        .filter((l) => l.includes(":22 "))
        .join("; "),
    );

    // 6. Issue 24, from the network.
    await accessChecks(
      ctx,
      running.map((c) => label(c.record, "org.hana-x.citadel.service") ?? ""),
      auth,
      base,
    );
  } else {
    ctx.check(
      `${h}: Prometheus runs in the VM with its rendered client credentials`,
      false,
      `container ${prom ? "running" : "not running"}, prometheus.yml ${promYml ? "rendered" : "missing"}, host port ${promPort}, client.yml user ${user}`,
    );
  }
}

/** From the lab guest, no data-changing request gets through; from the admin subnet, with credentials, it does. */
async function accessChecks(
  ctx: ServiceCtx,
  services: string[],
  auth: string,
  promBase: string,
): Promise<void> {
  const { lab, host: h } = ctx;
  const config = lab.config;
  const address = config.hosts[h]?.address as string;
  const fw = config.ops?.firewall;
  if (!fw) return;
  const ladon = config.ladon ? resolveLadon(config, config.ladon) : undefined;
  const writing = hostAccess(config, h, ladon, fw).filter((a) => a.writes);
  const inAdmin = inCidr(ctx.guestIp, fw.adminSubnet);
  ctx.log(
    `lab guest ${ctx.guestIp}: in the lab subnet ${fw.labSubnet}, no lab host${inAdmin ? `; the config's admin subnet ${fw.adminSubnet} is the same range, so the firewall admits it as admin and only authentication stands between it and the data` : `, outside the admin subnet ${fw.adminSubnet}`}`,
  );
  // Stand-in listeners (on every address, wider than the service's own binding) where a port that
  // can change data and has no authentication runs no service in the VM: the firewall alone must
  // keep the lab guest out.
  const unauthenticated = writing.filter((a) => a.auth === "none" && !services.includes(a.service));
  if (unauthenticated.length > 0) {
    const listening = await ctx.root(
      standInListeners(
        "e2e-standin",
        unauthenticated.map((a) => a.port),
      ),
      240,
    );
    if (listening.code !== 0) throw new Error(listening.out);
  }
  for (const a of writing) {
    const svc = a.service as ServiceName;
    const requests = WRITES[svc] ?? [{ method: "POST", path: "/" }];
    const runs = services.includes(a.service);
    if (!runs && a.auth !== "none") {
      ctx.log(
        `      ${a.service} ${a.port} (${a.writes}; ${a.auth}): not running in the VM; its authentication is not proven here`,
      );
      continue;
    }
    const results = await Promise.all(
      requests.map(async (q) => ({
        q,
        r: await status(ctx.inGuest, q.method, `http://${address}:${a.port}${q.path}`),
      })),
    );
    // Through means: a connection and any answer but "authenticate first".
    const through = results.filter(({ r }) => r.code !== "000" && r.code !== "401");
    ctx.check(
      `${h}: from the lab guest ${ctx.guestIp}, no request that can change data reaches ${a.service} on ${a.port} (${a.writes}; ${runs ? `the real service, ${a.auth}` : "a stand-in listener behind the firewall"})`,
      through.length === 0,
      results
        .map(({ q, r }) => `${q.method} ${q.path}: ${r.code === "000" ? "no connection" : `HTTP ${r.code}`}`)
        .join("; "),
    );
  }
  if (unauthenticated.length > 0) {
    await ctx.root(
      `for p in ${unauthenticated.map((a) => a.port).join(" ")}; do systemctl stop e2e-standin-$p || true; done`,
    );
  }
  // From the admin subnet: the admin API with the rendered credentials, and refused without.
  const snapshot = "/api/v1/admin/tsdb/snapshot";
  const withAuth = await status(ctx.inLab, "POST", `${promBase}${snapshot}`, auth);
  const without = await status(ctx.inLab, "POST", `${promBase}${snapshot}`);
  ctx.check(
    `${h}: from the admin subnet (${ctx.runnerIp}), Prometheus's admin API answers POST ${snapshot} with 200 with credentials and 401 without`,
    withAuth.code === "200" && without.code === "401",
    `with credentials: HTTP ${withAuth.code} ${withAuth.body.slice(0, 200)}; without: HTTP ${without.code}`,
  );
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((a, o) => a * 256 + Number(o), 0);
}

export function inCidr(ip: string, cidr: string): boolean {
  const [net, bits] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  const base = Math.floor(ipToInt(net as string) / size) * size;
  const n = ipToInt(ip);
  return n >= base && n < base + size;
}

/**
 * The lab guest's address: in the lab subnet, no lab host, not the runner, preferring one outside
 * the admin subnet; counted down from the top of the lab subnet (192.168.10.250 style).
 */
export function labGuestAddress(labSubnet: string, adminSubnet: string, taken: Set<string>): string {
  const [net, bits] = labSubnet.split("/");
  const size = 2 ** (32 - Number(bits));
  const base = Math.floor(ipToInt(net as string) / size) * size;
  const ip = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
  const candidates: string[] = [];
  for (let n = base + size - 6; n > base; n--) if (!taken.has(ip(n))) candidates.push(ip(n));
  const outside = candidates.find((c) => !inCidr(c, adminSubnet));
  const chosen = outside ?? candidates[0];
  if (!chosen) throw new Error(`no free address for the lab guest in ${labSubnet}`);
  return `${chosen}/${bits}`;
}
