import * as pulumi from "@pulumi/pulumi";
import type { Host } from "../host";
import { hostScript, publishFile, renderStandalone, timerUnits } from "../remote";
import { portRegistry, SERVICES } from "../plan/services";
import { parseSize } from "../config/units";
import { planService, servicePaths } from "./containers";
import type { DashboardDef } from "./dashboards";
import { Grafana } from "./grafana";
import { memoryMiB } from "../plan/ladon";
import type { ResolvedLadon } from "../plan/ladon-resolve";
import { VLLM_PHOENIX_PROJECT } from "../plan/vllm";
import { Service } from "./service";
import { TEXTFILE_DIR } from "../shared/lab";
import { renderNetrc, renderWebConfig, webPasswordHash } from "./webauth";

export interface LadonSecrets {
  grafanaAdminPassword: pulumi.Input<string>;
  phoenixSecret: pulumi.Input<string>;
  phoenixAdminPassword: pulumi.Input<string>;
  /** Required when an e-mail receiver authenticates. @default none */
  alertmanagerSmtpPassword?: pulumi.Input<string>;
  /** Prometheus's basic-auth password (user `citadel`), for every client. */
  prometheusPassword: pulumi.Input<string>;
  /** Alertmanager's basic-auth password (user `citadel`), for every client. */
  alertmanagerPassword: pulumi.Input<string>;
}

/**
 * The secret files behind Prometheus's and Alertmanager's basic auth (containers.ts), by id: the
 * web config with the bcrypt hash, the service's own password, the host's netrc and, for
 * Prometheus, Alertmanager's password. Every value stays a secret.
 */
export function webAuthSecrets(
  service: "prometheus" | "alertmanager",
  secrets: Pick<LadonSecrets, "prometheusPassword" | "alertmanagerPassword">,
): Record<string, pulumi.Output<string>> {
  const own = pulumi.secret(pulumi.output(secrets[`${service}Password`]));
  return {
    "web-config": own.apply((p) => renderWebConfig(webPasswordHash(p, service))),
    "web-password": own,
    "client-netrc": own.apply(renderNetrc),
    ...(service === "prometheus"
      ? { "alertmanager-password": pulumi.secret(pulumi.output(secrets.alertmanagerPassword)) }
      : {}),
  };
}

/** A secret a service module names by its key (`secretEnvs`), from the stack's secrets. */
function secretOf(secrets: LadonSecrets, key: string): pulumi.Input<string> {
  const value = (secrets as unknown as Record<string, pulumi.Input<string> | undefined>)[key];
  if (value === undefined) throw new Error(`LadonStack: no secret ${key} for a service's environment`);
  return value;
}

export interface LadonStackArgs {
  /** The resolved `citadel:ladon` section (see `resolveLadon`). */
  ladon: ResolvedLadon;
  /** The lab's hosts, with their Docker and storage layers. */
  hosts: Record<string, Host>;
  secrets: LadonSecrets;
  /** The dashboards to provision. @default dashboards() */
  dashboards?: DashboardDef[];
}

const TEXTFILE_SCRIPT = "/usr/local/lib/citadel/textfile-metrics.sh";

/**
 * The lab's observability: Prometheus, Alertmanager, Grafana, Loki and Phoenix on the stack host;
 * node-exporter, cAdvisor and Alloy on every host; the GPU exporter on GPU hosts; a textfile
 * timer for LVM and data-volume metrics on every host; Grafana's datasources and dashboards.
 */
export class LadonStack extends pulumi.ComponentResource {
  readonly services: Record<string, Service> = {};
  readonly grafanaUrl: string;
  readonly phoenix: ResolvedLadon["phoenix"];
  readonly ports: ReturnType<typeof portRegistry>;
  /**
   * `OTEL_EXPORTER_OTLP_TRACES_HEADERS` for a client that sends traces to Phoenix, which runs with
   * auth: a Bearer system API key, secret. Phoenix refuses traces without one.
   */
  readonly phoenixTraceHeaders: pulumi.Output<string>;
  /** HADES's Phoenix project and its own system API key (secret). */
  readonly hades: { project: string; apiKey: pulumi.Output<string> };

