/**
 * Facts of the lab that several layers read: the host layer, the LadonStack, operations (backups,
 * drift) and the policy pack. Each lives here once, so no module reaches into another's internals
 * for it.
 */

/**
 * The monitoring port range: every LadonStack host port (the port registry,
 * components/plan/services/) is inside it, and vLLM keeps its API port outside it.
 */
export const MONITORING_PORTS = { min: 9900, max: 9999 } as const;

/**
 * node-exporter's textfile collector directory: the LadonStack's textfile timer, the RAID scrub,
 * backups, drift and the LLM baseline write `*.prom` files here, and node-exporter reads them.
 */
export const TEXTFILE_DIR = "/var/lib/node_exporter/textfile";

/**
 * Docker's address pools: container traffic between networks and out of them is not blocked by
 * the host firewall (components/host/firewall-rules.ts), and the access model admits them to the
 * exporters (components/plan/access.ts).
 */
export const DOCKER_SUBNETS = ["172.16.0.0/12"];
