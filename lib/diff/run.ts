/**
 * `npm run diff` as a library (tools/diff.ts is its command line; npm run bench and npm run readme
 * run it too): what a change does to the lab, as `pulumi preview --diff` would show it, offline and
 * without credentials.
 *
 * With a base ref, the base side is the lab as the ref's own code plans it: a temporary git
 * worktree at the ref, with that ref's locked dependencies, runs its own `npm start -- --out`. The
 * new side is the working tree. With a base stack file, both sides are planned with this code.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { LabConfigError } from "../../components/config";
import { synthesize, SynthError, type SynthResult } from "../synth/harness";
import { runPolicies } from "../synth/policies";
import { runLab } from "../synth/program";
import {
  parseStackText,
  placeholderNotes,
  placeholderValue,
  readStackFile,
  stackName,
  StackFileError,
  type StackFile,
} from "../synth/stackfile";
import { cacheRoot } from "../upstream/cache";
import { diffPlans, type PlanDiff } from "./diff";
import { planFromOut, planFromSynth, type Plan } from "./plan";
import { vramNote } from "./vram";

const REPO = path.resolve(__dirname, "..", "..");

/** Invalid input on one side: exit 2, naming the side. */
export class SideError extends Error {
  constructor(
    readonly side: "base" | "new",
    message: string,
  ) {
    super(`the ${side} side: ${message}`);
  }
}

function git(args: string[], cwd = REPO): { ok: boolean; out: string; err: string } {
  const r = spawnSync("git", args, { cwd, encoding: "utf8" });
  return { ok: r.status === 0, out: (r.stdout ?? "").trim(), err: (r.stderr ?? "").trim() };
}

/** The secrets whose `secure:` ciphertext differs between the two stack files (added or removed too). */
export function changedSecrets(base: StackFile, head: StackFile): string[] {
  const a = base.ciphertexts ?? {};
  const b = head.ciphertexts ?? {};
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).sort();
}

/**
 * Which inputs of which resources carry the changed secrets: the new side synthesized again with
 * those secrets given other stand-in values, and compared in memory. Values never leave this function.
 */
export async function secretConsumers(head: StackFile, headResult: SynthResult, keys: string[]) {
  const consumers = new Map<string, string[]>();
  const present = keys.filter((k) => head.secure.includes(k));
  if (present.length === 0) return consumers;
  const secrets = Object.fromEntries(present.map((k) => [k, `${placeholderValue(k)}-changed`]));
  const other = await synthesize({ stack: head, program: runLab, secrets });
  const before = new Map(headResult.resources.map((r) => [r.name, r.rawInputs]));
  for (const r of other.resources) {
    const old = before.get(r.name);
    if (!old || !r.custom) continue;
    const changed = [...new Set([...Object.keys(old), ...Object.keys(r.rawInputs)])].filter(
      (k) => JSON.stringify(old[k]) !== JSON.stringify(r.rawInputs[k]),
    );
    if (changed.length > 0) consumers.set(r.name, changed.sort());
  }
  return consumers;
}

/** The plan of a stack file on this code, in this process. */
async function planHere(
  stack: StackFile,
  side: "base" | "new",
): Promise<{ plan: Plan; result: SynthResult }> {
  let result: SynthResult;
  try {
    result = await synthesize({ stack, program: runLab });
  } catch (caught) {
    const err = caught instanceof SynthError ? caught.cause : caught;
    if (err instanceof LabConfigError || err instanceof StackFileError)
      throw new SideError(side, err.message);
    throw err;
  }
  return { plan: planFromSynth(result, await runPolicies(result)), result };
}

function readStack(file: string, side: "base" | "new"): StackFile {
  try {
    return readStackFile(file);
  } catch (e) {
    if (e instanceof StackFileError) throw new SideError(side, e.message);
    throw e;
  }
}

/**
 * The ref's dependencies: this checkout's node_modules when the lockfiles are equal, otherwise
 * `npm ci` once into a cache keyed by the lockfile's hash (outside the repo, reused when warm).
 */