  constructor(name: string, args: LadonStackArgs, opts?: pulumi.ComponentResourceOptions) {
    super("citadel:ladon:LadonStack", name, {}, opts);
    const { ladon } = args;
    this.grafanaUrl = ladon.grafanaUrl;
    this.phoenix = ladon.phoenix;
    this.ports = portRegistry();

    for (const [hostName, services] of Object.entries(ladon.placement)) {
      const host = args.hosts[hostName];
      const docker = host?.docker;
      if (!host || !docker) throw new Error(`LadonStack ${name}: host ${hostName} has no Docker layer`);
      const onStack = hostName === ladon.stackHostName;
      this.textfileTimer(name, hostName, host, onStack ? stackTextfileParams(ladon) : {});
      const dataStep = onStack ? host.storage.stepFor(ladon.config.dataDir) : undefined;
      for (const service of services) {
        const plan = planService(service, ladon, hostName, host.target.config);
        const spec = SERVICES[service];
        this.services[`${hostName}/${service}`] = new Service(
          `${name}-${hostName}-${spec.container}`,
          {
            plan,
            host: host.target,
            provider: docker.provider,
            network: docker.network.name,
            log: (host.target.config.docker as NonNullable<typeof host.target.config.docker>).log,
            memoryMiB: memoryMiB(ladon.config, service),
            dockerReady: docker.ready,
            hostReady: [
              ...(dataStep && spec.placement === "stack" ? [dataStep] : []),
              ...(spec.placement === "gpuHosts" && host.nvidia ? [host.nvidia.ready] : []),
            ],
            secretEnvs: Object.entries(spec.secretEnvs ?? {}).map(
              ([env, key]) => pulumi.interpolate`${env}=${secretOf(args.secrets, key)}`,
            ),
            secretValues: {
              ...(service === "prometheus" || service === "alertmanager"
                ? webAuthSecrets(service, args.secrets)
                : {}),
              "admin-password": args.secrets.grafanaAdminPassword,
              ...(args.secrets.alertmanagerSmtpPassword
                ? { "smtp-password": args.secrets.alertmanagerSmtpPassword }
                : {}),
            },
          },
          { parent: this },
        );
      }
    }
    this.phoenixTraceHeaders = this.phoenixKey(name, ladon, args, "vllm-traces", VLLM_PHOENIX_PROJECT).apply(
      phoenixTraceHeaders,
    );
    const hadesProject = ladon.config.phoenix.hadesProject;
    this.hades = {
      project: hadesProject,
      apiKey: this.phoenixKey(name, ladon, args, "hades", hadesProject).apply(phoenixApiKey),
    };
    const grafanaService = this.services[`${ladon.stackHostName}/grafana`];
    if (!grafanaService)
      throw new Error(`LadonStack ${name}: Grafana is not placed on ${ladon.stackHostName}`);
    new Grafana(
      `${name}-grafana`,
      {
        url: ladon.grafanaUrl,
        adminPassword: args.secrets.grafanaAdminPassword,
        ready: grafanaService.container,
        dashboards: args.dashboards,
        datasourcePasswords: {
          prometheus: args.secrets.prometheusPassword,
          alertmanager: args.secrets.alertmanagerPassword,
        },
      },
      { parent: this },
    );
    this.registerOutputs({
      grafanaUrl: this.grafanaUrl,
      ports: this.ports,
      phoenixTraceHeaders: this.phoenixTraceHeaders,
    });
  }

