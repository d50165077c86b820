/**
 * `npm run mutate -- --testFiles ...` narrows jest itself (tools/mutate.ts): Stryker 10.0.0 hands
 * `--testFiles` only to its dry run, so each mutant loaded every related test file.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { narrowedConfig, splitTestFiles } from "../tools/mutate";

const ROOT = path.join(__dirname, "..");

describe("npm run mutate narrowed to test files", () => {
  it("takes --testFiles out of Stryker's arguments in both spellings and keeps the rest in order", () => {
    expect(
      splitTestFiles([
        "--mutate",
        "a.ts",
        "--testFiles",
        "tests/x.test.ts,tests/y.test.ts",
        "--testFiles=tests/z.test.ts",
        "--incremental",
      ]),
    ).toEqual({
      testFiles: ["tests/x.test.ts", "tests/y.test.ts", "tests/z.test.ts"],
      rest: ["--mutate", "a.ts", "--incremental"],
    });
    expect(splitTestFiles(["--mutate", "a.ts"])).toEqual({ testFiles: [], rest: ["--mutate", "a.ts"] });
  });

  it("gives jest exactly those files and no related-test search, keeping the repo's Stryker config", () => {
    const config = JSON.parse(readFileSync(path.join(ROOT, "stryker.config.json"), "utf8"));
    const narrowed = narrowedConfig(config, ["tests/vram.test.ts", "./tests/loop.test.ts"]);
    expect(narrowed.jest.enableFindRelatedTests).toBe(false);
    expect({ ...narrowed, jest: undefined }).toEqual({ ...config, jest: undefined });
    expect(narrowed.jest.config.roots).toEqual(config.jest.config.roots);
    // What jest itself selects under that config (its own --listTests), run from the repository.
    const dir = mkdtempSync(path.join(os.tmpdir(), "mutate-narrowed-"));
    try {
      const file = path.join(dir, "jest.config.js");
      writeFileSync(
        file,
        `module.exports = { ...require(${JSON.stringify(path.join(ROOT, "jest.config.js"))}), rootDir: ${JSON.stringify(ROOT)}, ...${JSON.stringify(narrowed.jest.config)} };`,
      );
      const listed = execFileSync(
        path.join(ROOT, "node_modules", ".bin", "jest"),
        ["--listTests", "-c", file],
        {
          cwd: ROOT,
          encoding: "utf8",
        },
      )
        .split("\n")
        .filter(Boolean)
        .map((f) => path.relative(ROOT, f))
        .sort();
      expect(listed).toEqual(["tests/loop.test.ts", "tests/vram.test.ts"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
