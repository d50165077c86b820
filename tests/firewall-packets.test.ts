/**
 * The DOCKER-USER rules with real packets: the rendered block is loaded by iptables-restore into a
 * network namespace that routes between a "container" namespace (an address in Docker's pool)
 * and a "lab" namespace, as the host routes between its bridges and its NIC, and TCP SYNs are sent
 * through it. Each probe's fate is read from netfilter's own counters: a counting rule in the raw
 * table sees it reach the router (PREROUTING, or OUTPUT when the router itself sends it), one at the
 * top of FORWARD sees it forwarded, one after the jump to DOCKER-USER sees it pass, and one in the
 * container namespace sees a SYN the router sent itself arrive. Nothing waits on a timeout: the
 * probe sends its SYNs without blocking and the counters are read once every probe has arrived.
 * Needs root, ip(8), iptables and python3 (all on the CI image, see .ci/run).
 *
 * The router also carries what Docker 28.5.2 installs for loopback access to a published port with
 * `userland-proxy: false` (moby v28.5.2; with the default proxy, docker-proxy answers 127.0.0.1
 * itself and dials the container from the bridge's address, cmd/docker-proxy/tcp_proxy_linux.go:28,
 * so no loopback source leaves the host's own sockets at all). Those rules are the only way a
 * loopback source reaches a container, and the probes show that the way never passes FORWARD.
 */
import { spawnSync } from "node:child_process";
import { dockerUserRules, type FirewallPlan } from "../components/host";
import { DOCKER_SUBNETS } from "../components/shared/lab";
import { requireTool } from "./support/tools";

const plan: FirewallPlan = {
  sshPort: 22,
  adminSubnet: "192.168.10.0/24",
  labSubnet: "192.168.10.0/24",
  ports: [
    { port: 9901, sources: ["192.168.10.0/24"] },
    { port: 8000, sources: ["192.168.10.0/24", "10.9.0.0/24"] },
  ],
};

interface Probe {
  /** Namespace the SYN leaves from: the container network, the lab, or the router (the host). */
  from: "ct" | "lab" | "host";
  src: string;
  dst: string;
  port: number;
}

const CONTAINER = "172.17.0.2";
/** The router's address on the container network, as docker0's on the host. */
const BRIDGE = "172.17.0.1";
/** The router's address on the lab, as the host's NIC. */
const HOST = "192.168.10.29";
/** The port the container publishes (host port and container port alike). */
const PUBLISHED = 8000;
const probes: Probe[] = [
  // A container reaching out of its network (to Loki on another host, to a registry): passes only
  // through the rule that returns Docker's address pools.
  { from: "ct", src: CONTAINER, dst: "192.168.10.50", port: 9903 },
  { from: "ct", src: CONTAINER, dst: "10.9.0.5", port: 443 },
  // The lab reaching published ports: each port from its own sources only.
  { from: "lab", src: "192.168.10.50", dst: CONTAINER, port: 9901 },
  { from: "lab", src: "192.168.10.50", dst: CONTAINER, port: PUBLISHED },
  { from: "lab", src: "10.9.0.5", dst: CONTAINER, port: PUBLISHED },
  { from: "lab", src: "10.9.0.5", dst: CONTAINER, port: 9901 },
  { from: "lab", src: "192.168.10.50", dst: CONTAINER, port: 9999 },
  { from: "lab", src: "192.168.20.7", dst: CONTAINER, port: PUBLISHED },
  // Loopback sources. The host reaching its own published port on 127.0.0.1: Docker's DNAT sends it
  // to the container, from OUTPUT to POSTROUTING, never through FORWARD.
  { from: "host", src: "127.0.0.1", dst: "127.0.0.1", port: PUBLISHED },
  // From the lab, to the published port on the host's address (DNATed in PREROUTING) and straight
  // to the container: the NIC has no route_localnet, so routing drops both as martians.
  { from: "lab", src: "127.0.0.1", dst: HOST, port: PUBLISHED },
  { from: "lab", src: "127.0.0.2", dst: CONTAINER, port: PUBLISHED },
  // A container forging a loopback source. 127.0.0.1 is an address of the router's own (on lo) and
  // never routed in; any other 127/8 address is, on a bridge Docker gave route_localnet with
  // reverse-path filtering off: it is the one loopback source that reaches FORWARD, and DOCKER-USER
  // drops it.
  { from: "ct", src: "127.0.0.1", dst: "192.168.10.50", port: 9903 },
  { from: "ct", src: "127.0.0.2", dst: "192.168.10.50", port: 9903 },
];

