/**
 * How a lab container becomes a process in the sandbox: the image's entrypoint (components/pins.ts)
 * replaced by the upstream build of the same release, the container's own command, environment,
 * user and volumes, each volume bound from the run's simulated host filesystem at the container
 * path the container uses.
 */
import { chownSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { PINS, type PinName } from "../../../components/pins";
import { cacheRoot } from "../../../lib/upstream/cache";
import type { Installed } from "../../../lib/upstream";
import { driverStubDir, venvPython } from "../../../lib/upstream/pypi";
import type { ContainerSpec } from "./lab";
import type { Bind, ExecSpec } from "./sandbox";

/** The image's default command, where the container sets none (Dockerfile CMD at the pin). */
const DEFAULT_CMD: Partial<Record<PinName, string[]>> = {
  // Dockerfile of Arize-ai/phoenix: CMD ["-m", "phoenix.server.main", "serve"] on the distroless
  // python3 ENTRYPOINT.
  phoenix: ["-m", "phoenix.server.main", "serve"],
};

/** The simulated filesystem of one lab host, under the run directory. */
export function hostfs(runDir: string, host: string): string {
  return path.join(runDir, "hostfs", host);
}

/**
 * The installation a venv's interpreter belongs to (pyvenv.cfg's `home` is its bin directory),
 * which must be visible in a root for the venv to start. Under /usr it already is.
 */
function pythonPrefix(venvEntry: string): string[] {
  const cfg = readFileSync(path.join(venvEntry, "venv", "pyvenv.cfg"), "utf8");
  const home = /^home\s*=\s*(.+)$/m.exec(cfg)?.[1]?.trim();
  if (!home) throw new Error(`${venvEntry}/venv/pyvenv.cfg names no home interpreter`);
  const prefix = path.dirname(home);
  return prefix === "/usr" || prefix.startsWith("/usr/") ? [] : [prefix];
}

export interface ServiceRun {
  spec: ExecSpec;
  /** The argv the image would run: entrypoint plus command. */
  imageArgv: string[];
}

/**
 * The exec spec for a container of the lab. `entrypoint` overrides the binary (e.g. promtool in
 * Prometheus's root); `argv` replaces the container's command.
 */
export function serviceRun(
  runDir: string,
  c: ContainerSpec,
  pin: PinName,
  tool: Installed,
  opts: { sandboxName?: string; binary?: string; argv?: string[]; env?: Record<string, string> } = {},
): ServiceRun {
  const facts = PINS[pin].image;
  const user = c.user ?? facts.user;
  const uid = Number(user.split(":")[0]);
  const binds: Bind[] = c.volumes.map((v) => {
    const src = path.join(hostfs(runDir, c.host), v.hostPath);
    if (!existsSync(src)) {
      mkdirSync(src, { recursive: true });
      // A data directory the lab's dirs step would create owned by the service's UID.
      if (!v.readOnly && Number.isInteger(uid)) chownSync(src, uid, uid);
    }
    return { src, dst: v.containerPath, readOnly: v.readOnly };
  });
  binds.push({ src: cacheRoot(), dst: cacheRoot(), readOnly: true });
  if (PINS[pin].checker.kind === "pypi") {
    for (const p of pythonPrefix(tool.dir)) binds.push({ src: p, dst: p, readOnly: true });
  }
  const command = opts.argv ?? (c.command.length > 0 ? c.command : (DEFAULT_CMD[pin] ?? []));
  const imageArgv = [...facts.entrypoint, ...command];
  let argv: string[];
  const checker = PINS[pin].checker;
  const extraEnv: Record<string, string> = {};
  if (checker.kind === "pypi") {
    // The image's interpreter becomes the venv's, with the same arguments.
    argv = [venvPython(tool.dir), ...command];
    // No NVIDIA driver here: its stand-in lets the native modules load (lib/upstream/pypi.ts).
    if (checker.cudaDriverStub) extraEnv.LD_LIBRARY_PATH = driverStubDir(tool.dir);
  } else {
    const binary = opts.binary ?? path.basename(facts.entrypoint[0] as string);
    argv = [tool.bin(binary), ...command];
  }
  return {
    imageArgv,
    spec: {
      service: opts.sandboxName ?? c.name,
      argv,
      env: { ...c.env, ...extraEnv, ...opts.env },
      binds,
      user: Number.isInteger(uid) && uid !== 0 ? `${uid}:${uid}` : undefined,
    },
  };
}
