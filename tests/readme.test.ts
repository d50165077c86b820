/**
 * The generated tables of README.md and docs/ (npm run readme) are kept equal to the code, so they
 * cannot drift; `npm run readme -- --help` only prints its help.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { docFiles, fillReadme, generatedBlocks } from "../tools/readme";

const REPO = path.join(__dirname, "..");

describe("README.md and docs/", () => {
  it("carry the generated blocks exactly as the code renders them: run npm run readme after a change", async () => {
    const blocks = await generatedBlocks();
    const pages = docFiles().map((f) => ({ rel: path.relative(REPO, f), text: readFileSync(f, "utf8") }));
    expect(pages.map((p) => p.rel)).toEqual(
      expect.arrayContaining(["README.md", "docs/configuration.md", "docs/reference.md"]),
    );
    // Every block the code renders is shown somewhere.
    for (const name of Object.keys(blocks))
      expect(pages.some((p) => p.text.includes(`<!-- generated: ${name} -->`))).toBe(true);
    for (const p of pages)
      expect({ page: p.rel, text: p.text }).toEqual({ page: p.rel, text: fillReadme(p.text, blocks, p.rel) });
  });

  it("refuses a generated block the code does not know, naming the page", () => {
    expect(() => fillReadme("<!-- generated: nope -->\nx\n<!-- /generated -->", {}, "docs/x.md")).toThrow(
      'docs/x.md has a generated block "nope" that tools/readme.ts does not know',
    );
  });

  it("--help prints the usage and exits 0 without generating anything", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "tools/readme.ts", "--help"], {
      cwd: REPO,
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("usage: npm run readme -- [--check]");
    expect(r.stdout).toContain("exit codes:");
    // The generator reports its progress on stderr before it plans: nothing was generated.
    expect(r.stderr).toBe("");
    expect(r.stdout).not.toMatch(/ regenerated$|are up to date$/m);
  });
});