interface Counts {
  /** Counted in the router's raw table: the SYN reached it. */
  sent: number[];
  /** Counted at the top of FORWARD, on the connection's original addresses. */
  forwarded: number[];
  /** Counted after the jump to DOCKER-USER: it returned from the chain. */
  passed: number[];
  /** Counted in the container namespace, for SYNs the router sent itself (after Docker's NAT). */
  delivered: number[];
}

/** One shell run: namespaces up, rules in, probes out, counters printed, namespaces gone. */
function run(block: string): Counts & { stderr: string } {
  const ns = `cfw${process.pid}`;
  const tcp = (p: Probe) => `-p tcp -s ${p.src}/32 -d ${p.dst}/32 --dport ${p.port}`;
  // On the original addresses, so a SYN DNAT changed is still this probe's.
  const original = (p: Probe) =>
    `-p tcp -m conntrack --ctorigsrc ${p.src}/32 --ctorigdst ${p.dst}/32 --ctorigdstport ${p.port} --ctdir ORIGINAL`;
  const fw = (args: string) => `ip netns exec "$ns"fw iptables ${args}`;
  const send = (from: Probe["from"]) =>
    probes
      .filter((p) => p.from === from)
      .map((p) => `(${JSON.stringify(p.src)}, ${JSON.stringify(p.dst)}, ${p.port})`)
      .join(", ");
  // A non-blocking connect sends the SYN inside the syscall; the program exits without waiting.
  const python = (from: Probe["from"]) =>
    `import socket\nkeep = []\nfor src, dst, port in [${send(from)}]:\n` +
    `    s = socket.socket(); s.setblocking(False); s.bind((src, 0)); s.connect_ex((dst, port)); keep.append(s)\n`;
  const script = `set -euo pipefail
ns=${ns}
cleanup() {
  for n in fw ct lab; do ip netns del "$ns$n" 2>/dev/null || true; done
}
trap cleanup EXIT
for n in fw ct lab; do ip netns add "$ns$n"; ip -n "$ns$n" link set lo up; done
ip link add "${ns}c" netns "$ns"ct type veth peer name "${ns}C" netns "$ns"fw
ip link add "${ns}l" netns "$ns"lab type veth peer name "${ns}L" netns "$ns"fw
ip -n "$ns"ct addr add ${CONTAINER}/16 dev "${ns}c"
ip -n "$ns"fw addr add ${BRIDGE}/16 dev "${ns}C"
ip -n "$ns"fw addr add ${HOST}/24 dev "${ns}L"
ip -n "$ns"lab addr add 192.168.10.50/24 dev "${ns}l"
ip -n "$ns"lab addr add 10.9.0.5/24 dev "${ns}l"
ip -n "$ns"lab addr add 192.168.20.7/24 dev "${ns}l"
for l in c C l L; do ip -n "$ns$( [ "$l" = c ] && echo ct || { [ "$l" = l ] && echo lab || echo fw; } )" link set "$ns$l" up; done
ip -n "$ns"ct route add default via ${BRIDGE}
ip -n "$ns"lab route add default via ${HOST}
ip -n "$ns"fw route add 10.9.0.0/24 via 192.168.10.50
ip -n "$ns"fw route add 192.168.20.0/24 via 192.168.10.50
# Reverse-path filtering off on every interface (the kernel's default; a namespace may inherit the
# host's), so only the loopback checks of routing itself can stop a forged source.
ip netns exec "$ns"fw sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \\
  net.ipv4.conf."${ns}C".rp_filter=0 net.ipv4.conf."${ns}L".rp_filter=0
# Docker without the userland proxy lets the bridge route loopback addresses, so the host's own
# 127.0.0.1 can be DNATed out of it (moby v28.5.2 libnetwork/drivers/bridge/setup_ipv4_linux.go:78-90,
# setupLoopbackAddressesRouting, run only when !EnableUserlandProxy: bridge_linux.go:899).
ip netns exec "$ns"fw sysctl -qw net.ipv4.conf."${ns}C".route_localnet=1
# The senders of forged loopback sources may send them out of their link (for a container, a raw
# socket does the same), to the router's MAC without asking ARP with a loopback sender address.
ip netns exec "$ns"ct sysctl -qw net.ipv4.conf."${ns}c".route_localnet=1
ip netns exec "$ns"lab sysctl -qw net.ipv4.conf."${ns}l".route_localnet=1
mac() { ip -n "$1" -o link show "$2" | sed -n 's/.* link\\/ether \\([0-9a-f:]*\\) .*/\\1/p'; }
ip -n "$ns"ct neigh replace ${BRIDGE} lladdr "$(mac "$ns"fw "${ns}C")" dev "${ns}c" nud permanent
ip -n "$ns"lab neigh replace ${HOST} lladdr "$(mac "$ns"fw "${ns}L")" dev "${ns}l" nud permanent
# Docker's nat rules for a port published on every address with userland-proxy false ("hairpin"
# in moby; the table is moby v28.5.2 integration/network/bridge/iptablesdoc/generated/
# usernet-portmap-noproxy.md:131-138):
${fw("-t nat -N DOCKER")}
# internal/iptabler/network.go:175-179 (addNATJumpRules): local destinations go to DOCKER.
${fw("-t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER")}
# network.go:190-197: the same from OUTPUT, where only with the proxy ! -d 127.0.0.0/8 is added.
${fw("-t nat -A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER")}
# network.go:301 and 338 (MASQ LOCAL HOST, hairpin only): a local source leaving by the bridge, so
# also 127.0.0.1, takes the bridge's address.
${fw(`-t nat -A POSTROUTING -o "${ns}C" -m addrtype --src-type LOCAL -j MASQUERADE`)}
# internal/iptabler/port.go:91-100 (setPerPortNAT): the DNAT, without ! -i <bridge> in hairpin mode.
${fw(`-t nat -A DOCKER -p tcp -d 0/0 --dport ${PUBLISHED} -j DNAT --to-destination ${CONTAINER}:${PUBLISHED}`)}
# Docker's FORWARD chain jumps to DOCKER-USER first (moby 28.x,
# integration/network/bridge/iptablesdoc/generated/new-daemon.md): what returns from it goes on to
# Docker's own chains, which accept a published port; here an ACCEPT per probe counts what passed.
ip netns exec "$ns"fw iptables-restore -n <<'RULES'
${block}
RULES
${probes
  .map((p, i) =>
    p.from === "host"
      ? [
          fw(`-t raw -A OUTPUT ${tcp(p)} -m comment --comment sent${i}`),
          `ip netns exec "$ns"ct iptables -t raw -A PREROUTING -p tcp -s ${BRIDGE}/32 -d ${CONTAINER}/32 --dport ${p.port} -m comment --comment delivered${i}`,
        ].join("\n")
      : fw(`-t raw -A PREROUTING ${tcp(p)} -m comment --comment sent${i}`),
  )
  .join("\n")}
${probes.map((p, i) => fw(`-A FORWARD ${original(p)} -m comment --comment forwarded${i}`)).join("\n")}
${fw("-A FORWARD -j DOCKER-USER")}
${probes.map((p, i) => fw(`-A FORWARD ${original(p)} -m comment --comment passed${i} -j ACCEPT`)).join("\n")}
ip netns exec "$ns"ct python3 -c "$PY_CT"
ip netns exec "$ns"lab python3 -c "$PY_LAB"
ip netns exec "$ns"fw python3 -c "$PY_HOST"
counters() {
  ip netns exec "$ns"fw iptables -t raw -S -v
  ip netns exec "$ns"fw iptables -S FORWARD -v
  ip netns exec "$ns"ct iptables -t raw -S -v
}
# The router handles a SYN whole once its raw rule counted it (routing and FORWARD follow in the
# same pass); a SYN it sent itself is done once the container namespace counted it.
for _ in $(seq 200); do
  if counters | awk '/--comment (sent|delivered)[0-9]+ -c/ && $(NF-1) == 0 {z=1} END {exit z}'; then break; fi
done
counters
`;
  const res = spawnSync("bash", ["-c", script], {
    encoding: "utf8",
    env: { ...process.env, PY_CT: python("ct"), PY_LAB: python("lab"), PY_HOST: python("host") },
    timeout: 60_000,
  });
  if (res.status !== 0) throw new Error(`the namespace probe failed (${res.status}):\n${res.stderr}`);
  const zeros = () => probes.map(() => 0);
  const counts: Counts = { sent: zeros(), forwarded: zeros(), passed: zeros(), delivered: zeros() };
  for (const line of res.stdout.split("\n")) {
    const m = /--comment (sent|forwarded|passed|delivered)(\d+) -c (\d+) \d+/.exec(line);
    if (!m) continue;
    const column = counts[m[1] as keyof Counts];
    column[Number(m[2])] = (column[Number(m[2])] ?? 0) + Number(m[3]);
  }
  return { ...counts, stderr: res.stderr };
}

