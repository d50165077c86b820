/**
 * The lab as the conformance tier sees it: the program run under mocks for a stack file (as
 * `npm start` runs it), with throwaway secrets in place of the stack's, so that every container's
 * exact command, environment and mounts, and every rendered file, can be handed to the real
 * upstream programs.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { LabConfigSchema, type LabConfig } from "../../../components/config";
import { runLab } from "../../../lib/synth/program";
import { synthesize, type ResourceRecord, type SynthResult } from "../../../lib/synth/harness";
import { readStackFile } from "../../../lib/synth/stackfile";

const CONTAINER = "docker:index/container:Container";

/** A container's inputs as the docker provider receives them, secrets included. */
export interface ContainerSpec {
  name: string;
  /** The host it runs on (from its docker provider's resource name). */
  host: string;
  image: string;
  command: string[];
  env: Record<string, string>;
  volumes: { hostPath: string; containerPath: string; readOnly: boolean }[];
  user?: string;
  hostNetwork: boolean;
  ports: { internal: number; external: number }[];
}

export interface ConformanceLab {
  /** The stack file's config, parsed as the program parses it. */
  config: LabConfig;
  result: SynthResult;
  /** Secrets the run used (random per run); checks use them as the operator would. */
  secrets: Record<string, string>;
  containers: ContainerSpec[];
  container(name: string): ContainerSpec;
  /** A rendered file by host and host path. */
  file(host: string, hostPath: string): string;
}

/** Random secrets that meet every rule the schema and the upstream programs set for them. */
export function throwawaySecrets(): Record<string, string> {
  const token = () => `c0nf-${randomBytes(24).toString("hex")}`;
  return {
    grafanaAdminPassword: `Gr4fana-${randomBytes(12).toString("hex")}`,
    phoenixAdminPassword: `Ph0enix-${randomBytes(12).toString("hex")}`,
    phoenixSecret: token(),
    // Hex: basic-auth passwords must fit a netrc and bcrypt's 72 bytes (BASIC_AUTH_RULES in
    // components/config/secrets.ts, which the loader checks).
    prometheusPassword: randomBytes(24).toString("hex"),
    alertmanagerPassword: randomBytes(24).toString("hex"),
    resticPassword: token(),
    vllmApiKey: token(),
  };
}

function containerSpec(r: ResourceRecord, hostOf: (provider: string | null) => string): ContainerSpec {
  const i = r.rawInputs as Record<string, unknown>;
  const env: Record<string, string> = {};
  for (const e of (i.envs as string[] | undefined) ?? []) {
    const at = e.indexOf("=");
    env[e.slice(0, at)] = e.slice(at + 1);
  }
  const volumes = ((i.volumes as Record<string, unknown>[] | undefined) ?? []).map((v) => ({
    hostPath: String(v.hostPath),
    containerPath: String(v.containerPath),
    readOnly: v.readOnly === true,
  }));
  for (const m of (i.mounts as Record<string, unknown>[] | undefined) ?? []) {
    volumes.push({
      hostPath: String(m.source),
      containerPath: String(m.target),
      readOnly: m.readOnly === true,
    });
  }
  return {
    name: String(i.name),
    host: hostOf(r.provider),
    image: String(i.image),
    command: ((i.command as string[] | undefined) ?? []).map(String),
    env,
    volumes,
    ...(i.user ? { user: String(i.user) } : {}),
    hostNetwork: i.networkMode === "host",
    ports: ((i.ports as { internal: number; external: number }[] | undefined) ?? []).map((p) => ({
      internal: Number(p.internal),
      external: Number(p.external),
    })),
  };
}

/** Deep-merges `overlay` into `base`; arrays in the overlay are appended. */
export function overlay(base: unknown, over: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(over)) return [...base, ...over];
  if (base && over && typeof base === "object" && typeof over === "object" && !Array.isArray(over)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(over)) out[k] = k in out ? overlay(out[k], v) : v;
    return out;
  }
  return over ?? base;
}

export async function loadLab(
  stackFile: string,
  over: Record<string, unknown> = {},
): Promise<ConformanceLab> {
  const secrets = throwawaySecrets();
  const file = readStackFile(stackFile);
  const stack = { ...file, values: overlay(file.values, over) as typeof file.values };
  const result = await synthesize({ stack, program: runLab, secrets });
  const config = LabConfigSchema.parse(stack.values);
  // Docker providers are named `<host>-docker-provider` (components/host/docker.ts).
  const hostOf = (urn: string | null) => (urn?.split("::").pop() ?? "").replace(/-docker-provider$/, "");
  const containers = result.resources
    .filter((r) => r.type === CONTAINER)
    .map((r) => containerSpec(r, hostOf));
  return {
    config,
    result,
    secrets,
    containers,
    container(name) {
      const c = containers.find((x) => x.name === name);
      if (!c) throw new Error(`the lab renders no container named ${name}`);
      return c;
    },
    file(host, hostPath) {
      const f = result.files.get(`${host}${hostPath}`);
      if (f === undefined) throw new Error(`the lab renders no file ${hostPath} on ${host}`);
      return f;
    },
  };
}

/** Writes every rendered file under `dir/<host>/<path>`, as out/files has them. */
export function writeFiles(lab: ConformanceLab, dir: string): void {
  for (const [file, content] of lab.result.files) {
    const target = path.join(dir, file);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
}
