/** Composes the lab from its validated config: one `Host` per configured host, then vLLM. */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { raidName, type ConfigSource, type LabConfig, type LabSecrets } from "./config";
import { loadLabConfig } from "./config/engine";
import type { BackupsConfig, FirewallConfig } from "./config/ops";
import { Firewall, Host } from "./host";
import { CLIENT_NETRC, hostAccess, LadonStack, otlpBearerHeaders, type DashboardDef } from "./ladon";
import { Vllm, type ServerSummary } from "./llm";
import {
  PlanChecker,
  planLab,
  CATALOG,
  portRegistry,
  type GpuShare,
  type LabPlan,
  type ResolvedLadon,
} from "./plan";
import { Backups } from "./ops/backups";
import { Drift } from "./ops/drift";
import { hostExpectations, probeServers } from "./ops/validate";
import { contentHash, hostTarget } from "./remote";
import { TEXTFILE_DIR } from "./shared/lab";

/** One RAID array as the stack outputs (and `npm start`) show it. */
export interface RaidSummary {
  /** The md name: /dev/md/<name>. */
  name: string;
  level: number;
  members: string[];
  mountPoint: string;
}

export interface HostSummary {
  address: string;
  /** Every mount point of its disks and arrays. */
  mounts: string[];
  raids: RaidSummary[];
  nvidiaDriverBranch: string | null;
  gpuCount: number;
  dockerVersion: string | null;
}

export interface VllmSummary {
  host: string;
  /** By server name: base URL, served name, kind, VRAM share and plan. */
  servers: Record<string, ServerSummary>;
  /** Per GPU: every server's reservation, the sum and what is left. */
  gpus: GpuShare[];
}

/** What HADES (the lab's RAG pipeline) needs to reach the lab; exported only as a secret. */
export interface HadesSettings {
  /** OpenAI-compatible base URLs and model names, by role: the first server of each kind. */
  chat?: { baseUrl: string; model: string };
  embeddings?: { baseUrl: string; model: string };
  rerank?: { baseUrl: string; model: string };
  phoenix?: {
    project: string;
    apiKey: string;
    /** OTLP endpoints: gRPC, and HTTP (`/v1/traces`). */
    otlp: { grpc: string; http: string };
    /** `OTEL_EXPORTER_OTLP_HEADERS` for an OTel SDK (URL-encoded, as the SDK reads it). */
    otlpHeaders: string;
  };
}

export interface LadonSummary {
  grafanaUrl: string;
  /** Phoenix's OTLP endpoints, for the lab's RAG pipeline (HADES). */
  phoenixOtlp: { grpc: string; http: string };
  phoenixUi: string;
  /** The port registry: every monitoring service's host port. */
  ports: ReturnType<typeof portRegistry>;
}

export interface Lab {
  hosts: Record<string, Host>;
  vllm?: Vllm;
  ladon?: LadonStack;
  backups?: Backups;
  firewalls?: Record<string, Firewall>;
  /** Per host: the hourly drift timer, `npm run validate`'s checks as textfile metrics. */
  drift: Record<string, Drift>;
  /** `npm run validate` after everything else, when ops.validateAfterDeploy is set. */
  validation?: command.local.Command;
  /** Stack outputs. */
  outputs: {
    hosts: Record<string, HostSummary>;
    vllm?: VllmSummary;
    ladon?: LadonSummary;
    /** The vLLM API key, exported only as a secret. */
    vllmApiKey?: pulumi.Output<string>;
    /** HADES's settings, Phoenix key included: a secret. */
    hades?: pulumi.Output<HadesSettings>;
  };
}

/** Code-level choices a caller may swap in; the defaults are the lab's own. */
export interface LabOverrides {
  /** The Grafana dashboards. @default dashboards() */
  dashboards?: DashboardDef[];
}

/**
 * Loads the lab once under the engine: the config with the plan's rules (every problem reported
 * before any resource is registered), its secrets, and the plan those rules made.
 */
export function loadLab(source?: ConfigSource): { lab: LabConfig; secrets: LabSecrets; plan: LabPlan } {
  const checker = new PlanChecker();
  const { lab, secrets } = loadLabConfig(checker, source);
  return { lab, secrets, plan: checker.plan(lab) };
}

