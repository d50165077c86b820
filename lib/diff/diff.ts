/**
 * What `pulumi up` would do to go from one plan to another, resource by resource, in each
 * provider's own terms (lib/convergence.ts effectOf is the one table of provider semantics),
 * with the changed inputs as JSON paths and the rendered files as unified diffs. Pure.
 */
import { createHash } from "node:crypto";
import { createTwoFilesPatch } from "diff";
import { SECRET_MASK } from "../synth/harness";
import type { Violation } from "../synth/policies";
import { COMMAND_TYPES, effectOf, unappliedKeys } from "../semantics";
import type { Plan, PlanResource } from "./plan";

export type Action = "create" | "update" | "replace" | "delete" | "rerun";

export interface InputChange {
  /** JSON path of the changed value, e.g. `envs[3]` or `healthcheck.startPeriod`. */
  path: string;
  /** Absent when the value is secret or a multi-line text (shown as a file diff instead). */
  old?: unknown;
  new?: unknown;
  secret?: true;
  /** A multi-line text (a script, a config file): its unified diff is in the files section. */
  text?: true;
  /** For a text: the file diff below that shows it (a rendered file, or this input's own diff). */
  see?: string;
}

export interface ResourceChange {
  name: string;
  type: string;
  host: string;
  action: Action;
  /** Why, in the provider's own terms. */
  reason: string;
  /** Top-level inputs that changed. */
  keys: string[];
  changes: InputChange[];
  protect: boolean;
  /** Set when `pulumi up` would refuse the change. */
  refused?: string;
  /** A delete and a create of the same type with the same inputs: most likely a rename. */
  renamedFrom?: string;
  renamedTo?: string;
}

export interface FileChange {
  /**
   * `<host>/<path>` of a rendered file; `<file>#<PARAM>` for a payload one of its lines carries
   * (a base64 file, one-line JSON), decoded; `<resource>#<input path>` for a text input.
   */
  path: string;
  host: string;
  status: "added" | "removed" | "modified";
  /** Unified diff, `a/<path>` to `b/<path>`. */
  patch: string;
}

export interface PlanDiff {
  resources: ResourceChange[];
  files: FileChange[];
  summary: Record<Action, number>;
  /** Stack secrets whose value differs between the sides; never their values. */
  secretsChanged: string[];
  /** citadel-guard's verdict on the new side, and which of its violations are new. */
  violations: (Violation & { new: boolean })[];
  /** What a reviewer needs beside the resources, per host: e.g. the VRAM plan before and after. */
  notes: HostNote[];
}

export interface HostNote {
  host: string;
  title: string;
  lines: string[];
}

export interface DiffOptions {
  /** Resource name -> top-level inputs that carry a changed secret (secretConsumers in lib/diff/run.ts). */
  secretInputs?: Map<string, string[]>;
  secretsChanged?: string[];
  /** Host names, to group resources and files by host. @default the files' first path segments */
  hosts?: string[];
  /** Each host's address, to place a resource by the host its connection reaches. @default {} */
  addresses?: Record<string, string>;
  /** Notes to show with each host's changes. @default [] */
  notes?: HostNote[];
}

const isSecret = (v: unknown) => v === SECRET_MASK;
const isText = (v: unknown) => typeof v === "string" && v.includes("\n");

/** Leaf-level differences between two JSON values. */
export function inputChanges(a: unknown, b: unknown, at = ""): InputChange[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (isSecret(a) || isSecret(b)) return [{ path: at, secret: true }];
  const bothObjects =
    a !== null &&
    b !== null &&
    typeof a === "object" &&
    typeof b === "object" &&
    !Array.isArray(a) &&
    !Array.isArray(b);
  if (bothObjects) {
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    return [...new Set([...Object.keys(ao), ...Object.keys(bo)])]
      .sort()
      .flatMap((k) => inputChanges(ao[k], bo[k], at ? `${at}.${k}` : k));
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    // An argv: name the flag a changed value belongs to.
    const flag = (i: number) =>
      typeof b[i - 1] === "string" && /^--?\w/.test(b[i - 1] as string) ? ` (${b[i - 1]})` : "";
    return a.flatMap((x, i) => inputChanges(x, b[i], `${at}[${i}]${flag(i)}`));
  }
  if (isText(a) || isText(b)) return [{ path: at, text: true }];
  return [{ path: at, ...(a === undefined ? {} : { old: a }), ...(b === undefined ? {} : { new: b }) }];
}

const CONTAINER = "docker:index/container:Container";

