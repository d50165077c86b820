/**
 * Issue 24: the access model covers every published port, and Prometheus and Alertmanager answer
 * only with basic auth that every client of theirs carries, with no password or hash in sight.
 */
import { execFile, spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import { writeFileSync } from "node:fs";
import path from "node:path";
import bcrypt from "bcryptjs";
import { parse } from "yaml";
import { ACCESS, accessOf, VLLM_ACCESS } from "../components/plan/access";
import { probeParams } from "../components/ops/probe";
import { portRegistry, SERVICES, SERVICE_NAMES } from "../components/plan/services";
import {
  passwordProblem,
  renderNetrc,
  renderWebConfig,
  webPasswordHash,
  WEB_USER,
} from "../components/ladon/webauth";
import { placeholderValue } from "../lib/synth/stackfile";
import { Prometheus, PrometheusError, PROMETHEUS_PASSWORD_ENV } from "../tools/assess/prometheus";
import type { SynthResult } from "../lib/synth/harness";
import { SimHost } from "./support/hostsim";
import { byName, ofType, synthLab } from "./support/synth";
import { hostPort } from "./support/catalog";
import { requireTool } from "./support/tools";
import { scratchDir } from "./support/scratch";

const PASSWORD = "0123456789abcdef0123456789abcdef";

describe("the access model", () => {
  it("has one entry for every port of the registry, and none for a port that does not exist", () => {
    for (const s of SERVICE_NAMES)
      expect(Object.keys(ACCESS[s]).sort()).toEqual(Object.keys(SERVICES[s].ports).sort());
    for (const p of portRegistry()) expect(accessOf(p.service, p.container)).toBeDefined();
    expect(accessOf("prometheus", 1234)).toBeUndefined();
    expect(accessOf("whoami", 80)).toBeUndefined();
    expect(accessOf("vllm", 8000)).toBe(VLLM_ACCESS);
  });

  it("protects every port that can change data with authentication or keeps it to named hosts", () => {
    for (const s of SERVICE_NAMES)
      for (const [port, a] of Object.entries(ACCESS[s])) {
        if (!a.writes || a.auth !== "none") continue;
        // Only hosts that push to it, never a subnet of people.
        expect([s, port, a.from]).toEqual([s, port, ["pushers"]]);
      }
  });
});

describe("basic-auth hashes", () => {
  it("verify with bcrypt, stay the same on every run, and differ per service", () => {
    const hash = webPasswordHash(PASSWORD, "prometheus");
    expect(hash).toMatch(/^\$2b\$10\$[./A-Za-z0-9]{53}$/);
    expect(bcrypt.compareSync(PASSWORD, hash)).toBe(true);
    expect(bcrypt.compareSync(`${PASSWORD}x`, hash)).toBe(false);
    expect(webPasswordHash(PASSWORD, "prometheus")).toBe(hash);
    const other = webPasswordHash(PASSWORD, "alertmanager");
    expect(other).not.toBe(hash);
    expect(bcrypt.compareSync(PASSWORD, other)).toBe(true);
    // A different password gets a different salt, not only a different digest.
    expect(webPasswordHash(`${PASSWORD}0`, "prometheus").slice(0, 29)).not.toBe(hash.slice(0, 29));
  });

  it("make a web config that promtool check web-config accepts", () => {
    requireTool("promtool");
    const dir = scratchDir("citadel-webcfg-");
    const file = path.join(dir, "web.yml");
    writeFileSync(file, renderWebConfig(webPasswordHash(PASSWORD, "prometheus")));
    const ok = spawnSync("promtool", ["check", "web-config", file], { encoding: "utf8" });
    expect(ok.stdout + ok.stderr).toContain("SUCCESS");
    expect(ok.status).toBe(0);
    writeFileSync(file, JSON.stringify({ basic_auth_users: { [WEB_USER]: "not-a-bcrypt-hash" } }));
    expect(spawnSync("promtool", ["check", "web-config", file], { encoding: "utf8" }).status).not.toBe(0);
  });

  it("refuse a password bcrypt or a netrc would mangle, and never quote it", () => {
    // Each breaks one rule (config/secrets.ts BASIC_AUTH_RULES): too short, a space, past bcrypt's
    // 72 bytes, a leading quote that curl reads as a netrc quoted string.
    for (const bad of ["short-one", "has a space in it, 0123456789", "x".repeat(73), `"quote${PASSWORD}`]) {
      expect(passwordProblem(bad)).toBeDefined();
      let message = "";
      try {
        webPasswordHash(bad, "prometheus");
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(
        /^secret citadel:prometheusPassword: its value breaks a rule: .*pulumi config set --secret citadel:prometheusPassword/,
      );
      expect(message).not.toContain(bad);
    }
    expect(passwordProblem(PASSWORD)).toBeUndefined();
  });
});

describe("a basic-auth password in the host's netrc", () => {
  let server: Server;
  let port = 0;
  beforeAll(async () => {
    // Answers with the password of the basic-auth header it got, decoded.
    server = createServer((req, res) => {
      const auth = req.headers.authorization ?? "";
      const decoded = auth.startsWith("Basic ") ? Buffer.from(auth.slice(6), "base64").toString() : "";
      res.end(decoded.slice(decoded.indexOf(":") + 1));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** What curl sends for the password, reading the netrc the lab renders (or its error). */
  const sent = (password: string): Promise<string> => {
    const file = path.join(scratchDir("citadel-netrc-"), "netrc");
    writeFileSync(file, renderNetrc(password));
    return new Promise((resolve) =>
      execFile("curl", ["-sS", "--netrc-file", file, `http://127.0.0.1:${port}/`], (err, stdout, stderr) =>
        resolve(err ? `error: ${stderr}` : stdout),
      ),
    );
  };

  it("reaches the service as written when the rules let it through, and mangled when they refuse it", async () => {
    requireTool("curl");
    // Kept: quotes, a backslash and # after the first character (config/secrets.ts BASIC_AUTH_RULES).
    for (const good of [`a"b'c\\d#e${PASSWORD}`, `'${PASSWORD}`, `\\${PASSWORD}`, "!~".repeat(36)]) {
      expect(passwordProblem(good)).toBeUndefined();
      expect(await sent(good)).toBe(good);
    }
    // Refused: curl reads a leading " as a quoted string and stops at a space. (A leading #, a
    // comment to curl 7.88.1 on Debian 12 hosts, is kept by later curl, so it is not tried here.)
    for (const bad of [`"${PASSWORD}`, `${PASSWORD} ${PASSWORD}`]) {
      expect(passwordProblem(bad)).toBeDefined();
      expect(await sent(bad)).not.toBe(bad);
    }
  });
});

describe("the lab's Prometheus and Alertmanager", () => {
  let lab: SynthResult;
  beforeAll(async () => {
    lab = await synthLab();
  });
  const container = (s: string) =>
    byName(lab, `ladon-citadel-${s}-container`).rawInputs as Record<string, any>;
  const placeholder = (s: string) => placeholderValue(`${s}Password`);

  it("run with their own web config, and check their readiness logged in", () => {
    const prometheus = container("prometheus");
    expect(prometheus.command).toContain("--web.config.file=/etc/prometheus/secrets/web.yml");
    expect(prometheus.healthcheck.tests).toEqual([
      "CMD",
      "promtool",
      "check",
      "ready",
      "--url=http://127.0.0.1:9090",
      "--http.config.file=/etc/prometheus/client.yml",
    ]);
    const alertmanager = container("alertmanager");
    expect(alertmanager.command).toContain("--web.config.file=/etc/alertmanager/secrets/web.yml");
    expect(alertmanager.healthcheck.tests.slice(0, 4)).toEqual(["CMD", "amtool", "cluster", "show"]);
    expect(parse(lab.files.get("citadel/etc/citadel/alertmanager/client.yml") as string)).toEqual({
      basic_auth: { username: "citadel", password_file: "/etc/alertmanager/secrets/password" },
    });
  });

  it("get the hash from a secret step as a file only the service's user reads, and the host's login as a root file", () => {
    for (const s of ["prometheus", "alertmanager"] as const) {
      const step = byName(lab, `ladon-citadel-${s}-web-config`);
      expect(step.secretInputs).toContain("stdin");
      expect(step.rawInputs.logging).toBe("none");
      expect(step.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
      const create = String(step.rawInputs.create);
      expect(create).toContain(`export SECRET_PATH='/etc/citadel/${s}/secrets/web.yml'`);
      // The image runs as nobody (Dockerfile@v3.16.0, @v0.35.0: USER nobody), UID 65534.
      expect(create).toContain(`export OWNER_UID='${SERVICES[s].uid}'`);
      expect(SERVICES[s].uid).toBe(65534);
      const web = JSON.parse(String(step.rawInputs.stdin).trim());
      expect(bcrypt.compareSync(placeholder(s), web.basic_auth_users.citadel)).toBe(true);
      const netrc = byName(lab, `ladon-citadel-${s}-client-netrc`);
      expect(String(netrc.rawInputs.create)).toContain(
        `export SECRET_PATH='/etc/citadel/clients/${s}.netrc'`,
      );
      expect(String(netrc.rawInputs.create)).toContain("export OWNER_UID='0'");
      expect(String(netrc.rawInputs.stdin).trim()).toBe(renderNetrc(placeholder(s)));
    }
  });

  it("never show a password or its hash in visible inputs, rendered files or outputs", () => {
    const visible = JSON.stringify([
      lab.resources.map((r) => r.inputs),
      [...lab.files.values()],
      lab.outputs,
    ]);
    for (const s of ["prometheus", "alertmanager"]) {
      expect(visible).not.toContain(placeholder(s));
      expect(visible).not.toContain(webPasswordHash(placeholder(s), s).slice(7));
    }
  });

  it("are logged in to by Prometheus itself: its self-scrape, its Alertmanager scrape and its alerts", () => {
    const config = parse(lab.files.get("citadel/etc/citadel/prometheus/prometheus.yml") as string);
    const auth = (file: string) => ({ username: "citadel", password_file: file });
    const job = (name: string) =>
      config.scrape_configs.find((j: { job_name: string }) => j.job_name === name);
    expect(job("prometheus").basic_auth).toEqual(auth("/etc/prometheus/secrets/password"));
    expect(job("alertmanager").basic_auth).toEqual(auth("/etc/prometheus/secrets/alertmanager_password"));
    expect(job("node").basic_auth).toBeUndefined();
    expect(config.alerting.alertmanagers[0].basic_auth).toEqual(
      auth("/etc/prometheus/secrets/alertmanager_password"),
    );
    const step = byName(lab, "ladon-citadel-prometheus-alertmanager-password");
    expect(String(step.rawInputs.stdin).trim()).toBe(placeholder("alertmanager"));
  });

  it("are Grafana datasources with basic auth, the password only in secure JSON", () => {
    const sources = Object.fromEntries(
      ofType(lab, "grafana:oss/dataSource:DataSource").map((d) => [d.rawInputs.uid, d]),
    );
    for (const s of ["prometheus", "alertmanager"]) {
      const d = sources[s] as (typeof sources)[string];
      expect(d.rawInputs).toMatchObject({ basicAuthEnabled: true, basicAuthUsername: "citadel" });
      expect(d.inputs.secureJsonDataEncoded).toBe("[secret]");
      expect(JSON.parse(String(d.rawInputs.secureJsonDataEncoded))).toEqual({
        basicAuthPassword: placeholder(s),
      });
    }
    expect(sources.loki?.rawInputs.basicAuthEnabled).toBeUndefined();
  });

  it("reload with the host's login, where the backup's snapshot and the probe log in too", () => {
    const config = String(byName(lab, "ladon-citadel-prometheus-config").rawInputs.create);
    expect(config).toContain("export NETRC='/etc/citadel/clients/prometheus.netrc'");
    expect(config).toContain(`export RELOAD='http:http://127.0.0.1:${hostPort("prometheus")}/-/reload'`);
    const backup = lab.files.get("citadel/usr/local/lib/citadel/citadel-backup.sh") ?? "";
    expect(backup).toContain("export PROMETHEUS_NETRC='/etc/citadel/clients/prometheus.netrc'");
  });
});

describe("host steps that log in", () => {
  it("reload Prometheus with the netrc once it exists, and without it before", () => {
    const h = new SimHost();
    h.set("running-prometheus", "");
    h.serve("http://127.0.0.1:9901/-/reload", "");
    const params = {
      CONTAINER: "prometheus",
      OWNER_UID: "65534",
      DATA_DIR: "/srv/data/ladon/prometheus",
      CONFIG_DIR: "/etc/citadel/prometheus",
      FILES: JSON.stringify({ "prometheus.yml": "global: {}\n" }),
      RELOAD: `http:http://127.0.0.1:${hostPort("prometheus")}/-/reload`,
      NETRC: "/etc/citadel/clients/prometheus.netrc",
    };
    const before = h.run("ladon/scripts/service-files.sh", params);
    expect(before.status).toBe(0);
    expect(before.calls.filter((c) => c.startsWith("curl"))).toEqual([
      `curl -fsS -X POST http://127.0.0.1:${hostPort("prometheus")}/-/reload`,
    ]);
    h.file("/etc/citadel/clients/prometheus.netrc", renderNetrc(PASSWORD));
    const after = h.run("ladon/scripts/service-files.sh", {
      ...params,
      FILES: JSON.stringify({ "prometheus.yml": "global: {scrape_interval: 1m}\n" }),
    });
    expect(after.status).toBe(0);
    const curl = after.calls.filter((c) => c.startsWith("curl"));
    expect(curl).toEqual([
      `curl -fsS --netrc-file ${h.root}/etc/citadel/clients/prometheus.netrc -X POST http://127.0.0.1:${hostPort("prometheus")}/-/reload`,
    ]);
    expect(curl.join("\n")).not.toContain(PASSWORD);
  });

  it("probe Prometheus's targets and Alertmanager's health with the netrc files, never a password", () => {
    const h = new SimHost();
    const run = h.run("ops/scripts/probe.sh", probeParams(""));
    expect(run.status).toBe(0);
    const curl = run.calls.filter((c) => c.startsWith("curl"));
    expect(curl).toContainEqual(
      `curl -fsS -m 10 --netrc-file /etc/citadel/clients/prometheus.netrc http://127.0.0.1:${hostPort("prometheus")}/api/v1/targets?state=active`,
    );
    expect(curl).toContainEqual(
      `curl -s -o /dev/null -m 5 -w %{http_code} http://127.0.0.1:${hostPort("alertmanager")}/-/healthy --netrc-file /etc/citadel/clients/alertmanager.netrc`,
    );
  });
});

describe("npm run assess's Prometheus client", () => {
  let server: Server;
  let url = "";
  const seen: (string | undefined)[] = [];
  const paths: (string | undefined)[] = [];
  beforeAll(async () => {
    // Answers like the web config's handler: 401 unless the login matches (web/handler.go@v0.20.0).
    const good = `Basic ${Buffer.from(`citadel:${PASSWORD}`).toString("base64")}`;
    server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      paths.push(req.url);
      if (req.headers.authorization !== good) {
        res.writeHead(401, { "WWW-Authenticate": "Basic" }).end("Unauthorized\n");
        return;
      }
      res.writeHead(200, { "Content-Type": "application/json" }).end(
        JSON.stringify({
          status: "success",
          data: { resultType: "vector", result: [{ metric: { job: "prometheus" }, value: [0, "1"] }] },
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("logs in with the password it is given", async () => {
    const prom = new Prometheus(url, 5000, { username: "citadel", password: PASSWORD });
    expect(await prom.instant("up", 0)).toEqual([{ metric: { job: "prometheus" }, value: 1 }]);
    // The instant-query endpoint of Prometheus's HTTP API (web/api/v1/api.go@v0.316.0: /query).
    expect(paths.at(-1)).toBe("/api/v1/query?query=up&time=0");
  });

  it("names where the password goes when Prometheus refuses, and never quotes one", async () => {
    for (const login of [undefined, { username: "citadel", password: "wrong-password-0123456789" }]) {
      const err = await new Prometheus(url, 5000, login).instant("up", 0).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PrometheusError);
      expect((err as Error).message).toContain(`set ${PROMETHEUS_PASSWORD_ENV}`);
      expect((err as Error).message).not.toContain("wrong-password-0123456789");
    }
    expect(seen.at(-2)).toBeUndefined();
  });
});
