/**
 * `npm run diff`: the plan diff a reviewer reads, on the real program. Two stack files on this
 * code, and base refs through a real git worktree running the ref's own `npm start`.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { BLAST_RADIUS } from "../lib/convergence";
import { diffPlans, summaryLine } from "../lib/diff/diff";
import { runDiff, SideError } from "../lib/diff/run";
import { planFromSynth, type Plan } from "../lib/diff/plan";
import { renderJson, renderMarkdown, renderText } from "../lib/diff/render";
import { runPolicies } from "../lib/synth/policies";
import { citadelHost, labConfigMap } from "./support/lab";
import { synthLab } from "./support/synth";

const REPO = path.join(__dirname, "..");
const tmp = mkdtempSync(path.join(tmpdir(), "citadel-diff-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** Writes a config map as a stack file and returns its path. */
function stackFile(config: Record<string, unknown>): string {
  const file = path.join(tmp, `s${n++}`, "Pulumi.citadel.yaml");
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, stringify({ config }));
  return file;
}

async function plan(config: Record<string, unknown>): Promise<Plan> {
  const result = await synthLab(config);
  return planFromSynth(result, await runPolicies(result));
}

/** The lab with a blank secondary disk added: /dev/sdb, ext4 labelled archive, at /srv/archive. */
function withArchiveDisk() {
  const config = labConfigMap();
  citadelHost(config).storage.disks.push({
    device: "/dev/sdb",
    filesystem: "ext4",
    label: "archive",
    mountPoint: "/srv/archive",
  });
  return config;
}

const actions = (d: { resources: { name: string; action: string }[] }) =>
  Object.fromEntries(d.resources.filter((c) => c.action !== "rerun").map((c) => [c.name, c.action]));

let base: Plan;
beforeAll(async () => {
  base = await plan(labConfigMap());
});

