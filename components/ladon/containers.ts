/**
 * Each LadonStack service as a container spec plus the files it reads. Pure: config in, plain
 * `docker.ContainerArgs` out (image, provider and network are added by the component). The
 * container itself is the service module's (`containerPlan` in components/plan/services/); this
 * module hands it what only the component layer has: the rendered config files and the ports as
 * the access model publishes them.
 */
import type * as docker from "@pulumi/docker";
import type { HostConfig } from "../config/schema";
import { bindOf } from "../plan/access";
import { SERVICES, type ServiceName } from "../plan/services";
import type { FileGroup, SecretFile } from "../plan/services/container";
import { alertRules, renderRulesFile } from "./render/rules";
import { renderAlloyConfig } from "./render/alloy";
import { renderClientConfig } from "./webauth";
import {
  LOKI_RUNTIME_CONFIG,
  renderAlertmanagerConfig,
  renderLokiConfig,
  renderLokiRuntimeConfig,
  renderPrometheusConfig,
  WEB_AUTH_FILES,
} from "./render/configs";
import type { ResolvedLadon } from "../plan/ladon-resolve";

export type { FileGroup } from "../plan/services/container";
export { CLIENT_NETRC } from "../plan/services/container";
export { PHOENIX_DATA } from "../plan/services/phoenix";

export interface ServicePlan {
  service: ServiceName;
  /** Host directory for the service's persistent data, owned by its UID. */
  dataDir: string;
  fileGroups: FileGroup[];
  /**
   * Secret files, written by their own steps: read by the service (owned by its UID) or, with
   * `owner: "0"`, by root's steps on the host. `onChange` as a file group's `reload`.
   */
  secretFiles: SecretFile[];
  /** Container arguments without image, provider or network. */
  container: Omit<docker.ContainerArgs, "image">;
  /** Uses the lab network (everything but host-network exporters). */
  onLabNetwork: boolean;
}

/**
 * A service's published ports on a host: on 127.0.0.1 when the access model (access.ts) leaves
 * nobody outside the host who needs the port, so the host's own steps and probes still reach it.
 */
const published = (s: ServiceName, ladon: ResolvedLadon, hostName: string) =>
  Object.entries(SERVICES[s].ports).map(([name, p]) => ({
    internal: p.container,
    external: p.host,
    ...(bindOf(ladon, hostName, s, name) === "127.0.0.1" ? { ip: "127.0.0.1" } : {}),
  }));

/**
 * The config files a service reads, rendered (components/ladon/render/), by its file groups' ids.
 * A service without config files has none.
 */
function renderedFiles(
  service: ServiceName,
  ladon: ResolvedLadon,
  hostName: string,
): Record<string, Record<string, string>> {
  const c = ladon.config;
  switch (service) {
    case "prometheus":
      return {
        config: {
          "client.yml": renderClientConfig(WEB_AUTH_FILES.prometheus.password),
          "prometheus.yml": renderPrometheusConfig(c, ladon.scrapeJobs),
        },
        rules: { "citadel.yml": renderRulesFile(alertRules(c.thresholds)) },
      };
    case "alertmanager":
      return {
        config: {
          "alertmanager.yml": renderAlertmanagerConfig(c),
          "client.yml": renderClientConfig(WEB_AUTH_FILES.alertmanager.password),
        },
      };
    case "loki":
      return {
        config: { "loki.yaml": renderLokiConfig() },
        runtime: { [LOKI_RUNTIME_CONFIG.split("/").pop() as string]: renderLokiRuntimeConfig(c) },
      };
    case "alloy":
      return { config: { "config.alloy": renderAlloyConfig(hostName, ladon.lokiPushUrl(hostName)) } };
    default:
      return {};
  }
}

/** Host paths of a service on a host: data under ladon.dataDir on the stack host, config under /etc/citadel. */
export function servicePaths(ladon: ResolvedLadon, service: ServiceName) {
  const name = SERVICES[service].container;
  return {
    data:
      SERVICES[service].placement === "stack"
        ? `${ladon.config.dataDir}/${name}`
        : `/var/lib/citadel/${name}`,
    config: `/etc/citadel/${name}`,
  };
}

export function planService(
  service: ServiceName,
  ladon: ResolvedLadon,
  hostName: string,
  host: HostConfig,
): ServicePlan {
  const paths = servicePaths(ladon, service);
  const files = renderedFiles(service, ladon, hostName);
  const plan = SERVICES[service].containerPlan({
    config: ladon.config,
    hostName,
    host,
    paths,
    published: published(service, ladon, hostName),
    adminApi: ladon.adminApi,
    grafanaUrl: ladon.grafanaUrl,
    files,
  });
  // Every rendered group reaches the host: a module that drops one would leave its file unwritten.
  const unused = Object.keys(files).filter((id) => !(plan.fileGroups ?? []).some((g) => g.id === id));
  if (unused.length > 0)
    throw new Error(`${service}: its module has no file group for the rendered ${unused.join(", ")}`);
  const def = SERVICES[service];
  if ((def.hostNetwork ?? false) !== (plan.container.networkMode === "host"))
    throw new Error(
      `${service}: hostNetwork is ${def.hostNetwork ?? false} in its module, but its container's networkMode is ${plan.container.networkMode ?? "unset"}; make them agree`,
    );
  return {
    dataDir: paths.data,
    fileGroups: plan.fileGroups ?? [],
    secretFiles: plan.secretFiles ?? [],
    onLabNetwork: !def.hostNetwork,
    service,
    container: plan.container,
  };
}