/** Builds the lab from its config and its plan (made once by `loadLab`; `planLab(lab)` when not given). */
export function buildLab(
  lab: LabConfig,
  secrets: LabSecrets,
  overrides: LabOverrides = {},
  plan: LabPlan = planLab(lab),
): Lab {
  const hosts: Record<string, Host> = {};
  const summary: Record<string, HostSummary> = {};
  for (const name of Object.keys(lab.hosts).sort()) {
    const config = lab.hosts[name] as LabConfig["hosts"][string];
    hosts[name] = new Host(name, {
      target: hostTarget(name, config, secrets.values.sshPrivateKey),
      textfileDir: TEXTFILE_DIR,
      // What its containers keep on disk: the stack's data and the model cache.
      dockerDataPaths: [
        ...(lab.ladon?.host === name ? [lab.ladon.dataDir] : []),
        ...(lab.vllm?.host === name ? [lab.vllm.cacheDir] : []),
      ],
    });
    const raids = config.storage?.raids ?? [];
    summary[name] = {
      address: config.address,
      mounts: [...(config.storage?.disks ?? []), ...raids].map((d) => d.mountPoint),
      raids: raids.map((r) => ({
        name: raidName(r),
        level: r.level,
        members: [...r.members],
        mountPoint: r.mountPoint,
      })),
      nvidiaDriverBranch: config.nvidia?.driver.branch ?? null,
      gpuCount: config.nvidia?.gpus.count ?? 0,
      dockerVersion: config.docker?.version ?? null,
    };
  }
  const result: Lab = { hosts, drift: buildDrift(lab, hosts), outputs: { hosts: summary } };
  const ladon = plan.ladon;
  if (ladon) {
    result.ladon = new LadonStack("ladon", {
      ladon,
      hosts,
      dashboards: overrides.dashboards,
      secrets: {
        grafanaAdminPassword: requireSecret(secrets, "grafanaAdminPassword"),
        phoenixSecret: requireSecret(secrets, "phoenixSecret"),
        phoenixAdminPassword: requireSecret(secrets, "phoenixAdminPassword"),
        alertmanagerSmtpPassword: secrets.values.alertmanagerSmtpPassword,
        prometheusPassword: requireSecret(secrets, "prometheusPassword"),
        alertmanagerPassword: requireSecret(secrets, "alertmanagerPassword"),
      },
    });
    result.outputs.ladon = {
      grafanaUrl: ladon.grafanaUrl,
      phoenixOtlp: { grpc: ladon.phoenix.otlpGrpc, http: ladon.phoenix.otlpHttp },
      phoenixUi: ladon.phoenix.ui,
      ports: portRegistry(),
    };
  }
  const { backups, firewall } = lab.ops;
  if (backups) result.backups = buildBackups(backups, hosts, secrets, ladon);
  if (firewall) result.firewalls = buildFirewalls(lab, firewall, hosts, ladon);
  if (lab.vllm) {
    const { vllm, gpus } = buildVllm(
      plan.vllm as NonNullable<LabPlan["vllm"]>,
      hosts,
      secrets,
      ladon,
      result.ladon,
    );
    result.vllm = vllm;
    result.outputs.vllm = { host: lab.vllm.host, servers: { ...vllm.servers }, gpus };
    result.outputs.vllmApiKey = pulumi.secret(requireSecret(secrets, "vllmApiKey"));
  }
  if (result.vllm || result.ladon) result.outputs.hades = hadesSettings(result, ladon);
  if (lab.ops.validateAfterDeploy) result.validation = validationStep(lab, result);
  return result;
}

/**
 * `npm run validate` as the last step of `pulumi up`, on the machine running pulumi. It re-runs
 * when the lab's config changes, so a no-op `up` still does no work.
 */
function validationStep(lab: LabConfig, built: Lab): command.local.Command {
  const last: pulumi.Resource[] = [
    ...(built.ladon ? Object.values(built.ladon.services).map((s) => s.container) : []),
    ...(built.vllm ? Object.values(built.vllm.containers) : []),
    ...(built.backups?.timers ?? []),
    ...Object.values(built.firewalls ?? {}).map((f) => f.step),
  ];
  return new command.local.Command(
    "validate",
    {
      create: `npm run --silent validate -- --config Pulumi.${pulumi.getStack()}.yaml`,
      triggers: [contentHash(JSON.stringify(lab))],
      addPreviousOutputInEnv: false,
    },
    { dependsOn: last },
  );
}

function requireSecret(secrets: LabSecrets, key: string): pulumi.Output<string> {
  const value = secrets.values[key];
  if (!value)
    throw new Error(`secret citadel:${key} was not loaded; the config loader should have required it`);
  return value;
}

function buildVllm(
  planned: NonNullable<LabPlan["vllm"]>,
  hosts: Record<string, Host>,
  secrets: LabSecrets,
  ladon?: ResolvedLadon,
  stack?: LadonStack,
): { vllm: Vllm; gpus: GpuShare[] } {
  const { resolved, problems } = planned;
  if (!resolved || problems.length > 0) throw new Error(problems.map((p) => p.message).join("; "));
  const host = hosts[resolved.hostName] as Host;
  const docker = host.docker;
  const nvidia = host.nvidia;
  if (!docker || !nvidia) throw new Error(`host ${resolved.hostName} has no Docker or NVIDIA layer for vLLM`);
  const cacheStep = host.storage.stepFor(resolved.config.cacheDir);
  const vllm = new Vllm("vllm", {
    vllm: resolved,
    provider: docker.provider,
    network: docker.network.name,
    apiKey: requireSecret(secrets, "vllmApiKey"),
    huggingfaceToken: secrets.values.huggingfaceToken,
    // Traces go to Phoenix when the LadonStack is present, unless config names another endpoint.
    otlpTracesEndpoint: resolved.config.otlpTracesEndpoint ?? ladon?.phoenix.otlpGrpcFor(resolved.hostName),
    // Phoenix runs with auth: our own Phoenix gets a system API key; another endpoint none.
    ...(resolved.config.otlpTracesEndpoint === undefined && stack
      ? { otlpTracesHeaders: stack.phoenixTraceHeaders }
      : {}),
    log: (resolved.host.docker as NonNullable<typeof resolved.host.docker>).log,
    dockerReady: docker.ready,
    hostReady: [nvidia.ready, ...(cacheStep ? [cacheStep] : [])],
  });
  return { vllm, gpus: resolved.gpuPlan };
}

