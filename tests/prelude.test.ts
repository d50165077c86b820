/** Runs the bats suite for the script prelude, so its results count with everything else. */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { requireTool } from "./support/tools";

it("passes the bats suite for components/remote/prelude.sh", () => {
  requireTool("bats");
  const run = spawnSync("bats", ["--tap", path.join(__dirname, "prelude.bats")], { encoding: "utf8" });
  const failures = run.stdout.split("\n").filter((l) => l.startsWith("not ok"));
  expect(failures).toEqual([]);
  expect(run.stdout).toMatch(/^1\.\.6$/m);
  expect(run.status).toBe(0);
});