  /**
   * A Phoenix system API key for one client (vLLM's traces, HADES) and its project, created once
   * through Phoenix's API on the stack host. The step's output, secret.
   */
  private phoenixKey(
    name: string,
    ladon: ResolvedLadon,
    args: LadonStackArgs,
    client: string,
    project: string,
  ): pulumi.Output<string> {
    const phoenix = this.services[`${ladon.stackHostName}/phoenix`];
    const host = args.hosts[ladon.stackHostName];
    if (!phoenix || !host)
      throw new Error(`LadonStack ${name}: Phoenix is not placed on ${ladon.stackHostName}`);
    // The vLLM key keeps the name it was created under, so that no lab's step is replaced.
    const step = hostScript(
      client === "vllm-traces" ? `${name}-phoenix-trace-key` : `${name}-phoenix-${client}`,
      {
        host: host.target,
        script: "ladon/scripts/phoenix-api-key.sh",
        params: {
          PHOENIX_URL: `http://127.0.0.1:${SERVICES.phoenix.ports.http?.host}`,
          KEY_NAME: client,
          KEY_FILE: `${servicePaths(ladon, "phoenix").config}/secrets/${client}.key`,
          PROJECT: project,
        },
        secrets: { ADMIN_PASSWORD: args.secrets.phoenixAdminPassword },
      },
      { parent: this, dependsOn: [phoenix.container] },
    );
    return pulumi.secret(step.stdout.apply((out) => out ?? ""));
  }

  /** Installs the timer that writes LVM and data-volume metrics for node-exporter's textfile collector. */
  private textfileTimer(name: string, hostName: string, host: Host, extra: Record<string, string>) {
    const script = renderStandalone("ladon/scripts/textfile-metrics.sh", { TEXTFILE_DIR, ...extra });
    const units = timerUnits({
      description: "citadel textfile metrics (LVM, data volume)",
      execStart: TEXTFILE_SCRIPT,
      onBootSec: "2min",
      everySec: "15min",
    });
    publishFile(`${hostName}${TEXTFILE_SCRIPT}`, script);
    publishFile(`${hostName}/etc/systemd/system/citadel-textfile-metrics.service`, units.service);
    publishFile(`${hostName}/etc/systemd/system/citadel-textfile-metrics.timer`, units.timer);
    return hostScript(
      `${name}-${hostName}-textfile`,
      {
        host: host.target,
        script: "ladon/scripts/install-timer.sh",
        params: {
          NAME: "citadel-textfile-metrics",
          SCRIPT_PATH: TEXTFILE_SCRIPT,
          SCRIPT: script,
          SERVICE_UNIT: units.service,
          TIMER_UNIT: units.timer,
        },
      },
      // Its systemd reload must not meet the host's reboot.
      { parent: this, dependsOn: host.settled },
    );
  }
}

/**
 * OTEL_EXPORTER_OTLP_TRACES_HEADERS from the key step's output (its `PHOENIX_API_KEY=` line). The
 * OTel SDK reads header values URL-encoded, hence `%20`.
 */
export function phoenixTraceHeaders(stepOutput: string): string {
  return otlpBearerHeaders(phoenixApiKey(stepOutput));
}

/** OTLP headers (`OTEL_EXPORTER_OTLP_*_HEADERS`) that carry a Phoenix API key. */
export function otlpBearerHeaders(key: string): string {
  return `authorization=Bearer%20${key}`;
}

/** The key from the key step's output (its `PHOENIX_API_KEY=` line). */
export function phoenixApiKey(stepOutput: string): string {
  return /^PHOENIX_API_KEY=(.*)$/m.exec(stepOutput)?.[1] ?? "";
}

/**
 * On the stack host the timer also measures each service's data against its retention plan. It
 * reads the retention limits live, so a retention change never touches the timer.
 */
function stackTextfileParams(ladon: ResolvedLadon): Record<string, string> {
  return {
    DATA_DIR: ladon.config.dataDir,
    PROMETHEUS_CONFIG: `${servicePaths(ladon, "prometheus").config}/prometheus.yml`,
    LOKI_RUNTIME_CONFIG: `${servicePaths(ladon, "loki").config}/runtime.yaml`,
    LOKI_DAILY_BYTES: String(parseSize(ladon.config.loki.expectedDailyIngest) ?? 0),
  };
}