/** HADES's settings: the first server of each kind (by name), and its own Phoenix project and key. */
function hadesSettings(built: Lab, ladon?: ResolvedLadon): pulumi.Output<HadesSettings> {
  const servers = Object.entries(built.vllm?.servers ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  const first = (kind: ServerSummary["kind"]) => {
    const s = servers.find(([, v]) => v.kind === kind)?.[1];
    return s ? { baseUrl: s.baseUrl, model: s.servedModelName } : undefined;
  };
  const roles = { chat: first("generate"), embeddings: first("embed"), rerank: first("rerank") };
  const plain = Object.fromEntries(Object.entries(roles).filter(([, v]) => v !== undefined));
  const stack = built.ladon;
  if (!stack || !ladon) return pulumi.secret(pulumi.output(plain as HadesSettings));
  return pulumi.secret(
    stack.hades.apiKey.apply((apiKey): HadesSettings => ({
      ...plain,
      phoenix: {
        project: stack.hades.project,
        apiKey,
        otlp: { grpc: ladon.phoenix.otlpGrpc, http: ladon.phoenix.otlpHttp },
        otlpHeaders: otlpBearerHeaders(apiKey),
      },
    })),
  );
}

/** The drift timer on every host, checking what `npm run validate` checks for that host. */
function buildDrift(lab: LabConfig, hosts: Record<string, Host>): Record<string, Drift> {
  return Object.fromEntries(
    Object.entries(hosts).map(([name, host]) => [
      name,
      new Drift(
        `${name}-drift`,
        {
          host: host.target,
          expectations: hostExpectations(lab, name),
          vllmServers: probeServers(lab, name),
          textfileDir: TEXTFILE_DIR,
          after: host.settled,
        },
        { parent: host },
      ),
    ]),
  );
}

/** Host configuration every backup covers: the services' config and secrets, Docker, boot and units. */
export const BACKUP_ETC = [
  "/etc/citadel",
  "/etc/default/grub.d",
  "/etc/docker",
  "/etc/fstab",
  "/etc/systemd/system",
  "/etc/ufw",
];

function buildBackups(
  backups: BackupsConfig,
  hosts: Record<string, Host>,
  secrets: LabSecrets,
  ladon?: ResolvedLadon,
): Backups {
  const host = hosts[backups.host] as Host;
  const onStack = ladon !== undefined && ladon.stackHostName === backups.host;
  const data = (service: string) => `${ladon?.config.dataDir}/${service}`;
  // What the catalog says each service needs backed up; only the stack's host holds that data.
  const backedUp = onStack ? CATALOG.filter((s) => s.backup) : [];
  const snapshot = backedUp.find((s) => s.backup?.snapshot);
  const repositoryStep = backups.repository.startsWith("/")
    ? host.storage.stepFor(backups.repository)
    : undefined;
  return new Backups("backups", {
    host: host.target,
    backups,
    password: requireSecret(secrets, "resticPassword"),
    paths: [...BACKUP_ETC, ...backedUp.map((s) => data(s.container))],
    prometheus: snapshot
      ? {
          dataDir: data(snapshot.container),
          url: `http://127.0.0.1:${snapshot.ports.http?.host}`,
          netrc: CLIENT_NETRC.prometheus,
        }
      : undefined,
    sqliteDatabases: backedUp.flatMap((s) =>
      (s.backup?.sqlite ?? []).map((db) => `${data(s.container)}/${db}`),
    ),
    textfileDir: TEXTFILE_DIR,
    after: [...(repositoryStep ? [repositoryStep] : []), ...host.settled],
  });
}

function buildFirewalls(
  lab: LabConfig,
  fw: FirewallConfig,
  hosts: Record<string, Host>,
  ladon?: ResolvedLadon,
): Record<string, Firewall> {
  const out: Record<string, Firewall> = {};
  for (const [name, host] of Object.entries(hosts)) {
    const access = hostAccess(lab, name, ladon, fw);
    out[name] = new Firewall(
      `${name}-firewall`,
      {
        host: host.target,
        adminSubnet: fw.adminSubnet,
        labSubnet: fw.labSubnet,
        ports: access.filter((a) => a.sources.length > 0).map((a) => ({ port: a.port, sources: a.sources })),
        access,
        after: host.docker ? [host.docker.ready] : [],
      },
      { parent: host },
    );
  }
  return out;
}