function linkDependencies(worktree: string): void {
  const lock = readFileSync(path.join(worktree, "package-lock.json"));
  let modules = path.join(REPO, "node_modules");
  if (!lock.equals(readFileSync(path.join(REPO, "package-lock.json")))) {
    const key = createHash("sha256").update(lock).digest("hex").slice(0, 16);
    const dir = path.join(path.dirname(cacheRoot()), "diff-deps", key);
    modules = path.join(dir, "node_modules");
    if (!existsSync(path.join(dir, ".complete"))) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      for (const f of ["package.json", "package-lock.json"])
        cpSync(path.join(worktree, f), path.join(dir, f));
      const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], {
        cwd: dir,
        encoding: "utf8",
      });
      if (r.status !== 0)
        throw new Error(`npm ci for the base ref's lockfile failed in ${dir}:\n${r.stderr}`);
      writeFileSync(path.join(dir, ".complete"), "");
    }
  }
  symlinkSync(modules, path.join(worktree, "node_modules"), "dir");
}

/** The plan the ref's own code makes for `config` (a path inside the repo), and its stack file. */
async function planAtRef(
  ref: string,
  config: string,
): Promise<{ plan: Plan; stack: StackFile; label: string }> {
  const commit = git(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
  if (!commit.ok)
    throw new SideError(
      "base",
      `git ref ${ref} does not exist in ${REPO} (fetch it, or name a branch, tag or commit)`,
    );
  const rel = path.relative(REPO, path.resolve(config));
  const text = git(["show", `${commit.out}:${rel}`]);
  if (!text.ok) throw new SideError("base", `${rel} does not exist at ${ref}`);
  let stack: StackFile;
  try {
    stack = parseStackText(text.out, stackName(rel), `${rel} at ${ref}`);
  } catch (e) {
    if (e instanceof StackFileError) throw new SideError("base", e.message);
    throw e;
  }
  const tmp = mkdtempSync(path.join(tmpdir(), "citadel-diff-"));
  const worktree = path.join(tmp, "src");
  try {
    const add = git(["worktree", "add", "--detach", "--quiet", worktree, commit.out]);
    if (!add.ok) throw new Error(`git worktree add failed: ${add.err}`);
    linkDependencies(worktree);
    const out = path.join(tmp, "out");
    const tsx = path.join(worktree, "node_modules", ".bin", "tsx");
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(tsx, ["tools/synth.ts", "--config", rel, "--out", out], {
        cwd: worktree,
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code) => resolve({ code, stderr }));
    });
    if (r.code === 2) throw new SideError("base", `${ref}'s ${rel} is invalid:\n${r.stderr.trim()}`);
    if (r.code !== 0 && r.code !== 3)
      throw new Error(`npm start at ${ref} failed (exit ${r.code}):\n${r.stderr.trim()}`);
    return { plan: planFromOut(out), stack, label: `${ref} (${commit.out.slice(0, 7)})` };
  } finally {
    git(["worktree", "remove", "--force", worktree]);
    rmSync(tmp, { recursive: true, force: true });
  }
}

export interface DiffRun {
  diff: PlanDiff;
  title: string;
  /** The new side's placeholders that pulumi up would refuse, one line each. @default [] */
  notes?: string[];
}

export async function runDiff(opts: {
  base?: string;
  baseConfig?: string;
  config: string;
}): Promise<DiffRun> {
  const headStack = readStack(opts.config, "new");
  let base: { plan: Plan; stack: StackFile; label: string };
  let head: { plan: Plan; result: SynthResult };
  if (opts.base) {
    // The ref's own npm start runs in a child process while this one plans the new side.
    [base, head] = await Promise.all([
      planAtRef(opts.base, opts.baseConfig || opts.config),
      planHere(headStack, "new"),
    ]);
  } else if (opts.baseConfig) {
    const stack = readStack(opts.baseConfig, "base");
    base = { plan: (await planHere(stack, "base")).plan, stack, label: opts.baseConfig };
    head = await planHere(headStack, "new");
  } else {
    throw new SideError("base", "give --base <git-ref> or --base-config <stack yaml>");
  }
  const secretsChanged = changedSecrets(base.stack, headStack);
  const secretInputs = await secretConsumers(headStack, head.result, secretsChanged);
  const hostConfig = (headStack.values.hosts ?? {}) as Record<string, { address?: unknown }>;
  const hosts = Object.keys(hostConfig);
  const addresses = Object.fromEntries(
    Object.entries(hostConfig)
      .filter(([, h]) => typeof h?.address === "string")
      .map(([n, h]) => [n, h.address as string]),
  );
  return {
    diff: diffPlans(base.plan, head.plan, {
      secretInputs,
      secretsChanged,
      hosts,
      addresses,
      notes: [vramNote(base.stack, headStack)].filter((n) => n !== undefined),
    }),
    title: `citadel diff: ${base.label} → ${opts.base ? "working tree" : opts.config}`,
    notes: placeholderNotes(headStack),
  };
}
