/**
 * Containers in the e2e guest's real Docker engine (Debian's docker.io), created from the inputs
 * the program registers for them (`docker:index/container:Container` and
 * `docker:index/network:Network` in the synth result), as the Docker provider would: one Engine
 * API call (`POST /containers/create`, then `/start`) per container, with every input translated
 * to its API field. An input this stand-in does not translate fails the run naming it, so nothing
 * the program registers is silently dropped. The images come from tests/tiers/e2e/images.ts: never pulled.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import type { ResourceRecord } from "../../../lib/synth/harness";
import type { BuiltImage } from "./images";

export const CONTAINER = "docker:index/container:Container";
export const NETWORK = "docker:index/network:Network";
/** The Engine API version of Debian bookworm's docker.io 20.10.24 (`docker version`: API 1.41). */
const API = "http://localhost/v1.41";

type Inputs = Record<string, unknown>;

/** Inputs that are the provider's own behaviour, not the container's: handled by this module. */
const PROVIDER_ONLY = new Set(["name", "wait", "waitTimeout"]);

/** Go duration ("30s", "1m30s", "500ms") in nanoseconds, as the provider parses healthcheck times. */
export function durationNs(d: string): number {
  let ns = 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let seen = "";
  for (const m of d.matchAll(re)) {
    ns += Number(m[1]) * (unit[m[2] as string] as number);
    seen += m[0];
  }
  if (seen !== d || d === "") throw new Error(`not a Go duration: ${d}`);
  return Math.round(ns);
}

/**
 * The Engine API body for a registered container. Mirrors terraform-provider-docker's
 * resource_docker_container_funcs.go (which the Pulumi docker provider wraps): `command` -> Cmd,
 * `envs` -> Env, `labels` -> Labels, `healthcheck.tests` -> Healthcheck.Test with Go durations,
 * `memory` in MB -> bytes, `volumes` with a host path -> Binds, `mounts` -> Mounts, `ports` ->
 * PortBindings and ExposedPorts, `networksAdvanced` -> the first network as NetworkMode with its
 * aliases.
 */
export function createBody(
  name: string,
  i: Inputs,
): { containerName: string; body: Record<string, unknown> } {
  const handled = new Set<string>(PROVIDER_ONLY);
  const use = <T>(k: string): T | undefined => {
    handled.add(k);
    return i[k] as T | undefined;
  };
  const config: Record<string, unknown> = {};
  const host: Record<string, unknown> = {};
  const image = use<string>("image");
  if (!image) throw new Error(`${name}: no image`);
  config.Image = image;
  const command = use<string[]>("command");
  if (command) config.Cmd = command;
  const entrypoints = use<string[]>("entrypoints");
  if (entrypoints) config.Entrypoint = entrypoints;
  const envs = use<string[]>("envs");
  if (envs) config.Env = envs;
  const user = use<string>("user");
  if (user) config.User = user;
  const workingDir = use<string>("workingDir");
  if (workingDir) config.WorkingDir = workingDir;
  const labels = use<{ label: string; value: string }[]>("labels");
  if (labels) config.Labels = Object.fromEntries(labels.map((l) => [l.label, l.value]));
  const hc = use<{
    tests: string[];
    interval?: string;
    timeout?: string;
    startPeriod?: string;
    retries?: number;
  }>("healthcheck");
  if (hc) {
    config.Healthcheck = {
      Test: hc.tests,
      ...(hc.interval ? { Interval: durationNs(hc.interval) } : {}),
      ...(hc.timeout ? { Timeout: durationNs(hc.timeout) } : {}),
      ...(hc.startPeriod ? { StartPeriod: durationNs(hc.startPeriod) } : {}),
      ...(hc.retries !== undefined ? { Retries: hc.retries } : {}),
    };
  }
  const ports = use<{ internal: number; external?: number; ip?: string; protocol?: string }[]>("ports");
  if (ports) {
    config.ExposedPorts = Object.fromEntries(ports.map((p) => [`${p.internal}/${p.protocol ?? "tcp"}`, {}]));
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const p of ports) {
      const k = `${p.internal}/${p.protocol ?? "tcp"}`;
      bindings[k] = [...(bindings[k] ?? []), { HostIp: p.ip ?? "", HostPort: String(p.external ?? "") }];
    }
    host.PortBindings = bindings;
  }
  const volumes =
    use<{ containerPath: string; hostPath?: string; volumeName?: string; readOnly?: boolean }[]>("volumes");
  if (volumes) {
    host.Binds = volumes.map((v) => {
      const src = v.hostPath ?? v.volumeName;
      if (!src)
        throw new Error(`${name}: a volume at ${v.containerPath} has neither hostPath nor volumeName`);
      return `${src}:${v.containerPath}${v.readOnly ? ":ro" : ""}`;
    });
  }
  const mounts = use<
    {
      type: string;
      source?: string;
      target: string;
      readOnly?: boolean;
      bindOptions?: { propagation?: string };
    }[]
  >("mounts");
  if (mounts) {
    host.Mounts = mounts.map((m) => ({
      Type: m.type,
      Source: m.source,
      Target: m.target,
      ReadOnly: Boolean(m.readOnly),
      ...(m.bindOptions?.propagation ? { BindOptions: { Propagation: m.bindOptions.propagation } } : {}),
    }));
  }
  const restart = use<string>("restart");
  if (restart) host.RestartPolicy = { Name: restart };
  const memory = use<number>("memory");
  if (memory) host.Memory = memory * 1024 * 1024;
  const logDriver = use<string>("logDriver");
  const logOpts = use<Record<string, string>>("logOpts");
  if (logDriver) host.LogConfig = { Type: logDriver, Config: logOpts ?? {} };
  const pidMode = use<string>("pidMode");
  if (pidMode) host.PidMode = pidMode;
  const ipcMode = use<string>("ipcMode");
  if (ipcMode) host.IpcMode = ipcMode;
  const privileged = use<boolean>("privileged");
  if (privileged) host.Privileged = true;
  const networkMode = use<string>("networkMode");
  const networks = use<{ name: string; aliases?: string[] }[]>("networksAdvanced");
  let networking: Record<string, unknown> | undefined;
  if (networks && networks.length > 0) {
    if (networks.length > 1) throw new Error(`${name}: the e2e tier connects one network per container`);
    const n = networks[0] as { name: string; aliases?: string[] };
    host.NetworkMode = n.name;
    networking = { EndpointsConfig: { [n.name]: { Aliases: n.aliases ?? [] } } };
  } else if (networkMode) host.NetworkMode = networkMode;
  const unknown = Object.keys(i).filter((k) => !handled.has(k) && i[k] !== undefined);
  if (unknown.length > 0) {
    throw new Error(
      `${name}: the e2e tier does not translate the input(s) ${unknown.join(", ")} to the Engine API (tests/tiers/e2e/containers.ts createBody)`,
    );
  }
  const containerName = String(i.name ?? name);
  return {
    containerName,
    body: { ...config, HostConfig: host, ...(networking ? { NetworkingConfig: networking } : {}) },
  };
}

