import type { ResourceValidationPolicy } from "@pulumi/policy";
import { MONITORING_PORTS } from "../../components/shared/lab";
import { hostPortsOf, serviceOf, TYPES } from "../lib/resources";

export const enforceMonitoringPortRange: ResourceValidationPolicy = {
  name: "enforce-monitoring-port-range",
  description:
    "Monitoring services publish their host ports in the lab's reserved 99xx range, because one range keeps firewall rules and the service table simple and stays clear of the model server's port.",
  enforcementLevel: "advisory",
  configSchema: {
    properties: {
      min: { type: "integer", default: MONITORING_PORTS.min },
      max: { type: "integer", default: MONITORING_PORTS.max },
      exempt: {
        type: "array",
        items: { type: "string" },
        default: ["vllm"],
        description: "Services that keep their own ports.",
      },
    },
  },
  validateResource: (args, report) => {
    if (args.type !== TYPES.container) return;
    const { min, max, exempt } = args.getConfig<{ min: number; max: number; exempt: string[] }>();
    const name = serviceOf(args.props);
    if (exempt.includes(name)) return;
    for (const port of hostPortsOf(args.props)) {
      if (port < min || port > max)
        report(`container ${name} publishes port ${port}, outside the monitoring range ${min}-${max}.`);
    }
  },
};
