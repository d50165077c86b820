/**
 * A small stand-in for `pulumi up` with @pulumi/command v1.2.1, because the engine and its command
 * provider cannot run here (no registry serves the provider plugin). It is NOT the engine: it only
 * runs the program's registered `command:remote:Command` and `command:local:Command` resources,
 *   - in the engine's dependency order (a step starts when every resource it depends on is done;
 *     a dependency on a component waits for all that component's resources), up to PARALLEL at once;
 *   - each remote step as the provider does it (../shared REFERENCE "@pulumi/command"): one SSH
 *     session with the step's own connection (user, port, the pinned host key, SSH_AUTH_SOCK for
 *     `auth: agent`), dial errors (refused, timed out, host key mismatch) retried up to
 *     dialErrorLimit with waits growing to 5 s, no PTY, its `stdin` written, its `create` run, and a
 *     non-zero exit failing the run with the step's name and its output;
 *   - each local step with `bash -c` semantics on the build machine's side of the lab network.
 * A step's input that is another step's output (the reboot step's stdout, which the wait step
 * reads) is registered with a marker and replaced by the real output when the step runs.
 * Steps that need a resource of another provider (a Docker container, Grafana) are not applied by
 * this stand-in and are listed as such.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ResourceRecord } from "../../../lib/synth/harness";

export const REMOTE = "command:remote:Command";
export const LOCAL = "command:local:Command";
const PARALLEL = 4;

/** The stdout marker a command reports under synthesis; replaced by its real stdout at apply. */
export function stdoutMarker(name: string): string {
  return `@@e2e-stdout:${name}@@`;
}

export interface Connection {
  host: string;
  port: number;
  user: string;
  hostKey?: string;
  dialErrorLimit: number;
  perDialTimeout: number;
}

export interface Step {
  name: string;
  urn: string;
  type: string;
  create: string;
  stdin?: string;
  /** logging "none": the step carries secrets, its output is never printed. */
  quiet: boolean;
  connection?: Connection;
  /** URNs of the steps it waits for. */
  deps: string[];
  /** Why the stand-in cannot apply it (it needs another provider's resource). */
  blockedBy?: string;
}

export interface StepResult {
  name: string;
  ok: boolean;
  seconds: number;
  stdout: string;
  stderr: string;
  code: number | null;
  /** The script's last line: `done: ...` or `no changes: ...`. */
  report: string;
  dialAttempts: number;
}

/** Steps of the program, with their dependencies resolved to steps (components expanded). */
export function stepsOf(resources: ResourceRecord[]): Step[] {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const children = new Map<string, ResourceRecord[]>();
  for (const r of resources) {
    if (r.parent) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
  }
  const expand = (urn: string): ResourceRecord[] => {
    const r = byUrn.get(urn);
    if (!r) return [];
    if (r.custom) return [r];
    return (children.get(urn) ?? []).flatMap((c) => expand(c.urn));
  };
  const steps: Step[] = [];
  for (const r of resources) {
    if (r.type !== REMOTE && r.type !== LOCAL) continue;
    const deps = r.dependsOn.flatMap(expand);
    const foreign = deps.find(
      (d) => d.type !== REMOTE && d.type !== LOCAL && !d.type.startsWith("pulumi:providers:"),
    );
    const i = r.rawInputs;
    const c = i.connection as Record<string, unknown> | undefined;
    steps.push({
      name: r.name,
      urn: r.urn,
      type: r.type,
      create: String(i.create ?? ""),
      ...(typeof i.stdin === "string" ? { stdin: i.stdin } : {}),
      quiet: i.logging === "none",
      ...(c
        ? {
            connection: {
              host: String(c.host),
              port: Number(c.port ?? 22),
              user: String(c.user ?? "root"),
              ...(c.hostKey ? { hostKey: String(c.hostKey) } : {}),
              dialErrorLimit: Number(c.dialErrorLimit ?? 10),
              perDialTimeout: Number(c.perDialTimeout ?? 15),
            },
          }
        : {}),
      deps: deps.filter((d) => d.type === REMOTE || d.type === LOCAL).map((d) => d.urn),
      ...(foreign ? { blockedBy: `${foreign.name} (${foreign.type})` } : {}),
    });
  }
  // A step that waits for a blocked step is blocked too.
  let changed = true;
  while (changed) {
    changed = false;
    for (const s of steps) {
      if (s.blockedBy) continue;
      const b = s.deps.map((u) => steps.find((x) => x.urn === u)).find((x) => x?.blockedBy);
      if (b) {
        s.blockedBy = `${b.name}, which needs ${b.blockedBy}`;
        changed = true;
      }
    }
  }
  return steps;
}

export interface ApplyOptions {
  /** Runs a command in the build machine's side of the lab network (argv prefix, e.g. ip netns exec). */
  netnsPrefix: string[];
  /** Environment for ssh and local steps (SSH_AUTH_SOCK). */
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  /** Called when a step starts (faults hook in here). */
  onStart?: (step: Step) => void;
}

export class ApplyError extends Error {
  /** The steps that finished before the run stopped. */
  results: StepResult[] = [];
}

