/**
 * firewall.sh against the real ufw 0.36.2 (Ubuntu 24.04's), not a shim that echoes rules back as
 * they were added: ufw runs in its own mount and network namespace over a copy of /etc/ufw and
 * /etc/default/ufw (with /run a tmpfs), so nothing on this machine changes. The script converges,
 * a second run changes nothing against what ufw itself prints (`ufw show added`), the DOCKER-USER
 * block reaches iptables through ufw's after.rules, and a smaller plan removes the stale rules.
 * Needs root, unshare(1) and ufw (apt-get install -y ufw).
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import {
  accessFile,
  AFTER_RULES_BEGIN,
  AFTER_RULES_END,
  dockerUserRules,
  ufwRules,
  type FirewallPlan,
} from "../components/host";
import { renderScript } from "../components/remote";
import { requireTool } from "./support/tools";
import { scratchDir } from "./support/scratch";

const plan: FirewallPlan = {
  sshPort: 22,
  adminSubnet: "192.168.10.0/24",
  labSubnet: "192.168.10.0/24",
  ports: [
    { port: 9901, sources: ["192.168.10.0/24"] },
    { port: 8000, sources: ["192.168.10.0/24", "10.9.0.0/24"] },
  ],
};
const smaller: FirewallPlan = { ...plan, ports: [{ port: 8000, sources: ["192.168.10.0/25"] }] };

const script = (p: FirewallPlan) =>
  renderScript("host/scripts/firewall.sh", {
    RULES: ufwRules(p).join("\n"),
    AFTER_BLOCK: dockerUserRules(p),
    ADMIN_SUBNET: p.adminSubnet,
    ACCESS: accessFile(p, [{ port: 9901 }]),
    BEGIN_MARK: AFTER_RULES_BEGIN,
    END_MARK: AFTER_RULES_END,
  });

/** Runs the steps in one namespace and returns each marked section of the output. */
function inUfwNamespace(steps: string[]): Record<string, string> {
  const dir = scratchDir("citadel-ufw-");
  writeFileSync(path.join(dir, "full.sh"), script(plan));
  writeFileSync(path.join(dir, "smaller.sh"), script(smaller));
  const runner = `set -euo pipefail
d="$1"
cp -a /etc/ufw "$d/etc-ufw"
cp /etc/default/ufw "$d/default-ufw"
unshare --mount --net bash -uo pipefail -c '
  set -e
  mount --make-rprivate /
  mount --bind "$1/etc-ufw" /etc/ufw
  mount --bind "$1/default-ufw" /etc/default/ufw
  mount -t tmpfs tmpfs /run
  ip link set lo up
  set +e
  ${steps.join("\n  ")}
' _ "$d"
`;
  const run = spawnSync("bash", ["-c", runner, "_", dir], {
    encoding: "utf8",
    timeout: 120_000,
    // The SSH session firewall.sh checks its client against: from the admin subnet.
    env: { ...process.env, SSH_CONNECTION: "192.168.10.50 51234 192.168.10.29 22" },
  });
  if (run.status !== 0) throw new Error(`the ufw namespace failed (${run.status}):\n${run.stderr}`);
  const out: Record<string, string> = {};
  for (const part of run.stdout.split(/^=== /m).slice(1)) {
    const [name, ...lines] = part.split("\n");
    out[name as string] = lines.join("\n").trim();
  }
  return out;
}

describe("firewall.sh against the real ufw", () => {
  it("converges, changes nothing the second time, loads DOCKER-USER through ufw, and removes stale rules", () => {
    if (process.getuid?.() !== 0) throw new Error("this test needs root (unshare, mount, ufw)");
    requireTool("unshare");
    requireTool("ufw");
    const step = (name: string, command: string) => `echo "=== ${name}"; ${command} 2>&1; echo "rc=$?"`;
    const out = inUfwNamespace([
      step("first", 'bash "$1/full.sh"'),
      step("second", 'bash "$1/full.sh"'),
      step("added", "ufw show added"),
      step("status", "ufw status verbose"),
      step("docker-user", "iptables -S DOCKER-USER"),
      step("smaller", 'bash "$1/smaller.sh"'),
      step("added-after", "ufw show added"),
      step("docker-user-after", "iptables -S DOCKER-USER"),
    ]);
    expect(out.first).toMatch(/^changed: enabled ufw$/m);
    expect(out.first).toMatch(/rc=0$/);
    // The second run reads ufw's own listing and finds every rule there.
    expect(out.second?.split("\n")).toEqual(["no changes: firewall already converged", "rc=0"]);
    const citadelRules = (text = "") => text.split("\n").filter((l) => l.includes("comment 'citadel'"));
    expect(citadelRules(out.added)).toEqual(
      ufwRules(plan).map((r) => `ufw ${r.replace(/ comment citadel$/, " comment 'citadel'")}`),
    );
    expect(out.status).toMatch(/^Status: active$/m);
    expect(out.status).toMatch(/^Default: deny \(incoming\), allow \(outgoing\)/m);
    // ufw loaded the after.rules block: the chain holds each rule of it, the DROP last.
    const chain = (out["docker-user"] ?? "").split("\n").filter((l) => l.startsWith("-A DOCKER-USER"));
    const block = dockerUserRules(plan)
      .split("\n")
      .filter((l) => l.startsWith("-A DOCKER-USER"));
    expect(chain).toHaveLength(block.length);
    expect(chain[chain.length - 1]).toBe("-A DOCKER-USER -j DROP");
    expect(chain).toContain("-A DOCKER-USER -s 172.16.0.0/12 -j RETURN");
    expect(out.smaller).toMatch(/^changed: removed stale rule: ufw allow from 10\.9\.0\.0\/24 /m);
    expect(out.smaller).toMatch(/^changed: reloaded ufw$/m);
    expect(citadelRules(out["added-after"])).toEqual(
      ufwRules(smaller).map((r) => `ufw ${r.replace(/ comment citadel$/, " comment 'citadel'")}`),
    );
    // ufw's reload restores after.rules on top of what is loaded, not into an empty table: the
    // block itself must take the larger plan's rules out (iptables-restore flushes a user chain
    // the block declares, `:DOCKER-USER - [0:0]`, and the block's `-F` does the same), so the chain
    // holds the smaller block's rules only, with no stale port left open.
    const rules = (text = "") => text.split("\n").filter((l) => l.startsWith("-A DOCKER-USER"));
    expect(rules(out["docker-user-after"])).toEqual(rules(dockerUserRules(smaller)));
  });
});
