import * as grafana from "@pulumiverse/grafana";
import * as pulumi from "@pulumi/pulumi";
import { publishFile } from "../remote";
import { SERVICES } from "../plan/services";
import { dashboards, LOKI_DS, PROMETHEUS_DS, type DashboardDef } from "./dashboards";
import { WEB_USER } from "./webauth";

export interface GrafanaArgs {
  /** Where the provider reaches Grafana; from config, so it is known at preview. */
  url: string;
  /** The admin password; a secret. */
  adminPassword: pulumi.Input<string>;
  /** The Grafana container, created with `wait` and a healthcheck. */
  ready: pulumi.Input<pulumi.Resource>;
  /** The dashboards to provision. @default dashboards() */
  dashboards?: DashboardDef[];
  /** Prometheus's and Alertmanager's basic-auth passwords (user `citadel`); secrets. */
  datasourcePasswords: { prometheus: pulumi.Input<string>; alertmanager: pulumi.Input<string> };
}

/** Grafana's folder, datasources and dashboards, through an explicit provider that retries while Grafana starts. */
export class Grafana extends pulumi.ComponentResource {
  constructor(name: string, args: GrafanaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("citadel:ladon:Grafana", name, {}, opts);
    const provider = new grafana.Provider(
      `${name}-provider`,
      {
        url: args.url,
        auth: pulumi.secret(pulumi.interpolate`admin:${args.adminPassword}`),
        retries: 12,
        retryWait: 5,
        retryStatusCodes: ["429", "5xx"],
      },
      { parent: this },
    );
    const child = { parent: this, provider, dependsOn: [args.ready] };
    const folder = new grafana.oss.Folder(`${name}-folder`, { title: "Citadel", uid: "citadel" }, child);
    const internal = (s: "prometheus" | "loki" | "alertmanager") =>
      `http://${SERVICES[s].container}:${SERVICES[s].ports.http?.container}`;
    // Basic auth for Prometheus and Alertmanager: the password only in secureJsonDataEncoded, a
    // secret input (the disallow-plaintext-secrets policy refuses it in jsonDataEncoded).
    const basicAuth = (password: pulumi.Input<string>) => ({
      basicAuthEnabled: true,
      basicAuthUsername: WEB_USER,
      secureJsonDataEncoded: pulumi.secret(
        pulumi.output(password).apply((p) => JSON.stringify({ basicAuthPassword: p })),
      ),
    });
    const datasources = [
      new grafana.oss.DataSource(
        `${name}-prometheus`,
        {
          name: "Prometheus",
          type: PROMETHEUS_DS.type,
          uid: PROMETHEUS_DS.uid,
          url: internal("prometheus"),
          isDefault: true,
          ...basicAuth(args.datasourcePasswords.prometheus),
        },
        child,
      ),
      new grafana.oss.DataSource(
        `${name}-loki`,
        { name: "Loki", type: LOKI_DS.type, uid: LOKI_DS.uid, url: internal("loki") },
        child,
      ),
      new grafana.oss.DataSource(
        `${name}-alertmanager`,
        {
          name: "Alertmanager",
          type: "alertmanager",
          uid: "alertmanager",
          url: internal("alertmanager"),
          jsonDataEncoded: JSON.stringify({ implementation: "prometheus" }),
          ...basicAuth(args.datasourcePasswords.alertmanager),
        },
        child,
      ),
    ];
    for (const d of args.dashboards ?? dashboards()) {
      publishFile(`grafana/dashboards/${d.uid}.json`, d.json);
      new grafana.oss.Dashboard(
        `${name}-${d.uid}`,
        { configJson: d.json, folder: folder.uid, overwrite: true },
        { parent: this, provider, dependsOn: [args.ready, ...datasources] },
      );
    }
    this.registerOutputs({ url: args.url });
  }
}
