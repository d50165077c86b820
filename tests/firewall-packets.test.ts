/**
 * The DOCKER-USER rules with real packets: the rendered block is loaded by iptables-restore into a
 * network namespace that routes between a "container" namespace (an address in Docker's pool)
 * and a "lab" namespace, as the host routes between its bridges and its NIC, and TCP SYNs are sent
 * through it. Each probe's fate is read from netfilter's own counters: a counting rule at the top
 * of FORWARD sees it arrive, one after the jump to DOCKER-USER sees it pass. Nothing waits on a
 * timeout: the probe sends its SYNs without blocking and the counters are read once every probe
 * has arrived. Needs root, ip(8), iptables and python3 (all on the CI image, see .ci/run).
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
  /** Namespace the SYN leaves from: the container network or the lab. */
  from: "ct" | "lab";
  src: string;
  dst: string;
  port: number;
}

const CONTAINER = "172.17.0.2";
const probes: Probe[] = [
  // A container reaching out of its network (to Loki on another host, to a registry): passes only
  // through the rule that returns Docker's address pools.
  { from: "ct", src: CONTAINER, dst: "192.168.10.50", port: 9903 },
  { from: "ct", src: CONTAINER, dst: "10.9.0.5", port: 443 },
  // The lab reaching published ports: each port from its own sources only.
  { from: "lab", src: "192.168.10.50", dst: CONTAINER, port: 9901 },
  { from: "lab", src: "192.168.10.50", dst: CONTAINER, port: 8000 },
  { from: "lab", src: "10.9.0.5", dst: CONTAINER, port: 8000 },
  { from: "lab", src: "10.9.0.5", dst: CONTAINER, port: 9901 },
  { from: "lab", src: "192.168.10.50", dst: CONTAINER, port: 9999 },
  { from: "lab", src: "192.168.20.7", dst: CONTAINER, port: 8000 },
];

/** One shell run: namespaces up, rules in, probes out, counters printed, namespaces gone. */
function run(block: string): { arrived: number[]; passed: number[]; stderr: string } {
  const ns = `cfw${process.pid}`;
  const count = (p: Probe, i: number) =>
    `-s ${p.src}/32 -d ${p.dst}/32 -p tcp --dport ${p.port} -m comment --comment probe${i}`;
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
ip -n "$ns"fw addr add 172.17.0.1/16 dev "${ns}C"
ip -n "$ns"fw addr add 192.168.10.29/24 dev "${ns}L"
ip -n "$ns"lab addr add 192.168.10.50/24 dev "${ns}l"
ip -n "$ns"lab addr add 10.9.0.5/24 dev "${ns}l"
ip -n "$ns"lab addr add 192.168.20.7/24 dev "${ns}l"
for l in c C l L; do ip -n "$ns$( [ "$l" = c ] && echo ct || { [ "$l" = l ] && echo lab || echo fw; } )" link set "$ns$l" up; done
ip -n "$ns"ct route add default via 172.17.0.1
ip -n "$ns"lab route add default via 192.168.10.29
ip -n "$ns"fw route add 10.9.0.0/24 via 192.168.10.50
ip -n "$ns"fw route add 192.168.20.0/24 via 192.168.10.50
ip netns exec "$ns"fw sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0
# Docker's FORWARD chain jumps to DOCKER-USER first (moby 28.x,
# integration/network/bridge/iptablesdoc/generated/new-daemon.md): what returns from it goes on to
# Docker's own chains, which accept a published port; here an ACCEPT per probe counts what passed.
ip netns exec "$ns"fw iptables-restore -n <<'RULES'
${block}
RULES
${probes.map((p, i) => `ip netns exec "$ns"fw iptables -A FORWARD ${count(p, i)}`).join("\n")}
ip netns exec "$ns"fw iptables -A FORWARD -j DOCKER-USER
${probes.map((p, i) => `ip netns exec "$ns"fw iptables -A FORWARD ${count(p, i)} -j ACCEPT`).join("\n")}
ip netns exec "$ns"ct python3 -c "$PY_CT"
ip netns exec "$ns"lab python3 -c "$PY_LAB"
# Every probe's SYN has reached the router once each top-of-FORWARD rule has counted a packet.
for _ in $(seq 200); do
  if ip netns exec "$ns"fw iptables -S FORWARD -v | awk '/probe[0-9]+ -c/ && !/-j ACCEPT/ && $(NF-1) == 0 {z=1} END {exit z}'; then break; fi
done
ip netns exec "$ns"fw iptables -S FORWARD -v
`;
  const res = spawnSync("bash", ["-c", script], {
    encoding: "utf8",
    env: { ...process.env, PY_CT: python("ct"), PY_LAB: python("lab") },
    timeout: 60_000,
  });
  if (res.status !== 0) throw new Error(`the namespace probe failed (${res.status}):\n${res.stderr}`);
  const arrived = probes.map(() => 0);
  const passed = probes.map(() => 0);
  for (const line of res.stdout.split("\n")) {
    const m = /--comment probe(\d+) -c (\d+) \d+/.exec(line);
    if (!m) continue;
    const counts = line.includes("-j ACCEPT") ? passed : arrived;
    counts[Number(m[1])] = (counts[Number(m[1])] ?? 0) + Number(m[2]);
  }
  return { arrived, passed, stderr: res.stderr };
}

describe("the DOCKER-USER rules, loaded into iptables in a network namespace", () => {
  it("pass container traffic out of Docker's pools and each published port from its own sources only", () => {
    if (process.getuid?.() !== 0) throw new Error("this test needs root (ip netns, iptables)");
    for (const tool of ["ip", "iptables", "iptables-restore", "python3"]) requireTool(tool);
    expect(DOCKER_SUBNETS.some((s) => s.startsWith("172.16."))).toBe(true);
    const { arrived, passed } = run(dockerUserRules(plan));
    const verdict = probes.map(
      (p, i) =>
        `${p.src} -> ${p.dst}:${p.port} ${arrived[i] === 0 ? "never arrived" : (passed[i] ?? 0) > 0 ? "passes" : "dropped"}`,
    );
    expect(verdict).toEqual([
      "172.17.0.2 -> 192.168.10.50:9903 passes",
      "172.17.0.2 -> 10.9.0.5:443 passes",
      "192.168.10.50 -> 172.17.0.2:9901 passes",
      "192.168.10.50 -> 172.17.0.2:8000 passes",
      "10.9.0.5 -> 172.17.0.2:8000 passes",
      "10.9.0.5 -> 172.17.0.2:9901 dropped",
      "192.168.10.50 -> 172.17.0.2:9999 dropped",
      "192.168.20.7 -> 172.17.0.2:8000 dropped",
    ]);
  });
});