/** A step without a delete command: deleting or replacing it removes nothing from the host. */
const deletesNothing = (r: PlanResource) =>
  COMMAND_TYPES.has(r.type) && (r.inputs.delete === undefined || r.inputs.delete === null);

/** The reason for an update or replace, in the provider's terms. */
function reasonOf(r: PlanResource, action: "update" | "replace", keys: string[]): string {
  const list = keys.join(", ");
  if (COMMAND_TYPES.has(r.type)) {
    // pulumi-command v1.2.1 provider/pkg/provider/remote/commandController.go: Update runs
    // `update`, or `create` when none is set; Delete runs `delete` only when one is set.
    const cleanup = deletesNothing(r)
      ? "the old one has no delete command, so nothing on the host is removed"
      : "the old one runs its delete command first";
    return action === "replace"
      ? `triggers changed: replaced; the new step runs its script, and ${cleanup}`
      : `${list} changed: updated in place, which runs its script again`;
  }
  if (r.type === CONTAINER) {
    if (action === "replace") {
      const forced = keys.filter((k) => effectOf(CONTAINER, [k]) === "replace");
      return `the docker provider cannot change ${forced.join(", ")} in place: a new container replaces the old, with the same volumes`;
    }
    const unapplied = unappliedKeys(CONTAINER, keys);
    return unapplied.length > 0
      ? `updated in place (${list}); ${unapplied.join(", ")} are recorded but never reach the running container`
      : `updated in place with docker update (${list})`;
  }
  if (r.type === "grafana:oss/dashboard:Dashboard" && action === "replace")
    return "its uid changed: a new dashboard replaces the old";
  if (r.type === "docker:index/remoteImage:RemoteImage" && action === "replace")
    return `${list} changed: the image is pulled again`;
  return action === "replace" ? `${list} changed: replaced` : `${list} changed: updated in place`;
}

/** A script parameter of a step: `export NAME='value'` in its create script. */
function paramOf(r: PlanResource, name: string): string | undefined {
  const text = typeof r.inputs.create === "string" ? r.inputs.create : "";
  return new RegExp(`^export ${name}='([^']*)'$`, "m").exec(text)?.[1];
}

/** Why a new resource matters, in plain words where it touches data (host/scripts/prepare-*.sh). */
function createReason(r: PlanResource): string {
  const text = typeof r.inputs.create === "string" ? r.inputs.create : "";
  const p = (k: string) => paramOf(r, k) ?? "?";
  if (text.includes("# citadel script: host/scripts/prepare-disk.sh"))
    return (
      `new disk: formats \`${p("DEVICE")}\` as ${p("FILESYSTEM")} labelled ${p("LABEL")} if it carries no filesystem; ` +
      `refuses otherwise (a disk already holding ${p("FILESYSTEM")} labelled ${p("LABEL")} is adopted as it is); mounts it at ${p("MOUNT_POINT")} with nofail`
    );
  if (text.includes("# citadel script: host/scripts/prepare-raid.sh"))
    return (
      `new RAID${p("LEVEL")} array ${p("NAME")}: creates it from \`${p("MEMBERS").split(" ").join("`, `")}\` and formats it as ${p("FILESYSTEM")} only if every member is blank; ` +
      `refuses otherwise (an existing array with this ${paramOf(r, "UUID") ? "UUID" : "name"} is adopted, never recreated); mounts it at ${p("MOUNT_POINT")} with nofail`
    );
  return "new";
}

function deleteReason(r: PlanResource): string {
  if (r.retainOnDelete) return "removed from the stack only: retainOnDelete leaves it on the host";
  if (deletesNothing(r))
    return "removed from the stack; it has no delete command, so nothing on the host changes";
  return "deleted";
}

/** The host a name or file path names, if any. */
function hostIn(name: string, hosts: string[]): string | undefined {
  const tokens = name.split(/[-/]/);
  return hosts.find((h) => tokens.includes(h));
}

/**
 * The host a resource acts on: the host its name carries, else the host whose address its
 * connection (or its provider's, e.g. Grafana's URL) reaches, else "lab".
 */
function resourceHost(
  r: PlanResource,
  plans: Plan[],
  hosts: string[],
  addresses: Record<string, string>,
  depth = 0,
): string {
  const named = hostIn(r.name, hosts);
  if (named) return named;
  const text = JSON.stringify(r.inputs);
  const reached = Object.entries(addresses).find(([, addr]) =>
    new RegExp(`["/@]${addr.replace(/\./g, "\\.")}["/:]`).test(text),
  );
  if (reached) return reached[0];
  const providerName = r.provider?.split("::").pop();
  const provider = providerName ? plans.map((p) => p.resources.get(providerName)).find(Boolean) : undefined;
  return provider && depth < 3 ? resourceHost(provider, plans, hosts, addresses, depth + 1) : "lab";
}