/** The Engine API body for a registered network. */
export function networkBody(name: string, i: Inputs): Record<string, unknown> {
  const known = new Set(["name", "driver", "options", "internal", "attachable", "ipamConfigs"]);
  const unknown = Object.keys(i).filter((k) => !known.has(k) && i[k] !== undefined);
  if (unknown.length > 0)
    throw new Error(`${name}: the e2e tier does not translate the network input(s) ${unknown.join(", ")}`);
  const ipam = i.ipamConfigs as { subnet?: string; gateway?: string; ipRange?: string }[] | undefined;
  return {
    Name: String(i.name ?? name),
    CheckDuplicate: true,
    Driver: String(i.driver ?? "bridge"),
    ...(i.options ? { Options: i.options } : {}),
    ...(i.internal ? { Internal: true } : {}),
    ...(i.attachable ? { Attachable: true } : {}),
    ...(ipam
      ? { IPAM: { Config: ipam.map((c) => ({ Subnet: c.subnet, Gateway: c.gateway, IPRange: c.ipRange })) } }
      : {}),
  };
}

/** The container resources of the program whose image is `ref`. */
export function containersOf(resources: ResourceRecord[], ref: string): ResourceRecord[] {
  return resources.filter((r) => r.type === CONTAINER && r.rawInputs.image === ref);
}

export function label(r: ResourceRecord, key: string): string | undefined {
  const labels = (r.rawInputs.labels ?? []) as { label: string; value: string }[];
  return labels.find((l) => l.label === key)?.value;
}

/** A shell command (run as root in the guest) that POSTs `body` to the Engine API; prints `HTTP <code>` last. */
export function apiPost(pathAndQuery: string, body?: unknown): string {
  const data = body === undefined ? "" : Buffer.from(JSON.stringify(body)).toString("base64");
  return [
    `echo ${data ? `'${data}'` : "''"} | base64 -d |`,
    `curl -sS --unix-socket /var/run/docker.sock -X POST -H 'Content-Type: application/json'`,
    `--data-binary @- -w '\\nHTTP %{http_code}\\n' '${API}${pathAndQuery}'`,
  ].join(" ");
}

/** Runs `argv` with stdin read from `file` (an image tarball streamed into `docker import`). */
export function execWithFile(
  argv: string[],
  file: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const fd = openSync(file, "r");
    const child = spawn(argv[0] as string, argv.slice(1), { env, stdio: [fd, "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const done = (r: { code: number | null; stdout: string; stderr: string }) => {
      closeSync(fd);
      resolve(r);
    };
    child.on("error", (e) => done({ code: 127, stdout, stderr: `${stderr}${e.message}` }));
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

/** The `docker import` command for a built image (run as root in the guest, the tarball on stdin). */
export function importCommand(img: BuiltImage): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `docker import ${img.changes.map((c) => `--change ${q(c)}`).join(" ")} - ${q(img.ref)} >/dev/null && docker image inspect -f '{{index .Config.Labels "org.hana-x.citadel.e2e-image"}}' ${q(img.ref)}`;
}
