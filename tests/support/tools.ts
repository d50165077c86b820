/** Real validators the tests depend on. A missing one fails loudly with the install command. */
import { spawnSync } from "node:child_process";

const PACKAGES: Record<string, string> = {
  shellcheck: "shellcheck",
  bats: "bats",
  jq: "jq",
  promtool: "prometheus",
  amtool: "prometheus-alertmanager",
  "systemd-analyze": "systemd",
  "iptables-restore": "iptables",
  ip: "iproute2",
  unshare: "util-linux",
};

export function requireTool(tool: string): void {
  const found = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" });
  if (found.status !== 0) {
    throw new Error(
      `${tool} is not installed; install it with: apt-get install -y ${PACKAGES[tool] ?? tool} (see .ci/run)`,
    );
  }
}