describe("npm run diff between two stack files", () => {
  const rows = BLAST_RADIUS.filter((r) => r.config && !r.overrides);
  it.each(rows.map((r) => [r.change, r] as const))(
    "%s: exactly the blast-radius row's resources, with reasons",
    async (_name, row) => {
      const config = labConfigMap();
      row.config?.(config);
      const d = diffPlans(base, await plan(config), { hosts: ["citadel"] });
      expect(actions(d)).toEqual(row.expect);
      const text = renderText(d, "t");
      for (const [name, action] of Object.entries(row.expect))
        expect(text).toContain(` ${action.padEnd(7)} ${name} `);
      for (const c of d.resources) expect(c.reason.length).toBeGreaterThan(0);
    },
  );

  it("names the input paths that change, old → new, and diffs the rendered files", async () => {
    const config = labConfigMap();
    config["citadel:ladon"].thresholds = { gpuPowerRatio: 0.9 };
    config["citadel:vllm"].servers.chat.maxModelLen = 40960;
    const d = diffPlans(base, await plan(config), { hosts: ["citadel"] });
    const vllm = d.resources.find((c) => c.name === "vllm-chat-container");
    expect(vllm?.action).toBe("replace");
    expect(vllm?.reason).toMatch(/cannot change command in place/);
    expect(vllm?.changes).toContainEqual(expect.objectContaining({ old: "32768", new: "40960" }));
    const rules = d.files.find((f) => f.path.endsWith("prometheus/rules/citadel.yml"));
    expect(rules?.status).toBe("modified");
    expect(rules?.patch).toMatch(/^-.*0\.95/m);
    expect(rules?.patch).toMatch(/^\+.*0\.9\b/m);
    expect(rules?.patch).toMatch(/^--- a\/citadel\//m);
    // A script input is never a one-line JSON diff: its change points at the file diffs.
    const step = d.resources.find((c) => c.name === "ladon-citadel-prometheus-rules");
    expect(step?.changes.some((c) => c.text)).toBe(true);
    expect(renderText(d, "t")).not.toMatch(/\\n.*\\n/);
    expect(summaryLine(d)).toBe("+0 ~0 ±2 -0");
  });

  it("shows a container that a changed config step reloads as reloaded, not replaced", async () => {
    const config = labConfigMap();
    config["citadel:ladon"].prometheus.retentionTime = "60d";
    const d = diffPlans(base, await plan(config), { hosts: ["citadel"] });
    const prometheus = d.resources.find((c) => c.name === "ladon-citadel-prometheus-container");
    expect(prometheus?.action).toBe("rerun");
    expect(prometheus?.reason).toMatch(
      /reloaded \(POST http:\/\/127\.0\.0\.1:9901\/-\/reload\) by ladon-citadel-prometheus-config/,
    );
    expect(d.summary.replace).toBe(1);
  });

  it("shows nothing restarted for a Loki retention change: Loki re-reads its runtime file", async () => {
    const config = labConfigMap();
    config["citadel:ladon"].loki.retentionPeriod = "336h";
    const d = diffPlans(base, await plan(config), { hosts: ["citadel"] });
    expect(d.resources.map((c) => `${c.action} ${c.name}`)).toEqual(["replace ladon-citadel-loki-runtime"]);
  });

  it("refuses, loudly, to delete a protected disk", async () => {
    const withDisk = withArchiveDisk();
    const d = diffPlans(await plan(withDisk), base, { hosts: ["citadel"] });
    const gone = d.resources.find((c) => c.name === "citadel-storage-disk-archive");
    expect(gone).toMatchObject({ action: "delete", protect: true });
    expect(gone?.refused).toMatch(/protected: pulumi up refuses to delete it/);
    expect(renderText(d, "t")).toMatch(/^REFUSED: citadel-storage-disk-archive is protected/m);
    expect(renderMarkdown(d, "t")).toMatch(/:no_entry: \*\*REFUSED: citadel-storage-disk-archive/);
  });

  it("pairs a renamed resource with its old name, and says an alias would keep it", async () => {
    const head = await plan(labConfigMap());
    const renamed: Plan = { ...head, resources: new Map(head.resources) };
    const image = renamed.resources.get("vllm-image");
    renamed.resources.delete("vllm-image");
    renamed.resources.set("llm-image", { ...(image as NonNullable<typeof image>), name: "llm-image" });
    const d = diffPlans(base, renamed, { hosts: ["citadel"] });
    expect(actions(d)).toEqual({ "llm-image": "create", "vllm-image": "delete" });
    const created = d.resources.find((c) => c.name === "llm-image");
    expect(created?.renamedFrom).toBe("vllm-image");
    expect(created?.reason).toContain('aliases: [{ name: "vllm-image" }]');
  });

  it("shows a change only in a secret as changed, and never its value", async () => {
    const a = labConfigMap();
    const b = labConfigMap();
    a["citadel:grafanaAdminPassword"] = { secure: "v1:AAAAciphertext-old" };
    b["citadel:grafanaAdminPassword"] = { secure: "v1:BBBBciphertext-new" };
    const { diff, title } = await runDiff({ baseConfig: stackFile(a), config: stackFile(b) });
    expect(diff.secretsChanged).toEqual(["grafanaAdminPassword"]);
    const step = diff.resources.find((c) => c.name === "ladon-citadel-grafana-admin-password");
    expect(step?.action).toBe("update");
    expect(step?.changes.every((c) => c.secret && !("old" in c) && !("new" in c))).toBe(true);
    expect(renderText(diff, title)).toMatch(/^ {6}\w+: secret changed$/m);
    expect(renderMarkdown(diff, title)).toContain("secret changed: `citadel:grafanaAdminPassword`");
    for (const out of [renderText(diff, title), renderMarkdown(diff, title), renderJson(diff)]) {
      expect(out).not.toMatch(/ciphertext|PLACEHOLDER|-changed"/);
    }
  });

  it("names the side whose stack file is invalid", async () => {
    const bad = labConfigMap();
    bad["citadel:vllm"].servers.chat.maxModelLen = -1;
    const good = stackFile(labConfigMap());
    await expect(runDiff({ baseConfig: stackFile(bad), config: good })).rejects.toThrow(
      /^the base side: .*maxModelLen/s,
    );
    await expect(runDiff({ baseConfig: good, config: stackFile(bad) })).rejects.toThrow(
      /^the new side: .*maxModelLen/s,
    );
  });
});

/** A commit of this repository with one file replaced, made without touching any ref or the work tree. */
function commitWith(file: string, content: string): string {
  const index = path.join(tmp, `index-${n++}`);
  const env = { ...process.env, GIT_INDEX_FILE: index };
  const git = (args: string[], input?: string) => {
    const r = spawnSync("git", args, { cwd: REPO, env, encoding: "utf8", input });
    if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
  };
  git(["read-tree", "HEAD"]);
  const blob = git(["hash-object", "-w", "--stdin"], content);
  git(["update-index", "--add", "--cacheinfo", `100644,${blob},${file}`]);
  const tree = git(["write-tree"]);
  return git([
    "-c",
    "user.name=citadel-test",
    "-c",
    "user.email=test@citadel.invalid",
    "commit-tree",
    tree,
    "-p",
    "HEAD",
    "-m",
    "test base",
  ]);
}

/** The shipped stack file with the chat server on another model, as a reviewer would see it. */
const SHIPPED = path.join(REPO, "Pulumi.citadel.yaml");
function modelChange(): string {
  const text = readFileSync(SHIPPED, "utf8");
  const changed = text.replace(
    "model: Qwen/Qwen3-8B\n        servedModelName: qwen3-8b",
    "model: Qwen/Qwen2.5-7B-Instruct\n        servedModelName: qwen2.5-7b",
  );
  expect(changed).not.toBe(text);
  const file = path.join(tmp, `s${n++}`, "Pulumi.citadel.yaml");
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, changed);
  return file;
}

/** The text output up to the file diffs, split per host (`<host>: +a ~b ±c -d`). */
function hostSections(text: string): Map<string, string[]> {
  const head = text.split("\nfile diffs:\n")[0] as string;
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of head.split("\n")) {
    const m = /^([a-z][a-z0-9-]*): [+]\d+ ~\d+ ±\d+ -\d+/.exec(line);
    if (m) out.set(m[1] as string, (current = []));
    if (current) current.push(line);
  }
  return out;
}