/** A container a config or secret step restarts or reloads when its files change. */
function restartOf(step: PlanResource): { container: string; how: string } | undefined {
  const text = typeof step.inputs.create === "string" ? step.inputs.create : "";
  const param = (k: string) => new RegExp(`^export ${k}='([^']*)'$`, "m").exec(text)?.[1];
  const container = param("CONTAINER");
  const mode = param("RELOAD") ?? param("ON_CHANGE");
  if (!container || container === "none" || !mode || mode === "none") return undefined;
  return {
    container,
    how: mode === "restart" ? "restarted" : `reloaded (${mode.replace(/^http:/, "POST ")})`,
  };
}

const sha = (v: string) => createHash("sha256").update(v).digest("hex").slice(0, 12);

/** A long one-line parameter of a script: `export NAME='<240 or more characters>'`. */
const PAYLOAD = /^export (\w+)='(.{240,})'$/gm;

/** What a one-line payload carries, decoded for a diff: a base64 text file, or JSON pretty-printed. */
export function decodePayload(value: string): { kind: "base64" | "JSON"; text: string } | undefined {
  // A parameter of a script that is itself a quoted parameter (a step's script carrying the file
  // it installs) is wrapped in '\'' … '\'' (less the outer quotes) and carries '\'' for each
  // quote inside.
  const nested = value.startsWith("\\''") && value.endsWith("'\\'");
  const v = (nested ? value.slice(3, -3) : value).replace(/'\\''/g, "'");
  if (/^[[{]/.test(v)) {
    try {
      return { kind: "JSON", text: `${JSON.stringify(JSON.parse(v), null, 2)}\n` };
    } catch {
      return undefined;
    }
  }
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(v) && v.length % 4 === 0) {
    const text = Buffer.from(v, "base64").toString("utf8");
    // Text only: a binary payload (or bytes that are not UTF-8) stays a name, size and hash.
    const binary = [...text].some((ch) => ch === "\uFFFD" || (ch < " " && !"\t\n\r\f\v".includes(ch)));
    if (!binary) return { kind: "base64", text };
  }
  return undefined;
}

/** Each long one-line parameter of a file, by name. */
function payloadsOf(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of (text ?? "").matchAll(PAYLOAD)) out.set(m[1] as string, m[2] as string);
  return out;
}

/**
 * A file as its diff shows it: each long one-line parameter becomes its size and hash, and says
 * where its decoded change is (`show(name)`), or that it is unchanged. A step's FILES parameter
 * names the files it writes, which are diffed on their own.
 */
export function compactScript(
  file: string,
  text: string,
  show: (name: string, value: string) => string | undefined = () => undefined,
): string {
  return text.replace(PAYLOAD, (_m, k: string, v: string) => {
    const size = `${v.length} characters, sha256 ${sha(v)}`;
    if (k === "FILES" && /(^|\/)commands\//.test(file))
      return `export ${k}=<${size}: the files it writes are diffed on their own>`;
    const where = show(k, v);
    return `export ${k}=<${size}${where ? `: ${where}` : ""}>`;
  });
}

/** A unified diff of two texts, without the two header lines jsdiff writes before `---`. */
function unified(aName: string, bName: string, a: string, b: string): string {
  return createTwoFilesPatch(aName, bName, a, b, undefined, undefined, { context: 3 })
    .split("\n")
    .filter((l, i) => i > 1 || !/^(Index: |={10,})/.test(l))
    .join("\n");
}

/**
 * How many resources each one waits for in a row (0: none), from `dependsOn`; waiting for a
 * component is waiting for every resource under it.
 */
export function depths(plan: Plan): Map<string, number> {
  const byUrn = new Map([...plan.resources.values()].map((r) => [r.urn, r]));
  const under = new Map<string, PlanResource[]>();
  for (const r of plan.resources.values()) {
    // Every component above a resource holds it.
    for (let p = r.parent, guard = 0; p && guard < 50; p = plan.components?.get(p) ?? null, guard++) {
      if (!under.has(p)) under.set(p, []);
      under.get(p)?.push(r);
    }
  }
  const memo = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (r: PlanResource): number => {
    const known = memo.get(r.urn);
    if (known !== undefined) return known;
    if (visiting.has(r.urn)) return 0;
    visiting.add(r.urn);
    let d = 0;
    for (const dep of r.dependsOn ?? []) {
      const waited = byUrn.has(dep) ? [byUrn.get(dep) as PlanResource] : (under.get(dep) ?? []);
      for (const w of waited) if (w !== r) d = Math.max(d, visit(w) + 1);
    }
    visiting.delete(r.urn);
    memo.set(r.urn, d);
    return d;
  };
  return new Map([...plan.resources.values()].map((r) => [r.name, visit(r)]));
}

const sameViolation = (a: Violation, b: Violation) =>
  a.policy === b.policy && a.urn === b.urn && a.message === b.message;

export function diffPlans(base: Plan, head: Plan, opts: DiffOptions = {}): PlanDiff {
  const hosts = opts.hosts ?? [
    ...new Set([...base.files.keys(), ...head.files.keys()].map((f) => f.split("/")[0] ?? "")),
  ];
  const hostOf = (r: PlanResource) => resourceHost(r, [head, base], hosts, opts.addresses ?? {});
  const out: ResourceChange[] = [];
  for (const [name, r] of head.resources) {
    const old = base.resources.get(name);
    const host = hostOf(r);
    if (!old) {
      out.push({
        name,
        type: r.type,
        host,
        action: "create",
        reason: createReason(r),
        keys: [],
        changes: [],
        protect: r.protect,
      });
      continue;
    }
    const changes = inputChanges(old.inputs, r.inputs);
    const secretKeys = opts.secretInputs?.get(name) ?? [];
    for (const k of secretKeys)
      if (!changes.some((c) => c.path === k)) changes.push({ path: k, secret: true });
    const keys = [...new Set(changes.map((c) => c.path.split(/[.[]/)[0] as string))].sort();
    if (keys.length === 0) continue;
    const action = effectOf(r.type, keys, old.inputs, r.inputs);
    const change: ResourceChange = {
      name,
      type: r.type,
      host,
      action,
      reason: reasonOf(old, action, keys),
      keys,
      changes,
      protect: old.protect,
    };
    if (action === "replace" && old.protect)
      change.refused = `${name} is protected: pulumi up refuses to replace it`;
    out.push(change);
  }
  for (const [name, r] of base.resources) {
    if (head.resources.has(name)) continue;
    out.push({
      name,
      type: r.type,
      host: hostOf(r),
      action: "delete",
      reason: deleteReason(r),
      keys: [],
      changes: [],
      protect: r.protect,
      ...(r.protect ? { refused: `${name} is protected: pulumi up refuses to delete it` } : {}),
    });
  }
  // A delete and a create of the same type with the same inputs: a rename, which pulumi up
  // carries out as a delete and a create unless the new name has an alias to the old one.
  for (const d of out.filter((c) => c.action === "delete")) {
    const gone = base.resources.get(d.name) as PlanResource;
    const twin = out.find(
      (c) =>
        c.action === "create" &&
        !c.renamedFrom &&
        c.type === d.type &&
        JSON.stringify((head.resources.get(c.name) as PlanResource).inputs) === JSON.stringify(gone.inputs),
    );
    if (twin) {
      twin.renamedFrom = d.name;
      d.renamedTo = twin.name;
      twin.reason = `renamed from ${d.name}: created anew, unless it gets aliases: [{ name: "${d.name}" }]`;
    }
  }
  // Containers a changed step restarts or reloads, though their own inputs are unchanged.
  for (const step of out.filter(
    (c) => COMMAND_TYPES.has(c.type) && (c.action === "update" || c.action === "replace"),
  )) {
    const r = restartOf(head.resources.get(step.name) as PlanResource);
    if (!r) continue;
    const [name, container] =
      [...head.resources].find(([, x]) => x.type === CONTAINER && x.inputs.name === r.container) ?? [];
    if (!name || !container || out.some((c) => c.name === name)) continue;
    out.push({
      name,
      type: container.type,
      host: hostOf(container),
      action: "rerun",
      reason: `unchanged, but ${r.how} by ${step.name} when its files change`,
      keys: [],
      changes: [],
      protect: container.protect,
    });
  }
  // Per host, in the order pulumi up runs them: a resource after everything it waits for.
  const [headDepth, baseDepth] = [depths(head), depths(base)];
  const depth = (c: ResourceChange) => (c.action === "delete" ? baseDepth : headDepth).get(c.name) ?? 0;
  out.sort((a, b) =>
    a.host !== b.host
      ? a.host < b.host
        ? -1
        : 1
      : depth(a) !== depth(b)
        ? depth(a) - depth(b)
        : a.name < b.name
          ? -1
          : 1,
  );

  const files: FileChange[] = [];
  // A payload's change is decoded and diffed once, under the first file (in path order) that
  // carries it; every other file carrying the same change points there.
  const shownAt = new Map<string, string>();
  const paths = [...new Set([...base.files.keys(), ...head.files.keys()])].sort();
  for (const p of paths) {
    const a = base.files.get(p);
    const b = head.files.get(p);
    if (a === b) continue;
    const status = a === undefined ? "added" : b === undefined ? "removed" : "modified";
    const host = hostIn(p, hosts) ?? "lab";
    const [pa, pb] = [payloadsOf(a), payloadsOf(b)];
    const carried: FileChange[] = [];
    // Each side's line of one parameter says the same, so it is worked out once per file.
    const said = new Map<string, string>();
    const show = (k: string): string => {
      const known = said.get(k);
      if (known !== undefined) return known;
      const text = describe(k);
      said.set(k, text);
      return text;
    };
    const describe = (k: string): string => {
      const [va, vb] = [pa.get(k), pb.get(k)];
      if (va === vb) return "unchanged";
      const da = va === undefined ? undefined : decodePayload(va);
      const db = vb === undefined ? undefined : decodePayload(vb);
      const change = `${k}:${sha(da?.text ?? va ?? "")}:${sha(db?.text ?? vb ?? "")}`;
      const at = shownAt.get(change);
      if (at) return `the same change as ${at}, diffed below`;
      if ((va !== undefined && !da) || (vb !== undefined && !db))
        return "changed; an opaque value, shown by size and hash only";
      const name = `${p}#${k}`;
      shownAt.set(change, name);
      const kind = (da || db)?.kind;
      carried.push({
        path: name,
        host,
        status: va === undefined ? "added" : vb === undefined ? "removed" : "modified",
        patch: unified(`a/${name}`, `b/${name}`, da ? da.text : "", db ? db.text : ""),
      });
      return `${kind === "JSON" ? "one-line JSON" : "a base64 file"}, diffed below as ${name}`;
    };
    const patch = unified(
      a === undefined ? "/dev/null" : `a/${p}`,
      b === undefined ? "/dev/null" : `b/${p}`,
      compactScript(p, a ?? "", show),
      compactScript(p, b ?? "", show),
    );
    files.push({ path: p, host, status, patch }, ...carried);
  }
  // A text input (a healthcheck script, a step's script) points at the file diff that shows it:
  // the step's own rendered script, or else a diff of the input itself.
  for (const c of out) {
    for (const i of c.changes.filter((x) => x.text)) {
      const script =
        i.path === "create" ? files.find((f) => f.path.endsWith(`/commands/${c.name}.sh`)) : undefined;
      if (script) {
        i.see = script.path;
        continue;
      }
      const at = (r: PlanResource | undefined) => {
        const v = i.path.split(/\.|\[(\d+)\][^.[]*/).filter((s) => s !== undefined && s !== "");
        let x: unknown = r?.inputs;
        for (const k of v) x = (x as Record<string, unknown> | undefined)?.[k];
        return typeof x === "string" ? x : "";
      };
      const name = `${c.name}#${i.path.replace(/ .*$/, "")}`;
      files.push({
        path: name,
        host: c.host,
        status: "modified",
        patch: unified(
          `a/${name}`,
          `b/${name}`,
          at(base.resources.get(c.name)),
          at(head.resources.get(c.name)),
        ),
      });
      i.see = name;
    }
  }

  const summary: Record<Action, number> = { create: 0, update: 0, replace: 0, delete: 0, rerun: 0 };
  for (const c of out) summary[c.action]++;
  return {
    resources: out,
    files,
    summary,
    secretsChanged: [...(opts.secretsChanged ?? [])].sort(),
    notes: opts.notes ?? [],
    violations: head.violations.map((v) => ({
      ...v,
      new: !base.violations.some((o) => sameViolation(o, v)),
    })),
  };
}

/** `+2 ~1 ±1 -0`, as pulumi preview counts creates, updates, replaces and deletes. */
export function summaryLine(d: PlanDiff): string {
  const s = d.summary;
  return `+${s.create} ~${s.update} ±${s.replace} -${s.delete}`;
}

export const hasChanges = (d: PlanDiff) =>
  d.resources.length > 0 || d.files.length > 0 || d.secretsChanged.length > 0;
