/** Ports as the service catalog (components/plan/services/) registers them, for tests to derive, not type. */
import { SERVICES, type ServiceName } from "../../components/plan/services";

/** The host port a service publishes its port `name` on (its `http` port by default). */
export function hostPort(service: ServiceName, name = "http"): number {
  const p = SERVICES[service].ports[name];
  if (!p) throw new Error(`${service} has no port ${name} in the catalog`);
  return p.host;
}
