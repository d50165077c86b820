/** The README's tables are generated from the code (npm run readme), so they cannot drift. */
import { readFileSync } from "node:fs";
import { fillReadme, generatedBlocks, README } from "../tools/readme";

describe("README.md", () => {
  it("carries the generated tables exactly as the code renders them: run npm run readme after a change", async () => {
    const readme = readFileSync(README, "utf8");
    const blocks = await generatedBlocks();
    for (const name of Object.keys(blocks)) expect(readme).toContain(`<!-- generated: ${name} -->`);
    expect(readme).toBe(fillReadme(readme, blocks));
  });

  it("refuses a generated block the code does not know", () => {
    expect(() => fillReadme("<!-- generated: nope -->\nx\n<!-- /generated -->", {})).toThrow(
      'README.md has a generated block "nope" that tools/readme.ts does not know',
    );
  });
});
