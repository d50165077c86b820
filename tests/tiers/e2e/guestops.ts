/**
 * What the e2e suites outside index.ts's main() share (tests/tiers/e2e/pi.ts, tests/tiers/e2e/faults.ts): the
 * run's context, root commands in a guest over SSH, waiting for a boot, and applying the steps
 * once with the stand-in (tests/tiers/e2e/apply.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import type { LabConfig } from "../../../components/config";
import { apply, ApplyError, exec, type ApplyOptions, type Step, type StepResult } from "./apply";
import type { Vm } from "./vm";

export interface Reporter {
  check(name: string, ok: boolean, detail: string): boolean;
  time(what: string, seconds: number): void;
  log(line: string): void;
}

/** What a suite gets from the run: the image, the network, the agent, and where its VMs go. */
export interface SuiteContext {
  run: Reporter;
  /** The image directory (vmlinuz, initrd.img, root.img, client_ed25519, host_ed25519.pub). */
  image: string;
  /** This run's directory (disks, overlays, console logs). */
  dir: string;
  labNs: string;
  /** argv prefix that runs a command on the build machine's side of the bridge. */
  inLab: string[];
  /** Environment with SSH_AUTH_SOCK (the agent holding the image's client key). */
  env: NodeJS.ProcessEnv;
  /** The prefix length of the admin subnet (the VMs' addresses use it). */
  adminBits: string;
  /** The outsider's address with its prefix (VMs get an on-link route to its subnet). */
  outsider: string;
  /** Every VM of the run: a suite adds its own, so the run's teardown kills it too. */
  vms: Vm[];
}

/** What the tier's own SSH sessions need to reach a guest (not the steps: apply.ts has its own). */
export interface GuestSsh {
  inLab: readonly string[];
  image: string;
  host: { address: string; ssh: { user: string } } | undefined;
  vm: Vm;
  dir: string;
}

/** Options every tier probe's ssh and scp share (the master too): the image's key, no host key check. */
export function probeOpts(image: string): string[] {
  return [
    "-F",
    "/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=5",
    "-i",
    path.join(image, "client_ed25519"),
  ];
}

/**
 * Connection sharing for the tier's own probes (never for the steps, which apply.ts runs one SSH
 * connection each, as pulumi-command does). Under emulation a new SSH connection costs a key
 * exchange and a PAM login in the guest; the checks make well over a hundred of them. One master
 * per VM and boot (`ssh -M -N`, started by this process, ended by PID in `stopMuxes` or when its
 * connection dies: ServerAliveInterval 5 s x 3), and the probes ride it with `ControlMaster=no`,
 * which falls back to a connection of their own when the socket is absent or dead (ssh_config(5),
 * ControlMaster; OpenSSH mux.c muxclient). At most MUX_SESSIONS at once: sshd's MaxSessions is 10
 * by default (sshd_config(5)).
 */
const MUX_SESSIONS = 8;
const masters = new Map<string, { child: ChildProcess; sock: string; inflight: number }>();

function masterAlive(m: { child: ChildProcess }): boolean {
  return m.child.exitCode === null && m.child.signalCode === null;
}

/** Runs `f` with the mux options for this VM's current boot ([] when none can be used). */
export async function withMux<T>(g: GuestSsh, f: (mux: string[]) => Promise<T>): Promise<T> {
  const key = `${g.vm.spec.name}-${g.vm.boots}`;
  let m = masters.get(key);
  if (m && (!masterAlive(m) || !g.vm.running)) {
    if (masterAlive(m)) m.child.kill("SIGTERM");
    masters.delete(key);
    m = undefined;
  }
  if (!m && g.vm.running && g.host) {
    const sock = path.join(g.dir, `mux-${key}.sock`);
    rmSync(sock, { force: true });
    const child = spawn(
      g.inLab[0] as string,
      [
        ...g.inLab.slice(1),
        "ssh",
        "-T",
        ...probeOpts(g.image),
        "-M",
        "-N",
        "-o",
        `ControlPath=${sock}`,
        "-o",
        "ServerAliveInterval=5",
        "-o",
        "ServerAliveCountMax=3",
        `${g.host.ssh.user}@${g.host.address}`,
      ],
      { stdio: "ignore" },
    );
    child.on("error", () => undefined);
    masters.set(key, { child, sock, inflight: 0 });
    return f([]);
  }
  if (!m || m.inflight >= MUX_SESSIONS || !existsSync(m.sock)) return f([]);
  m.inflight += 1;
  try {
    return await f(["-o", "ControlMaster=no", "-o", `ControlPath=${m.sock}`]);
  } finally {
    m.inflight -= 1;
  }
}

