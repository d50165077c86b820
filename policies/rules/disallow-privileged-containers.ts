import type { ResourceValidationPolicy } from "@pulumi/policy";
import { serviceOf, TYPES } from "../lib/resources";

export const disallowPrivilegedContainers: ResourceValidationPolicy = {
  name: "disallow-privileged-containers",
  description:
    "Containers run without privileged mode, the host's PID namespace or the host's network, because each of those hands a compromised container the whole host; only listed exporters that need it are exempt.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      allowed: {
        type: "object",
        description:
          "Services allowed each privilege, e.g. node-exporter needs the host's network and PID namespace.",
        default: { privileged: ["cadvisor"], hostPid: ["nodeExporter"], hostNetwork: ["nodeExporter"] },
      },
    },
  },
  validateResource: (args, report) => {
    if (args.type !== TYPES.container) return;
    const allowed = (args.getConfig<{ allowed: Record<string, string[]> }>().allowed ?? {}) as Record<
      string,
      string[]
    >;
    const name = serviceOf(args.props);
    const check = (what: string, on: boolean, key: string) => {
      if (on && !(allowed[key] ?? []).includes(name))
        report(
          `container ${name} runs with ${what}; remove it, or allow ${name} under ${key} in the policy config.`,
        );
    };
    check("privileged: true", args.props.privileged === true, "privileged");
    check("the host's PID namespace", args.props.pidMode === "host", "hostPid");
    check("the host's network", args.props.networkMode === "host", "hostNetwork");
  },
};
