import type { StackValidationPolicy } from "@pulumi/policy";
import { hostPortsOf, providerAddress, serviceOf, TYPES } from "../lib/resources";

export const enforceUniqueHostPorts: StackValidationPolicy = {
  name: "enforce-unique-host-ports",
  description:
    "No two containers on one host take the same host port, because the second one cannot start and Docker only says so at apply time.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const taken = new Map<string, string>();
    for (const r of args.resources.filter((x) => x.type === TYPES.container)) {
      const host = providerAddress(r.provider?.props.host) ?? "local";
      for (const port of hostPortsOf(r.props)) {
        const key = `${host}:${port}`;
        const other = taken.get(key);
        if (other)
          report(
            `port ${port} on ${host} is taken by both ${other} and ${serviceOf(r.props)}; give one of them another port.`,
            r.urn,
          );
        else taken.set(key, serviceOf(r.props));
      }
    }
  },
};