/** Each probe's fate, from its counters. */
function verdicts(c: Counts): string[] {
  return probes.map((p, i) => {
    const fate =
      c.sent[i] === 0
        ? "never sent"
        : c.forwarded[i] === 0
          ? p.from === "host"
            ? (c.delivered[i] ?? 0) > 0
              ? "reaches the container, not through FORWARD"
              : "never reaches the container"
            : "never forwarded"
          : (c.passed[i] ?? 0) > 0
            ? "passes"
            : "dropped";
    return `${p.from} ${p.src} -> ${p.dst}:${p.port} ${fate}`;
  });
}

describe("the DOCKER-USER rules, loaded into iptables in a network namespace", () => {
  it("pass container traffic out of Docker's pools and each published port from its own sources only; loopback sources never need them", () => {
    if (process.getuid?.() !== 0) throw new Error("this test needs root (ip netns, iptables)");
    for (const tool of ["ip", "iptables", "iptables-restore", "python3"]) requireTool(tool);
    expect(DOCKER_SUBNETS.some((s) => s.startsWith("172.16."))).toBe(true);
    expect(verdicts(run(dockerUserRules(plan)))).toEqual([
      "ct 172.17.0.2 -> 192.168.10.50:9903 passes",
      "ct 172.17.0.2 -> 10.9.0.5:443 passes",
      "lab 192.168.10.50 -> 172.17.0.2:9901 passes",
      "lab 192.168.10.50 -> 172.17.0.2:8000 passes",
      "lab 10.9.0.5 -> 172.17.0.2:8000 passes",
      "lab 10.9.0.5 -> 172.17.0.2:9901 dropped",
      "lab 192.168.10.50 -> 172.17.0.2:9999 dropped",
      "lab 192.168.20.7 -> 172.17.0.2:8000 dropped",
      "host 127.0.0.1 -> 127.0.0.1:8000 reaches the container, not through FORWARD",
      "lab 127.0.0.1 -> 192.168.10.29:8000 never forwarded",
      "lab 127.0.0.2 -> 172.17.0.2:8000 never forwarded",
      "ct 127.0.0.1 -> 192.168.10.50:9903 never forwarded",
      // The one loopback source that reaches DOCKER-USER is forged by a container. A rule returning
      // 127.0.0.0/8 would let it on to Docker's chains, which accept what leaves a bridge.
      "ct 127.0.0.2 -> 192.168.10.50:9903 dropped",
    ]);
  });
});