/** Ends every SSH master this process started (by PID), for the run's teardown. */
export function stopMuxes(): void {
  for (const [key, m] of masters) {
    if (masterAlive(m)) m.child.kill("SIGTERM");
    masters.delete(key);
  }
}

/**
 * The argv of one SSH session to a guest as the image's client key (root commands go through
 * `sudo -n`), from the build machine's side of the bridge, ended after `timeoutS`. Host keys are not
 * checked here: these are the tier's own probes, not the steps (apply.ts pins the host key). `mux`
 * are the connection-sharing options from `withMux`.
 */
export function guestSshArgv(
  inLab: readonly string[],
  image: string,
  host: { address: string; ssh: { user: string } } | undefined,
  cmd: string,
  timeoutS: number,
  mux: readonly string[] = [],
): string[] {
  return [
    ...inLab,
    "timeout",
    String(timeoutS),
    "ssh",
    "-T",
    ...probeOpts(image),
    ...mux,
    `${host?.ssh.user}@${host?.address}`,
    "--",
    cmd,
  ];
}

export interface RootResult {
  code: number | null;
  stdout: string;
  /** stdout and stderr, trimmed. */
  out: string;
}

/** Runs `cmd` as root (sudo -n) in the guest over SSH with the image's client key. */
export async function root(
  ctx: SuiteContext,
  config: LabConfig,
  vm: Vm,
  cmd: string,
  timeoutS = 300,
): Promise<RootResult> {
  const host = config.hosts[vm.spec.name];
  const r = await withMux({ inLab: ctx.inLab, image: ctx.image, host, vm, dir: ctx.dir }, (mux) =>
    exec(
      guestSshArgv(ctx.inLab, ctx.image, host, `sudo -n bash -c ${shq(cmd)}`, timeoutS, mux),
      undefined,
      ctx.env,
    ),
  );
  return { code: r.code, stdout: r.stdout, out: `${r.stdout}${r.stderr}`.trim() };
}

/** Waits until the guest answers SSH with a boot id other than `bootId`; returns the new one. */
export async function waitSsh(
  ctx: SuiteContext,
  config: LabConfig,
  vm: Vm,
  what: string,
  bootId?: string,
): Promise<string> {
  const started = Date.now();
  for (;;) {
    const r = await root(ctx, config, vm, "cat /proc/sys/kernel/random/boot_id", 15);
    const id = r.stdout.trim();
    if (r.code === 0 && id && id !== bootId) {
      ctx.run.time(`${vm.spec.name}: ${what} until ssh answers`, (Date.now() - started) / 1000);
      return id;
    }
    if (Date.now() - started > 600_000) {
      throw new Error(
        `${vm.spec.name} did not answer ssh within 600 s; console:\n${vm.consoleSince().slice(-3000)}`,
      );
    }
    await sleep(3000);
  }
}

export interface ApplyOutcome {
  ok: boolean;
  results: StepResult[];
  /** The ApplyError's message when the apply failed. */
  error: string;
  seconds: number;
}

/** One apply of `steps` with the stand-in; never throws (a failure is in the outcome). */
export async function applyOnce(
  ctx: SuiteContext,
  steps: Step[],
  what: string,
  onStart?: ApplyOptions["onStart"],
): Promise<ApplyOutcome> {
  ctx.run.log(`${what}:`);
  const started = Date.now();
  try {
    const results = await apply(steps, {
      netnsPrefix: ctx.inLab,
      env: ctx.env,
      log: (l) => ctx.run.log(l),
      ...(onStart ? { onStart } : {}),
    });
    const seconds = (Date.now() - started) / 1000;
    ctx.run.time(what, seconds);
    return { ok: true, results, error: "", seconds };
  } catch (e) {
    const seconds = (Date.now() - started) / 1000;
    ctx.run.time(what, seconds);
    return {
      ok: false,
      results: e instanceof ApplyError ? e.results : [],
      error: (e as Error).message,
      seconds,
    };
  }
}

/** Steps of `results` that reported a change (the secret steps' output is not read). */
export function changedSteps(steps: Step[], results: StepResult[]): string[] {
  return results
    .filter((r) => {
      const quiet = steps.find((s) => s.name === r.name)?.quiet;
      return quiet ? !/no changes:/.test(r.stdout) : !r.report.startsWith("no changes:");
    })
    .map((r) => `${r.name}: ${r.report}`);
}

export function shq(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The lines only one of two snapshots has (`- ` first, `+ ` second), at most 40. */
export function diffLines(a: string, b: string): string {
  const as = new Set(a.split("\n"));
  const bs = new Set(b.split("\n"));
  return [
    ...[...as].filter((l) => !bs.has(l)).map((l) => `- ${l}`),
    ...[...bs].filter((l) => !as.has(l)).map((l) => `+ ${l}`),
  ]
    .slice(0, 40)
    .join("\n");
}
