/** Issue 24 from the network: who gets into Prometheus's and Alertmanager's APIs, with what login. */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseProbe } from "../../../../components/ops/validate";
import { PROBE_HEALTH } from "../../../../components/ops/probe";
import { SERVICES } from "../../../../components/plan/services";
import { WEB_USER } from "../../../../components/ladon/webauth";
import type { Ctx } from "../static";
import { inRoot, withTool, expectOk } from "../static";
import { hostfs } from "../services";
import { base, call, datasource, get, healthcheck, hostNamespace, READY, scriptParams } from "./harness";

/**
 * Issue 24 from the network: Prometheus's admin and lifecycle APIs and Alertmanager's silences
 * answer a device on the lab subnet (the lab bridge) only with the login; the program's own
 * clients (the healthchecks, Grafana's datasources, the drift probe) log in and work.
 */
export async function accessChecks(ctx: Ctx): Promise<void> {
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
