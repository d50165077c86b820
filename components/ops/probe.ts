/**
 * The read-only probe (ops/scripts/probe.sh) as `npm run validate` and the drift timer render it:
 * every port and path it asks comes from the service catalog (components/plan/services/), so a service moved
 * to another host port moves the probe with it. Pure.
 */
import { CATALOG, ordered, SERVICES, type ServiceDef, type ServiceName } from "../plan/services";
import { CLIENT_NETRC } from "../ladon/containers";
import { renderStandalone } from "../remote";

/**
 * The probe's health sections (`health-<service>`), in order: every service whose module names a
 * `health` path (components/plan/services/), with the host's netrc file where it asks for a login.
 */
export const PROBE_HEALTH: readonly { service: ServiceName; path: string; netrc?: string }[] = ordered(
  CATALOG.filter((s) => s.health),
  // The order the probe has always asked them in.
  ["grafana", "loki", "alertmanager", "phoenix"],
).map((s) => {
  const { path, netrc } = s.health as NonNullable<ServiceDef["health"]>;
  return { service: s.name, path, ...(netrc ? { netrc } : {}) };
});

/** probe.sh's parameters for a host whose vLLM servers are `vllmServers` (`probeServers`). */
export function probeParams(vllmServers: string): Record<string, string> {
  return {
    VLLM_SERVERS: vllmServers,
    PROMETHEUS_PORT: String(SERVICES.prometheus.ports.http?.host),
    PROMETHEUS_NETRC: CLIENT_NETRC.prometheus,
    // One word per check: <service>|<url>|<netrc file or nothing>.
    HEALTH_CHECKS: PROBE_HEALTH.map(
      (h) =>
        `${h.service}|http://127.0.0.1:${SERVICES[h.service].ports.http?.host}${h.path}|${h.netrc ?? ""}`,
    ).join(" "),
  };
}

/** The probe, rendered with its parameters. */
export function renderProbe(vllmServers: string): string {
  return renderStandalone("ops/scripts/probe.sh", probeParams(vllmServers));
}