/** Applies the steps; resolves with every result, rejects with ApplyError naming the failed step. */
export async function apply(steps: Step[], opts: ApplyOptions): Promise<StepResult[]> {
  const runnable = steps.filter((s) => !s.blockedBy);
  const done = new Map<string, StepResult>();
  const started = new Set<string>();
  const outputs = new Map<string, string>();
  let failure: ApplyError | null = null;
  const running = new Set<Promise<void>>();
  const ready = () => runnable.filter((s) => !started.has(s.urn) && s.deps.every((d) => done.get(d)?.ok));
  for (;;) {
    if (!failure) {
      for (const s of ready()) {
        if (running.size >= PARALLEL) break;
        started.add(s.urn);
        opts.onStart?.(s);
        const p = runStep(s, outputs, opts).then((r) => {
          done.set(s.urn, r);
          outputs.set(s.name, r.stdout);
          running.delete(p);
          const shown = s.quiet ? "(output not shown: the step carries secrets)" : r.report;
          opts.log(`  ${r.ok ? "ok  " : "err "} ${s.name} ${r.seconds.toFixed(1)} s  ${shown}`);
          if (!r.ok && !failure) {
            const out = s.quiet
              ? "(output not shown: the step carries secrets)"
              : `${r.stdout}${r.stderr}`.trim();
            failure = new ApplyError(
              `step ${s.name} failed (exit ${r.code}${r.dialAttempts > 1 ? `, after ${r.dialAttempts} dial attempts` : ""}):\n${out}`,
            );
          }
        });
        running.add(p);
      }
    }
    if (running.size === 0) break;
    await Promise.race(running);
  }
  if (failure) {
    (failure as ApplyError).results = [...done.values()];
    throw failure;
  }
  const missing = runnable.filter((s) => !done.has(s.urn));
  if (missing.length > 0)
    throw new ApplyError(`steps never became ready: ${missing.map((s) => s.name).join(", ")}`);
  return runnable.map((s) => done.get(s.urn) as StepResult);
}

function shellQuoteInner(value: string): string {
  return value.replace(/'/g, "'\\''");
}

/** Dial errors OpenSSH reports before a session exists; pulumi-command retries these. */
const DIAL_ERROR =
  /^(ssh: connect to host|kex_exchange_identification|Connection (closed|reset) by|Connection timed out during banner|Host key verification failed|@@@+ *\n?.*WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED)/m;

function runStep(step: Step, outputs: Map<string, string>, opts: ApplyOptions): Promise<StepResult> {
  let create = step.create;
  for (const [name, stdout] of outputs)
    create = create.split(stdoutMarker(name)).join(shellQuoteInner(stdout));
  const t0 = Date.now();
  if (step.type === LOCAL) {
    return exec([...opts.netnsPrefix, "bash", "-c", create], step.stdin, opts.env).then((r) =>
      result(step, r, t0, 1),
    );
  }
  const c = step.connection as Connection;
  const dir = mkdtempSync(path.join(os.tmpdir(), "citadel-e2e-ssh-"));
  const knownHosts = path.join(dir, "known_hosts");
  const hostName = c.port === 22 ? c.host : `[${c.host}]:${c.port}`;
  writeFileSync(knownHosts, c.hostKey ? `${hostName} ${c.hostKey}\n` : "");
  const argv = [
    ...opts.netnsPrefix,
    "ssh",
    "-F",
    "/dev/null",
    "-T",
    "-o",
    "BatchMode=yes",
    "-o",
    `StrictHostKeyChecking=${c.hostKey ? "yes" : "no"}`,
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    `ConnectTimeout=${c.perDialTimeout}`,
    "-o",
    "ConnectionAttempts=1",
    "-o",
    "ServerAliveInterval=10",
    "-o",
    "ServerAliveCountMax=3",
    "-o",
    "LogLevel=ERROR",
    "-p",
    String(c.port),
    `${c.user}@${c.host}`,
    "--",
    create,
  ];
  const attempt = async (n: number): Promise<StepResult> => {
    const r = await exec(argv, step.stdin, opts.env);
    const dialFailed = r.code === 255 && r.stdout === "" && DIAL_ERROR.test(r.stderr);
    const limit = c.dialErrorLimit < 0 ? Infinity : c.dialErrorLimit;
    if (dialFailed && n < limit) {
      await new Promise((res) => setTimeout(res, Math.min(5000, 250 * 2 ** Math.min(n, 5))));
      return attempt(n + 1);
    }
    return result(step, r, t0, n);
  };
  return attempt(1).finally(() => rmSync(dir, { recursive: true, force: true }));
}

function result(step: Step, r: ExecResult, t0: number, dialAttempts: number): StepResult {
  const lines = r.stdout.trim().split("\n");
  return {
    name: step.name,
    ok: r.code === 0,
    seconds: (Date.now() - t0) / 1000,
    stdout: r.stdout,
    stderr: r.stderr,
    code: r.code,
    report: lines[lines.length - 1] ?? "",
    dialAttempts,
  };
}

interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function exec(argv: string[], stdin: string | undefined, env: NodeJS.ProcessEnv): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0] as string, argv.slice(1), { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin.on("error", () => undefined);
    child.stdin.end(stdin ?? "");
    child.on("error", (e) => resolve({ code: 127, stdout, stderr: `${stderr}${e.message}` }));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
