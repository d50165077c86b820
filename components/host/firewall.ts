import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { hostScript, publishFile, type HostTarget } from "../remote";
import { AFTER_RULES_BEGIN, AFTER_RULES_END, dockerUserRules, ufwRules } from "./firewall-rules";

export interface FirewallArgs {
  host: HostTarget;
  /** Where SSH is allowed from; must contain the machine running pulumi. */
  adminSubnet: string;
  /** Where the vLLM API and monitoring ports are allowed from. */
  labSubnet: string;
  /** Host ports opened to the lab subnet: every port a service on this host publishes. @default [] */
  labPorts?: number[];
  /** Steps that must come first (Docker, so DOCKER-USER exists). @default [] */
  after?: pulumi.Input<pulumi.Resource>[];
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
      labPorts: args.labPorts ?? [],
    };
    for (const p of plan.labPorts) {
      if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`Firewall ${name}: ${p} is not a port`);
    }
    this.rules = ufwRules(plan);
    const block = dockerUserRules(plan);
    publishFile(
      `${args.host.name}/etc/ufw/citadel-rules.txt`,
      `${this.rules.map((r) => `ufw ${r}`).join("\n")}\n`,
    );
    publishFile(`${args.host.name}/etc/ufw/after.rules.citadel`, `${block}\n`);
    this.step = hostScript(
      `${name}-ufw`,
      {
        host: args.host,
        script: "host/scripts/firewall.sh",
        params: {
          RULES: this.rules.join("\n"),
          AFTER_BLOCK: block,
          ADMIN_SUBNET: args.adminSubnet,
          BEGIN_MARK: AFTER_RULES_BEGIN,
          END_MARK: AFTER_RULES_END,
        },
      },
      { parent: this, dependsOn: args.after ?? [] },
    );
    this.registerOutputs({ rules: this.rules });
  }
}
