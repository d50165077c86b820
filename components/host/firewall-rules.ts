/**
 * The firewall as data: ufw rules for what the host itself serves, and the DOCKER-USER rules that
 * make the same policy hold for published container ports, which bypass ufw. Pure.
 */

export interface FirewallPlan {
  sshPort: number;
  adminSubnet: string;
  labSubnet: string;
  /** Host ports reachable from the lab subnet: the vLLM API and every monitoring port. */
  labPorts: number[];
}

/** Docker's address pools: container traffic between networks and out of them is not blocked. */
export const DOCKER_SUBNETS = ["172.16.0.0/12"];

/** `ufw` arguments, one rule each, tagged so stale ones can be found and removed. */
export function ufwRules(plan: FirewallPlan): string[] {
  const ports = [...new Set(plan.labPorts)].sort((a, b) => a - b);
  return [
    `allow from ${plan.adminSubnet} to any port ${plan.sshPort} proto tcp comment citadel`,
    ...ports.map((p) => `allow from ${plan.labSubnet} to any port ${p} proto tcp comment citadel`),
  ];
}

export const AFTER_RULES_BEGIN = "# BEGIN citadel DOCKER-USER (managed by citadel, do not edit)";
export const AFTER_RULES_END = "# END citadel DOCKER-USER";

/**
 * Rules for /etc/ufw/after.rules (iptables-restore syntax). Published ports are DNATed before
 * ufw's INPUT rules see them; DOCKER-USER is the chain Docker leaves to the administrator, so
 * only replies, loopback, container networks and the lab subnet reach containers.
 */
export function dockerUserRules(plan: FirewallPlan): string {
  return [
    AFTER_RULES_BEGIN,
    "*filter",
    ":DOCKER-USER - [0:0]",
    "-F DOCKER-USER",
    "-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
    "-A DOCKER-USER -s 127.0.0.0/8 -j RETURN",
    ...DOCKER_SUBNETS.map((s) => `-A DOCKER-USER -s ${s} -j RETURN`),
    `-A DOCKER-USER -s ${plan.labSubnet} -j RETURN`,
    "-A DOCKER-USER -j DROP",
    "COMMIT",
    AFTER_RULES_END,
  ].join("\n");
}
