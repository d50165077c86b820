/**
 * The conformance sandbox removes what a killed run left, and only that: a run beside this one
 * (its process still alive) keeps its namespaces. Real namespaces (`ip netns`), as root.
 */
import { spawn, spawnSync } from "node:child_process";
import { staleRuns } from "./tiers/conformance/sandbox";

const made: string[] = [];
const netns = (name: string) => {
  const r = spawnSync("ip", ["netns", "add", name], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip netns add ${name}: ${r.stderr} (needs root and iproute2)`);
  made.push(name);
};

afterAll(() => {
  for (const n of made) spawnSync("ip", ["netns", "delete", n]);
});

test("a killed run's namespaces are stale; a running one's are not", async () => {
  const running = spawn("sleep", ["60"]);
  const ended = spawn("true");
  await new Promise((resolve) => ended.on("exit", resolve));
  try {
    netns(`citc-${running.pid}-prometheus`);
    netns(`citc-${ended.pid}-prometheus`);
    const stale = staleRuns();
    expect(stale).toContain(`citc-${ended.pid}`);
    expect(stale).not.toContain(`citc-${running.pid}`);
  } finally {
    running.kill();
  }
});
