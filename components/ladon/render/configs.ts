/** Prometheus, Alertmanager and Loki configs, built as objects and serialised with `yaml`. Pure. */
import { stringify } from "yaml";
import type { LadonConfig } from "../../config/ladon";
import { SERVICES } from "../../plan/services";
import { prometheusSize, type ScrapeJob } from "../../plan/ladon-resolve";
import { sortKeys } from "../../shared/render";
import { WEB_USER } from "../webauth";
import { WEB_AUTH_FILES } from "../../plan/services/container";

const yaml = (value: unknown) => stringify(value, { lineWidth: 0, sortMapEntries: false });

export const PROMETHEUS_RULES_DIR = "/etc/prometheus/rules";
export const ALERTMANAGER_SMTP_PASSWORD_FILE = "/etc/alertmanager/secrets/smtp_password";

/** The files behind Prometheus's and Alertmanager's basic auth: the service modules own them. */
export { WEB_AUTH_FILES };

const basicAuth = (passwordFile: string) => ({
  basic_auth: { username: WEB_USER, password_file: passwordFile },
});

export function renderPrometheusConfig(ladon: LadonConfig, jobs: ScrapeJob[]): string {
  return yaml({
    global: {
      scrape_interval: ladon.prometheus.scrapeInterval,
      evaluation_interval: ladon.prometheus.scrapeInterval,
      external_labels: { lab: "hana-x" },
    },
    alerting: {
      alertmanagers: [
        {
          ...basicAuth(WEB_AUTH_FILES.prometheus.alertmanagerPassword),
          static_configs: [
            {
              targets: [`${SERVICES.alertmanager.container}:${SERVICES.alertmanager.ports.http?.container}`],
            },
          ],
        },
      ],
    },
    rule_files: [`${PROMETHEUS_RULES_DIR}/*.yml`],
    // Retention in the config file, where a reload applies it (TSDBRetentionConfig in
    // config/config.go, tsdb/db.go ApplyConfig@v3.16.0); the --storage.tsdb.retention.* flags are
    // deprecated (cmd/prometheus/main.go@v3.16.0). Whichever limit is reached first applies.
    storage: {
      tsdb: {
        retention: {
          size: prometheusSize(ladon.prometheus.retentionSize),
          time: ladon.prometheus.retentionTime,
        },
      },
    },
    scrape_configs: jobs.map((j) => {
      // One static config per distinct label set, in first-seen order.
      const groups = new Map<string, { targets: string[]; labels: Record<string, string> }>();
      for (const t of j.targets) {
        const labels = sortKeys({ host: t.host, ...t.labels });
        const key = JSON.stringify(labels);
        const group = groups.get(key) ?? { targets: [] as string[], labels };
        group.targets.push(t.address);
        groups.set(key, group);
      }
      // Prometheus and Alertmanager answer only with basic auth, their own /metrics included.
      const auth =
        j.job === "prometheus"
          ? basicAuth(WEB_AUTH_FILES.prometheus.password)
          : j.job === "alertmanager"
            ? basicAuth(WEB_AUTH_FILES.prometheus.alertmanagerPassword)
            : {};
      return { job_name: j.job, ...auth, static_configs: [...groups.values()] };
    }),
  });
}

/**
 * Alertmanager routes every alert to every configured receiver. With none configured, alerts go
 * to a receiver that sends nothing: they are still evaluated and visible in Prometheus and here.
 */
export function renderAlertmanagerConfig(ladon: LadonConfig): string {
  const { webhooks, emails } = ladon.alertmanager;
  const receivers: Record<string, unknown>[] = [{ name: "blackhole" }];
  for (const w of webhooks)
    receivers.push({ name: w.name, webhook_configs: [{ url: w.url, send_resolved: true }] });
  for (const e of emails) {
    receivers.push({
      name: e.name,
      email_configs: [
        {
          to: e.to,
          from: e.from,
          smarthost: e.smarthost,
          require_tls: e.requireTls,
          send_resolved: true,
          ...(e.authUsername
            ? { auth_username: e.authUsername, auth_password_file: ALERTMANAGER_SMTP_PASSWORD_FILE }
            : {}),
        },
      ],
    });
  }
  return yaml({
    route: {
      receiver: "blackhole",
      group_by: ["alertname", "host"],
      group_wait: "30s",
      group_interval: "5m",
      repeat_interval: "4h",
      routes: receivers
        .slice(1)
        .map((r) => ({ receiver: r.name, matchers: ['severity=~"critical|warning"'], continue: true })),
    },
    // A host that is down explains every other alert about it.
    inhibit_rules: [
      {
        source_matchers: ['alertname="HostDown"'],
        target_matchers: ['alertname!="HostDown"'],
        equal: ["host"],
      },
    ],
    receivers,
  });
}

export const LOKI_RUNTIME_CONFIG = "/etc/loki/runtime.yaml";
/** loki.yaml's global retention, used only without the runtime file's tenant override: 31 days. */
export const LOKI_FALLBACK_RETENTION = "744h";

/**
 * Loki v3, single binary on the filesystem, retention enforced by the compactor. Nothing in it
 * follows citadel:ladon: the retention an operator sets is the runtime file's (a reload). Keys read in
 * pkg/compactor/config.go, pkg/validation/limits.go and pkg/loki/common/common.go at v3.7.8.
 */
export function renderLokiConfig(): string {
  return yaml({
    auth_enabled: false,
    server: {
      http_listen_port: SERVICES.loki.ports.http?.container,
      grpc_listen_port: 9095,
      log_level: "warn",
    },
    common: {
      path_prefix: "/loki",
      replication_factor: 1,
      ring: { kvstore: { store: "inmemory" } },
      storage: { filesystem: { chunks_directory: "/loki/chunks", rules_directory: "/loki/rules" } },
    },
    schema_config: {
      configs: [
        {
          from: "2024-01-01",
          store: "tsdb",
          object_store: "filesystem",
          schema: "v13",
          index: { prefix: "index_", period: "24h" },
        },
      ],
    },
    compactor: {
      working_directory: "/loki/compactor",
      retention_enabled: true,
      // Loki refuses to start with retention on and no delete-request store.
      delete_request_store: "filesystem",
      retention_delete_delay: "2h",
    },
    limits_config: {
      // A fixed fallback, not only the runtime file's tenant override: were that file or the
      // tenant ("fake" without auth) to change, retention would otherwise silently stop. It is
      // not ladon.loki.retentionPeriod, so that a retention change rewrites runtime.yaml alone,
      // which Loki re-reads (the tenant's override wins over this default while the file exists).
      retention_period: LOKI_FALLBACK_RETENTION,
      reject_old_samples: true,
      reject_old_samples_max_age: "168h",
      allow_structured_metadata: true,
      volume_enabled: true,
      // Loki 3.7.8 adds a `service_name` index label to every stream by default, guessed from
      // other labels (pkg/validation/limits.go: validation.discover-service-name; "Empty list
      // disables setting the label"). Streams carry only host, unit, container and level.
      discover_service_name: [],
    },
    // Per-tenant limits live in the runtime config, which Loki re-reads every 30s.
    runtime_config: { file: LOKI_RUNTIME_CONFIG, period: "30s" },
    analytics: { reporting_enabled: false },
  });
}

/** Per-tenant limits Loki reloads on its own; "fake" is the tenant when auth is off. */
export function renderLokiRuntimeConfig(ladon: LadonConfig): string {
  return yaml({ overrides: { fake: { retention_period: ladon.loki.retentionPeriod } } });
}
