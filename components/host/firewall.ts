import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { hostScript, publishFile, type HostTarget } from "../remote";
import {
  AFTER_RULES_BEGIN,
  AFTER_RULES_END,
  dockerUserRules,
  ufwRules,
  type FirewallPlan,
} from "./firewall-rules";

export interface FirewallArgs {
  host: HostTarget;
  /** Where SSH is allowed from; must contain the machine running pulumi. */
  adminSubnet: string;
  /** The lab's subnet: sources narrower than it are what the access model's policy looks for. */
  labSubnet: string;
  /**
   * Host ports machines outside the host reach, each with the sources the access model admits
   * (`hostAccess` in components/plan/access.ts). @default []
   */
  ports?: FirewallPlan["ports"];
  /**
   * The access model's rows for this host (`hostAccess`), written to /etc/ufw/citadel-access.json
   * for the operator and read by the `protect-data-changing-ports` policy. @default []
   */
  access?: readonly object[];
  /** Steps that must come first (Docker, so DOCKER-USER exists). @default [] */
  after?: pulumi.Input<pulumi.Resource>[];
}

/** What /etc/ufw/citadel-access.json holds: the lab subnet and who may reach which port, sorted. */
export function accessFile(plan: FirewallPlan, access: readonly object[]): string {
  return `${JSON.stringify({ labSubnet: plan.labSubnet, adminSubnet: plan.adminSubnet, ports: access }, null, 2)}\n`;
}

/** ufw rules as code, with DOCKER-USER rules so published container ports obey them too. */
export class Firewall extends pulumi.ComponentResource {
  readonly step: command.remote.Command;
  readonly rules: string[];

  constructor(name: string, args: FirewallArgs, opts?: pulumi.ComponentResourceOptions) {
    super("citadel:host:Firewall", name, {}, opts);
    const plan = {
      sshPort: args.host.config.ssh.port,
      adminSubnet: args.adminSubnet,
      labSubnet: args.labSubnet,
      ports: args.ports ?? [],
    };
    for (const { port } of plan.ports) {
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw new Error(`Firewall ${name}: ${port} is not a port`);
    }
    this.rules = ufwRules(plan);
    const block = dockerUserRules(plan);
    publishFile(
      `${args.host.name}/etc/ufw/citadel-rules.txt`,
      `${this.rules.map((r) => `ufw ${r}`).join("\n")}\n`,
    );
    publishFile(`${args.host.name}/etc/ufw/after.rules.citadel`, `${block}\n`);
    publishFile(`${args.host.name}/etc/ufw/citadel-access.json`, accessFile(plan, args.access ?? []));
    this.step = hostScript(
      `${name}-ufw`,
      {
        host: args.host,
        script: "host/scripts/firewall.sh",
        params: {
          RULES: this.rules.join("\n"),
          AFTER_BLOCK: block,
          ADMIN_SUBNET: args.adminSubnet,
          ACCESS: accessFile(plan, args.access ?? []),
          BEGIN_MARK: AFTER_RULES_BEGIN,
          END_MARK: AFTER_RULES_END,
        },
      },
      { parent: this, dependsOn: args.after ?? [] },
    );
    this.registerOutputs({ rules: this.rules });
  }
}