describe("npm run diff for review, on the shipped stack file", () => {
  let text: string;
  let markdown: string;
  beforeAll(async () => {
    const { diff, title } = await runDiff({ baseConfig: SHIPPED, config: modelChange() });
    text = renderText(diff, title);
    markdown = renderMarkdown(diff, title);
  });

  it("a model change fits on one screen per host: the summary first, at most 40 lines per host before the file diffs", () => {
    const sections = hostSections(text);
    expect([...sections.keys()]).toEqual(["citadel"]);
    for (const lines of sections.values()) expect(lines.length).toBeLessThanOrEqual(40);
    // The summary and the verdict come before any host.
    expect(text.indexOf("+0 ~0 ±2 -0")).toBeLessThan(text.indexOf("\ncitadel: "));
    expect(text.indexOf("citadel-guard:")).toBeLessThan(text.indexOf("\ncitadel: "));
    expect(text.indexOf("\ncitadel: ")).toBeLessThan(text.indexOf("\nfile diffs:\n"));
  });

  it("a model change shows the old and new VRAM plan per GPU, and the downtime: download and load", () => {
    const citadel = (hostSections(text).get("citadel") ?? []).join("\n");
    expect(citadel).toContain("VRAM plan on citadel, before and after");
    expect(citadel).toMatch(/^ {4}GPU 0 /m);
    expect(citadel).toMatch(/before: Qwen\/Qwen3-8B on GPU 0: weights [\d.]+ GiB/);
    expect(citadel).toMatch(/after: {2}Qwen\/Qwen2\.5-7B-Instruct on GPU 0: weights [\d.]+ GiB/);
    expect(citadel).toContain("downtime: vllm-chat is removed before its replacement starts");
    expect(citadel).toMatch(/Qwen\/Qwen2\.5-7B-Instruct has downloaded, [\d.]+ GiB into \/srv\/models/);
    expect(citadel).toContain("pulumi up waits up to 1800 s for it (vllm.startupTimeoutSeconds)");
  });

  it("shows opaque payloads (base64, one-line JSON) decoded as the files they carry, never raw", () => {
    expect(text).not.toMatch(/[A-Za-z0-9+/=]{200,}/);
    expect(text).not.toMatch(/^[-+ ]export \w+='(\\'')?[[{]/m);
    expect(text).toMatch(/^=== \S+#EXPECTATIONS \(modified\)$/m);
    expect(text).toMatch(/^-\s+"served": "qwen3-8b"$/m);
    expect(text).toMatch(/^=== \S+#PROBE_B64 \(modified\)$/m);
    expect(text).toMatch(/^\+export VLLM_SERVERS='vllm-chat\|generate\|qwen2\.5-7b /m);
  });

  it("every 'diffed below' points at a file diff that is there", () => {
    const targets = [
      ...text.matchAll(/diffed below as (\S+?)>?$/gm),
      ...text.matchAll(/the same change as (\S+), diffed below/g),
    ].map((m) => m[1] as string);
    expect(targets.length).toBeGreaterThanOrEqual(3);
    for (const t of targets) expect(text).toContain(`\n=== ${t} (`);
    expect(text).not.toContain("see the file diffs");
  });

  it("markdown: the per-host table before the file diffs, which are collapsed", () => {
    const table = markdown.indexOf("#### citadel: ");
    const files = markdown.indexOf("#### file diffs");
    expect(table).toBeGreaterThan(0);
    expect(files).toBeGreaterThan(table);
    const after = markdown.slice(files);
    expect(after.indexOf("<details>")).toBeLessThan(after.indexOf("```diff"));
    expect(markdown.slice(0, files)).not.toContain("```diff");
  });

  it("lists each host's changes in the order pulumi up runs them: a reloaded container after the step that reloads it", async () => {
    const config = labConfigMap();
    config["citadel:ladon"].thresholds = { gpuPowerRatio: 0.9 };
    const d = diffPlans(base, await plan(config), { hosts: ["citadel"] });
    const names = d.resources.map((c) => c.name);
    // Alphabetically the container would come first; it waits for the rules step.
    expect(names.indexOf("ladon-citadel-prometheus-rules")).toBeGreaterThanOrEqual(0);
    expect(names.indexOf("ladon-citadel-prometheus-container")).toBeGreaterThan(
      names.indexOf("ladon-citadel-prometheus-rules"),
    );
    expect(renderText(d, "t")).toContain(
      "citadel: +0 ~0 ±1 -0 · 1 restarted or reloaded, in the order pulumi up runs them",
    );
  });

  it("a new disk says in plain words that it is formatted only when blank", async () => {
    const config = withArchiveDisk();
    const d = diffPlans(base, await plan(config), { hosts: ["citadel"] });
    const disk = d.resources.find((c) => c.name === "citadel-storage-disk-archive");
    expect(disk?.reason).toContain(
      "formats `/dev/sdb` as ext4 labelled archive if it carries no filesystem; refuses otherwise",
    );
    expect(renderText(d, "t")).toContain(
      "formats `/dev/sdb` as ext4 labelled archive if it carries no filesystem; refuses otherwise",
    );
  });
});

describe("npm run diff --base <ref>", () => {
  it("plans the ref with its own code in a worktree, and diffs it against the working tree", async () => {
    const config = labConfigMap();
    config["citadel:vllm"].servers.chat.maxModelLen = 16384;
    const ref = commitWith("Pulumi.citadel.yaml", stringify({ config }));
    // The checkout may have other worktrees, some made by other runs: only ours must go.
    const worktrees = () =>
      spawnSync("git", ["worktree", "list", "--porcelain"], { cwd: REPO, encoding: "utf8" }).stdout;
    expect(worktrees()).not.toContain(`HEAD ${ref}`);
    const { diff, title } = await runDiff({ base: ref, config: path.join(REPO, "Pulumi.citadel.yaml") });
    expect(title).toContain(ref.slice(0, 7));
    expect(actions(diff)).toEqual({ "vllm-chat-container": "replace" });
    expect(diff.resources[0]?.changes).toContainEqual(
      expect.objectContaining({ old: "16384", new: "32768" }),
    );
    // The worktree at the ref is gone afterwards.
    expect(worktrees()).not.toContain(`HEAD ${ref}`);
  });

  it("says the base side's config was invalid at that ref", async () => {
    const config = labConfigMap();
    config["citadel:vllm"].servers.chat.maxModelLen = -1;
    const ref = commitWith("Pulumi.citadel.yaml", stringify({ config }));
    const err = await runDiff({ base: ref, config: path.join(REPO, "Pulumi.citadel.yaml") }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SideError);
    expect((err as SideError).side).toBe("base");
    expect((err as Error).message).toMatch(/invalid:[\s\S]*maxModelLen/);
  });

  it("says a base ref that does not exist does not exist, and exits 2", () => {
    const r = spawnSync(
      path.join(REPO, "node_modules", ".bin", "tsx"),
      ["tools/diff.ts", "--base", "no-such-ref-anywhere"],
      { cwd: REPO, encoding: "utf8" },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/the base side: git ref no-such-ref-anywhere does not exist/);
  });
});
