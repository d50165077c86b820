/**
 * How a lab container becomes a process in the sandbox: the image's entrypoint (components/pins.ts)
 * replaced by the upstream build of the same release, the container's own command, environment,
 * user and volumes, each volume bound from the run's simulated host filesystem at the container
 * path the container uses.
 */
import { chownSync, existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { PINS, type PinName } from "../../components/pins";
import { cacheRoot } from "../upstream/cache";
import type { Installed } from "../upstream";
import { driverStubDir, venvPython } from "../upstream/pypi";
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

/** The interpreter the venvs were made from (their `home`), which must be visible in a root. */
function pythonPrefix(): string[] {
  const prefixes = new Set<string>();
  for (const p of [process.env.PYENV_ROOT, "/root/.pyenv", "/usr/local/lib/python3"]) {
    if (p && existsSync(p)) prefixes.add(p);
  }
  return [...prefixes];
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
  for (const p of pythonPrefix()) binds.push({ src: p, dst: p, readOnly: true });
  const command = opts.argv ?? (c.command.length > 0 ? c.command : (DEFAULT_CMD[pin] ?? []));
  const imageArgv = [...facts.entrypoint, ...command];
  let argv: string[];
  const checker = PINS[pin].checker;
  const extraEnv: Record<string, string> = {};
  if (checker.kind === "pypi") {
    // The image's interpreter becomes the venv's, with the same arguments.
    argv = [venvPython(tool.dir), ...command];
    // No NVIDIA driver here: its stand-in lets the native modules load (tools/upstream/pypi.ts).
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
