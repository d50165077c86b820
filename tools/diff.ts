/**
 * `npm run diff`: what a change does to the lab, as `pulumi preview --diff` would show it, offline
 * and without credentials, for PR review.
 *
 *   npm run diff -- --base <git-ref> [--config Pulumi.citadel.yaml] [--format text|markdown|json]
 *   npm run diff -- --base-config <stack yaml> --config <stack yaml> [--format …]
 *
 * With --base, the base side is the lab as the ref's own code plans it: a temporary git worktree
 * at the ref, with that ref's locked dependencies, runs its own `npm start -- --out`. The new side
 * is the working tree. Exit codes: 0 no change, 1 changes, 2 invalid input on either side (which
 * side is named), 3 a mandatory citadel-guard violation on the new side.
 */
import "../lib/compile-cache";
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
import { LabConfigError } from "../components/config";
import { parseFlags } from "../lib/cli";
import { synthesize, SynthError, type SynthResult } from "../lib/synth/harness";
import { runPolicies } from "../lib/synth/policies";
import { runLab } from "../lib/synth/program";
import {
  parseStackText,
  placeholderNotes,
  placeholderValue,
  readStackFile,
  stackName,
  StackFileError,
  type StackFile,
} from "../lib/synth/stackfile";
import { cacheRoot } from "../lib/upstream/cache";
import { diffPlans, hasChanges, type PlanDiff } from "../lib/diff/diff";
import { planFromOut, planFromSynth, type Plan } from "../lib/diff/plan";
import { renderJson, renderMarkdown, renderText } from "../lib/diff/render";
import { vramNote } from "../lib/diff/vram";

const REPO = path.resolve(__dirname, "..");

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

async function main(argv: string[]): Promise<number> {
  const args = parseFlags(
    argv,
    { base: "", "base-config": "", config: "Pulumi.citadel.yaml", format: "text" },
    [],
    {
      usage:
        "npm run diff -- (--base <git-ref> | --base-config <stack yaml>) [--config <stack yaml>] [--format text|markdown|json]",
      flags: {
        base: "a git ref: its code and its copy of the --config file are the old plan (e.g. origin/main)",
        "base-config": "a stack file planned with this checkout's code as the old plan (instead of --base)",
        config: "the stack file of the new plan, in the working tree",
        format: "text for a terminal, markdown for a pull-request comment, json for tools",
      },
      exits: {
        0: "no change",
        1: "the plans differ (the diff is printed)",
        2: "bad flags, a stack file that does not load, or a ref that cannot be checked out",
        3: "a mandatory citadel-guard policy is violated by the new plan",
        4: "anything else went wrong (the message says what)",
      },
    },
  );
  if (!["text", "markdown", "json"].includes(args.format))
    throw new StackFileError(`--format must be text, markdown or json, not ${args.format}`);
  const { diff, title, notes } = await runDiff({
    base: args.base,
    baseConfig: args["base-config"],
    config: args.config,
  });
  const render = { text: renderText, markdown: renderMarkdown, json: renderJson }[args.format as "text"];
  process.stdout.write(render(diff, title));
  // On stderr, so that --format json stays one document; they never change the exit code.
  for (const note of notes ?? []) console.error(`citadel diff: ${note}`);
  if (diff.violations.some((v) => v.enforcementLevel === "mandatory")) return 3;
  return hasChanges(diff) ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (e instanceof SideError || e instanceof StackFileError) {
        console.error(`citadel diff: ${e.message}`);
        process.exit(2);
      }
      console.error(e);
      process.exit(4);
    },
  );
}
