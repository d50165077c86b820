/**
 * Runs upstream programs the way their containers run them, without Docker: each service in its
 * own network namespace on a private bridge (names resolve to the other services as on the lab's
 * Docker network) and its own mount namespace and root, with the container's volumes bound from a
 * simulated host filesystem under the run directory. tests/tiers/conformance/sandbox.sh does the
 * privileged work; everything it makes is torn down by `down()`, also after a failure, and a new
 * run first removes what a killed run left.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";

const SCRIPT = path.join(__dirname, "sandbox.sh");
const PREFIX = "citc-";

export interface Bind {
  src: string;
  dst: string;
  readOnly: boolean;
}

export interface ExecSpec {
  /** The service (its namespace and root). */
  service: string;
  argv: string[];
  env?: Record<string, string>;
  binds: Bind[];
  /** uid:gid; root when unset. */
  user?: string;
}

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sh(args: string[]): Result {
  const r = spawnSync("bash", [SCRIPT, ...args], { encoding: "utf8" });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Whether a process with this PID exists (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Namespaces left by earlier runs that were killed before they could clean up: a run's namespaces
 * are named after its PID (`citc-<pid>-<service>`), so a run whose process still exists (another
 * conformance run beside this one) keeps its namespaces.
 */
export function staleRuns(isAlive: (pid: number) => boolean = alive): string[] {
  const r = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  const names = (r.stdout ?? "").split("\n").map((l) => l.split(" ")[0] ?? "");
  const runs = new Set(
    names.filter((n) => n.startsWith(PREFIX)).map((n) => n.split("-").slice(0, 2).join("-")),
  );
  return [...runs].filter((run) => {
    const pid = Number(run.slice(PREFIX.length));
    return !Number.isInteger(pid) || pid === process.pid || !isAlive(pid);
  });
}

export class Sandbox {
  readonly id: string;
  private readonly children: ChildProcess[] = [];
  private addresses: Record<string, string> = {};

  constructor(readonly dir: string) {
    this.id = `${PREFIX}${process.pid}`;
  }

  /** Requires root and iproute2; says how to get them when missing. */
  static preflight(): void {
    if (process.getuid?.() !== 0) {
      throw new Error(
        "the conformance sandbox needs root (network and mount namespaces); run it as root, as CI does",
      );
    }
    for (const tool of ["ip", "unshare", "chroot", "mount"]) {
      if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
        throw new Error(
          `${tool} is missing; install it with: apt-get install -y iproute2 util-linux coreutils mount`,
        );
      }
    }
  }

  /** Removes namespaces a killed run left behind. */
  static cleanStale(log: (l: string) => void): void {
    for (const run of staleRuns()) {
      log(`sandbox: removing namespaces left by an earlier run (${run}-*)`);
      sh(["net-down", run]);
    }
  }

  /** Namespaces for each service, addressed on one bridge. `hosts` maps extra names to addresses. */
  up(services: Record<string, string>, aliases: Record<string, string[]> = {}): void {
    this.addresses = services;
    const r = sh(["net-up", this.id, ...Object.entries(services).map(([n, a]) => `${n}=${a}`)]);
    if (r.code !== 0) throw new Error(`sandbox net-up failed: ${r.stderr}`);
    const lines = ["127.0.0.1 localhost"];
    for (const [name, addr] of Object.entries(services)) {
      lines.push(`${addr} ${[name, ...(aliases[name] ?? [])].join(" ")}`);
    }
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(this.hostsFile, `${lines.join("\n")}\n`);
  }

  get hostsFile(): string {
    return path.join(this.dir, "hosts");
  }

  address(service: string): string {
    const a = this.addresses[service];
    if (!a) throw new Error(`sandbox: no service ${service}`);
    return a;
  }

  private prepare(spec: ExecSpec): string[] {
    const root = path.join(this.dir, "roots", `${spec.service}-${this.children.length}-${Date.now()}`);
    const bindsFile = `${root}.binds`;
    mkdirSync(path.dirname(root), { recursive: true });
    for (const b of spec.binds) {
      if (!existsSync(b.src)) throw new Error(`sandbox: bind source ${b.src} does not exist`);
      if (/\s/.test(b.src + b.dst))
        throw new Error(`sandbox: bind paths may not contain spaces: ${b.src} ${b.dst}`);
    }
    writeFileSync(
      bindsFile,
      spec.binds.map((b) => `${b.src} ${b.dst} ${b.readOnly ? "ro" : "rw"}\n`).join(""),
    );
    const env = Object.entries({ PATH: "/usr/local/bin:/usr/bin:/bin", HOME: "/tmp", ...spec.env }).map(
      ([k, v]) => `${k}=${v}`,
    );
    return [
      SCRIPT,
      "exec",
      this.id,
      spec.service,
      root,
      this.hostsFile,
      bindsFile,
      "--",
      "/usr/bin/env",
      "-i",
      ...env,
      ...spec.argv,
    ];
  }

  private env(spec: ExecSpec): NodeJS.ProcessEnv {
    return { ...process.env, SANDBOX_USER: spec.user ?? "" };
  }

  /** Runs a command to completion in the service's namespace and root. */
  run(spec: ExecSpec, timeoutMs = 120_000): Promise<Result> {
    return new Promise((resolve) => {
      const child = spawn("bash", this.prepare(spec), { env: this.env(spec) });
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** Starts a long-running service; its output goes to `<dir>/logs/<service>.log`. */
  start(spec: ExecSpec): ChildProcess {
    const logs = path.join(this.dir, "logs");
    mkdirSync(logs, { recursive: true });
    const log = path.join(logs, `${spec.service}.log`);
    const child = spawn("bash", this.prepare(spec), {
      env: this.env(spec),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: string[] = [];
    const append = (d: Buffer) => {
      out.push(d.toString());
      // A service killed at teardown may still flush a last chunk after its log directory is gone;
      // that chunk is kept in memory only, rather than crashing the run that already finished.
      try {
        writeFileSync(log, d, { flag: "a" });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      }
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    this.children.push(child);
    return child;
  }

  /** Publishes a container port on a host's namespace, as Docker does (127.0.0.1 and the host's own address). */
  publish(hostService: string, port: number, address: string, target: number): void {
    const r = sh(["publish", this.id, hostService, String(port), address, String(target)]);
    if (r.code !== 0) throw new Error(`sandbox publish ${port} failed: ${r.stderr}`);
  }

  /** A command in a service's network namespace, with the machine's own filesystem. */
  inNamespace(service: string, argv: string[], env: Record<string, string> = {}, input?: string): Result {
    const r = spawnSync("ip", ["netns", "exec", `${this.id}-${service}`, ...argv], {
      encoding: "utf8",
      env: { ...process.env, ...env },
      input,
      timeout: 600_000,
    });
    return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  /** An HTTP request from the lab bridge's own namespace (10.213.0.1), with curl. */
  curl(args: string[], timeoutSeconds = 10): Result {
    const r = spawnSync(
      "ip",
      ["netns", "exec", `${this.id}-lab`, "curl", "-sS", "--max-time", String(timeoutSeconds), ...args],
      { encoding: "utf8" },
    );
    return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  /** Stops every process and deletes every namespace this run made. Safe to call twice. */
  down(): void {
    for (const c of this.children) if (c.exitCode === null) c.kill("SIGKILL");
    sh(["net-down", this.id]);
  }

  /** Lists what is left (for the teardown check). */
  leftovers(): string[] {
    const left = staleRuns().filter((r) => r === this.id);
    const roots = path.join(this.dir, "roots");
    const mounted = existsSync(roots)
      ? readdirSync(roots).filter(
          (r) => spawnSync("mountpoint", ["-q", path.join(roots, r, "usr")]).status === 0,
        )
      : [];
    return [...left, ...mounted];
  }
}
