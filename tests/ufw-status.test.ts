/**
 * The firewall check of both evaluators (evaluateHost and the drift timer's drift_eval.py) on
 * `ufw status verbose` as the real ufw prints it: ufw runs in its own mount and network namespace,
 * over a copy of /etc/ufw and /etc/default/ufw, is enabled and given each default incoming policy
 * its grammar has (allow, deny, reject; ufw/parser.py), then disabled. Nothing on this machine's
 * firewall or configuration changes. Needs root, unshare(1) and ufw (apt-get install -y ufw; the
 * lab runs 0.36.2, Ubuntu 24.04).
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import type { LabConfig } from "../components/config";
import { parseLabConfig } from "../components/plan";
import { DRIFT_EVALUATOR } from "../components/ops/drift";
import { evaluateHost, hostExpectations } from "../components/ops/validate";
import { COMPONENTS_DIR } from "../components/remote";
import { fromConfigMap, stackConfigSource } from "../lib/synth/stackfile";
import { LAB_SECRETS, labConfigMap } from "./support/lab";
import { citadelProbes } from "./support/probe";
import { requireTool } from "./support/tools";

const lab: LabConfig = parseLabConfig(stackConfigSource(fromConfigMap(labConfigMap()), LAB_SECRETS)).lab;
const STATES = ["deny", "allow", "reject", "disabled"] as const;

/** `ufw status verbose` after each state, from one namespaced run of the real ufw. */
function ufwStatuses(): Record<(typeof STATES)[number], string> {
  const script = `set -euo pipefail
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cp -a /etc/ufw "$d/etc-ufw"
cp /etc/default/ufw "$d/default-ufw"
unshare --mount --net bash -euo pipefail -c '
  mount --make-rprivate /
  mount --bind "$1/etc-ufw" /etc/ufw
  mount --bind "$1/default-ufw" /etc/default/ufw
  ip link set lo up
  ufw --force enable >/dev/null
  for policy in ${STATES.filter((s) => s !== "disabled").join(" ")}; do
    ufw default "$policy" incoming >/dev/null
    echo "=== $policy"
    ufw status verbose
  done
  ufw disable >/dev/null
  echo "=== disabled"
  ufw status verbose
' _ "$d"
`;
  const run = spawnSync("bash", ["-c", script], { encoding: "utf8", timeout: 60_000 });
  if (run.status !== 0) throw new Error(`ufw in a namespace failed (${run.status}):\n${run.stderr}`);
  const out: Record<string, string> = {};
  for (const part of run.stdout.split(/^=== /m).slice(1)) {
    const [state, ...lines] = part.split("\n");
    out[state as string] = lines.join("\n").trim();
  }
  return out as Record<(typeof STATES)[number], string>;
}

/** What drift_eval.py makes of a probe output, as `check -> 1 | 0`. */
function onHost(output: string): Record<string, number> {
  const run = spawnSync("python3", [path.join(COMPONENTS_DIR, DRIFT_EVALUATOR)], {
    input: output,
    encoding: "utf8",
    env: { PATH: process.env.PATH, EXPECTATIONS: JSON.stringify(hostExpectations(lab, "citadel")) },
  });
  if (run.status !== 0) throw new Error(`drift_eval.py failed: ${run.stderr}`);
  return Object.fromEntries(
    [...run.stdout.matchAll(/^citadel_validate_check\{check="([^"]*)"\} ([01])$/gm)].map((m) => [
      m[1],
      Number(m[2]),
    ]),
  );
}

describe("the firewall check on the real ufw's status", () => {
  it("passes only an active ufw that denies incoming by default, in both evaluators", async () => {
    if (process.getuid?.() !== 0) throw new Error("this test needs root (unshare, mount, ufw)");
    requireTool("unshare");
    requireTool("ufw");
    const statuses = ufwStatuses();
    expect(Object.keys(statuses).sort()).toEqual([...STATES].sort());
    expect(statuses.deny).toMatch(/^Status: active$/m);
    expect(statuses.disabled).toMatch(/^Status: inactive$/m);
    const healthy = (await citadelProbes(lab))("citadel-healthy.txt");
    const verdicts = STATES.map((state) => {
      const probe = healthy.replace(
        /^### ufw rc=0\n(?:(?!### ).*\n?)*/m,
        () => `### ufw rc=0\n${statuses[state]}\n`,
      );
      const here = evaluateHost(lab, "citadel", probe).find((r) => r.check === "firewall");
      return `${state}: evaluateHost ${here?.ok ? 1 : 0}, drift_eval.py ${onHost(probe).firewall}`;
    });
    expect(verdicts).toEqual([
      "deny: evaluateHost 1, drift_eval.py 1",
      "allow: evaluateHost 0, drift_eval.py 0",
      "reject: evaluateHost 0, drift_eval.py 0",
      "disabled: evaluateHost 0, drift_eval.py 0",
    ]);
  });
});
