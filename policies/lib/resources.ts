/**
 * Reading citadel's resources the way the policy engine hands them over: props are the inputs,
 * with secrets already unwrapped (so a policy cannot tell a secret from a literal), options are
 * the engine's. Pure helpers.
 */
export const TYPES = {
  container: "docker:index/container:Container",
  remoteImage: "docker:index/remoteImage:RemoteImage",
  remoteCommand: "command:remote:Command",
  copyToRemote: "command:remote:CopyToRemote",
  copyFile: "command:remote:CopyFile",
  dockerProvider: "pulumi:providers:docker",
  grafanaProvider: "pulumi:providers:grafana",
} as const;

export const LABELS = {
  service: "org.hana-x.citadel.service",
  metricsPort: "org.hana-x.citadel.metrics-port",
  /** A JSON object of host path -> reason: the container's data there is disposable. */
  backupExclude: "org.hana-x.citadel.backup-exclude",
} as const;

/** `NAME=value` environment entries as a map. */
export function envMap(envs: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of Array.isArray(envs) ? envs : []) {
    if (typeof e !== "string") continue;
    const i = e.indexOf("=");
    if (i > 0) out[e.slice(0, i)] = e.slice(i + 1);
  }
  return out;
}

export function labelOf(props: Record<string, any>, label: string): string | undefined {
  const labels = Array.isArray(props.labels) ? props.labels : [];
  return labels.find((l: { label?: string }) => l.label === label)?.value;
}

/** What a container is called: its citadel service label, else its container name. */
export function serviceOf(props: Record<string, any>): string {
  return labelOf(props, LABELS.service) ?? String(props.name ?? "");
}

/** The value of `--flag value` or `--flag=value` in a command line. */
export function flagValue(command: unknown, flag: string): string | undefined {
  const args = Array.isArray(command) ? command.map(String) : [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === flag) return args[i + 1];
    if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1);
  }
  return undefined;
}

/** Undoes POSIX single quoting: `'it'\''s'` becomes `it's`. */
export function shellUnquote(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    if (text[i] === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new Error("unterminated single quote");
      out += text.slice(i + 1, end);
      i = end + 1;
    } else if (text[i] === "\\" && i + 1 < text.length) {
      out += text[i + 1];
      i += 2;
    } else {
      out += text[i];
      i += 1;
    }
  }
  return out;
}

/** The `export NAME='value'` parameters at the head of a citadel host script. */
export function scriptParams(create: unknown): Record<string, string> {
  const text = typeof create === "string" ? create : "";
  const out: Record<string, string> = {};
  const re = /^export ([A-Z][A-Z0-9_]*)=('(?:[^']|'\\'')*')$/gm;
  for (const m of text.matchAll(re)) out[m[1] as string] = shellUnquote(m[2] as string);
  return out;
}

/** The address a docker provider's `ssh://user@host:port` points at. */
export function providerAddress(host: unknown): string | undefined {
  const m = /^ssh:\/\/(?:[^@]+@)?([^:/]+)/.exec(typeof host === "string" ? host : "");
  return m?.[1];
}

/** Host ports a container takes: published ports, or the listen port of a host-network container. */
export function hostPortsOf(props: Record<string, any>): number[] {
  if (props.networkMode === "host") {
    const listen = (Array.isArray(props.command) ? props.command : [])
      .map(String)
      .find((a: string) => /listen-address=/.test(a));
    const port = listen ? Number(/:(\d+)$/.exec(listen)?.[1]) : NaN;
    return Number.isFinite(port) ? [port] : [];
  }
  return (Array.isArray(props.ports) ? props.ports : [])
    .map((p: { external?: number }) => Number(p.external))
    .filter(Number.isFinite);
}
