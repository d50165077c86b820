/**
 * The firewall as data: ufw rules for what the host itself serves, and the DOCKER-USER rules that
 * make the same policy hold for published container ports, which bypass ufw. Pure.
 */
import { DOCKER_SUBNETS } from "../shared/lab";

export interface FirewallPlan {
  sshPort: number;
  adminSubnet: string;
  labSubnet: string;
  /**
   * Each host port that machines outside the host reach, with the sources the access model
   * (components/plan/access.ts) admits it from. Ports bound to 127.0.0.1 are not listed.
   */
  ports: { port: number; sources: string[] }[];
}

/**
 * (port, source) pairs, once each, sorted by port then source. The pairs are distinct, so two with
 * one port never share a source and the comparator needs no "equal" branch.
 */
function admitted(plan: FirewallPlan): [number, string][] {
  const pairs = new Map<string, [number, string]>();
  for (const p of plan.ports) for (const s of p.sources) pairs.set(`${p.port} ${s}`, [p.port, s]);
  return [...pairs.values()].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
}

/** `ufw` arguments, one rule each, tagged so stale ones can be found and removed. */
export function ufwRules(plan: FirewallPlan): string[] {
  return [
    `allow from ${plan.adminSubnet} to any port ${plan.sshPort} proto tcp comment citadel`,
    ...admitted(plan).map(([p, s]) => `allow from ${s} to any port ${p} proto tcp comment citadel`),
  ];
}

export const AFTER_RULES_BEGIN = "# BEGIN citadel DOCKER-USER (managed by citadel, do not edit)";
export const AFTER_RULES_END = "# END citadel DOCKER-USER";

/**
 * Rules for /etc/ufw/after.rules (iptables-restore syntax). Published ports are DNATed before
 * ufw's INPUT rules see them; DOCKER-USER is the chain Docker leaves to the administrator, so
 * only replies, container networks and each port's own sources reach containers. After DNAT the
 * packet's port is the container's, so a host port is matched on the connection's original
 * destination port (`-m conntrack --ctorigdstport`, as Docker's "Packet filtering and firewalls"
 * page restricts published ports for 28.x).
 *
 * Loopback needs no rule: DOCKER-USER hangs off FORWARD, and the host's own connections to a
 * published port never pass it. With the userland proxy (Docker's default) docker-proxy answers
 * 127.0.0.1 and dials the container from the bridge's address (moby v28.5.2
 * cmd/docker-proxy/tcp_proxy_linux.go:28); without it, Docker DNATs 127.0.0.1 in nat OUTPUT and
 * masquerades the local source out the bridge (libnetwork/drivers/bridge/internal/iptabler/
 * network.go:190-197 and 301, port.go:91-100), OUTPUT to POSTROUTING. A 127/8 source arriving from
 * the lab is a martian routing drops. The one that does reach FORWARD is a container's forged
 * 127.0.0.2 and the like, through a bridge Docker gave route_localnet (no userland proxy) with
 * reverse-path filtering off; that one is dropped here. tests/firewall-packets.test.ts sends each.
 */
export function dockerUserRules(plan: FirewallPlan): string {
  return [
    AFTER_RULES_BEGIN,
    "*filter",
    ":DOCKER-USER - [0:0]",
    "-F DOCKER-USER",
    "-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
    ...DOCKER_SUBNETS.map((s) => `-A DOCKER-USER -s ${s} -j RETURN`),
    ...admitted(plan).map(
      ([p, s]) =>
        `-A DOCKER-USER -s ${s} -p tcp -m conntrack --ctorigdstport ${p} --ctdir ORIGINAL -j RETURN`,
    ),
    "-A DOCKER-USER -j DROP",
    "COMMIT",
    AFTER_RULES_END,
  ].join("\n");
}
