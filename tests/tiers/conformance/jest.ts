/**
 * The jest tests that read the upstream builds (tests/tiers/conformance/jest/): run by jest in a
 * subprocess once `npm run upstream` has built what they read, each test one check of the tier.
 * `npm test` leaves them out (jest.config.js), so it runs on a fresh machine.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { CheckRun } from "./checks";

const REPO = path.resolve(__dirname, "..", "..", "..");

interface JestJson {
  testResults: {
    name: string;
    message: string;
    assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
  }[];
}

export async function jestChecks(run: CheckRun): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "citadel-conformance-jest-"));
  const out = path.join(dir, "jest.json");
  try {
    const r = spawnSync(
      path.join(REPO, "node_modules", ".bin", "jest"),
      [
        "--testPathIgnorePatterns",
        "/node_modules/",
        "--json",
        "--outputFile",
        out,
        "tests/tiers/conformance/jest",
      ],
      { cwd: REPO, encoding: "utf8", env: { ...process.env, CI: "true" } },
    );
    let report: JestJson;
    try {
      report = JSON.parse(readFileSync(out, "utf8")) as JestJson;
    } catch {
      await run.check("jest", "-", "runs tests/tiers/conformance/jest", () => {
        throw new Error(`jest wrote no report (exit ${r.status}):\n${r.stderr.slice(-2000)}`);
      });
      return;
    }
    for (const file of report.testResults) {
      const where = path.relative(REPO, file.name);
      // A file that failed before any test ran (an import, a beforeAll) is one failed check.
      if (file.assertionResults.length === 0)
        await run.check("jest", "-", where, () => {
          throw new Error(file.message || "no test ran");
        });
      for (const a of file.assertionResults)
        await run.check("jest", "-", `${where}: ${a.fullName}`, () => {
          if (a.status !== "passed") throw new Error(a.failureMessages.join("\n").slice(0, 4000) || a.status);
        });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
