/**
 * The read-only probe (ops/scripts/probe.sh) as `npm run validate` and the drift timer render it:
 * every port it asks comes from the port catalog (components/ladon/catalog.ts), so a service moved
 * to another host port moves the probe with it. Pure.
 */
import { SERVICES, type ServiceName } from "../plan/services";
import { CLIENT_NETRC } from "../ladon/containers";
import { renderStandalone } from "../remote";

/**
 * The probe's health sections (`health-<service>`), in order: the path that answers 200 when the
 * service is up, and the host's netrc file where the service asks for a login.
 */
export const PROBE_HEALTH: readonly { service: ServiceName; path: string; netrc?: string }[] = [
  // Grafana 13's HTTP API ("Other HTTP API", GET /api/health): no login.
  { service: "grafana", path: "/api/health" },
  // pkg/loki/loki.go@v3.7.8: /ready on the HTTP server.
  { service: "loki", path: "/ready" },
  // httpserver/httpserver.go@v0.35.0: /-/healthy; every path behind the web config's login.
  { service: "alertmanager", path: "/-/healthy", netrc: CLIENT_NETRC.alertmanager },
  // phoenix/server/app.py@20.26.1 (@router.get("/healthz")): no login.
  { service: "phoenix", path: "/healthz" },
];

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
