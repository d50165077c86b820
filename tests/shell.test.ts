/** The renderers behind every host script: pure functions, checked by running real shells. */
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { contentHash, renderScript, shellQuote, wrapScript } from "../components/remote";

const FIXTURE = "../tests/fixtures/print-params.sh";

function runWrapped(script: string, stdin = ""): string {
  const result = spawnSync("/bin/sh", ["-c", wrapScript(script, false)], {
    encoding: "utf8",
    input: stdin,
    env: { PATH: "/usr/bin:/bin", HOME: "/nonexistent" },
  });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout;
}

describe("shellQuote", () => {
  it("round-trips any text through export and bash", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({ unit: "grapheme", maxLength: 40 }).filter((s) => !s.includes("\0")),
          { minLength: 1, maxLength: 8 },
        ),
        (values) => {
          const params: Record<string, string> = { NAMES: values.map((_, i) => `V${i}`).join(" ") };
          values.forEach((v, i) => (params[`V${i}`] = v));
          const out = runWrapped(renderScript(FIXTURE, params));
          values.forEach((v, i) => expect(out).toContain(`<V${i}>${v}</V${i}>`));
        },
      ),
      { numRuns: 25 },
    );
  });

  it("quotes the awkward cases", () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote("$(reboot)")).toBe(`'$(reboot)'`);
    expect(shellQuote("")).toBe(`''`);
  });
});

describe("renderScript", () => {
  it("puts sorted exports, then secret reads, then the prelude, then the script", () => {
    const text = renderScript(FIXTURE, { ZED: "z", ALPHA: "a b" }, ["TOKEN"]);
    const lines = text.split("\n");
    expect(lines[0]).toBe("#!/usr/bin/env bash");
    expect(lines[1]).toBe(`# citadel script: ${FIXTURE}`);
    expect(lines.slice(3, 6)).toEqual([
      "export ALPHA='a b'",
      "export ZED='z'",
      "IFS= read -r TOKEN || true; export TOKEN",
    ]);
    expect(text.indexOf("changed() {")).toBeLessThan(text.indexOf("for name in $NAMES"));
  });

  it("reads secrets from stdin so they never enter the text", () => {
    const text = renderScript(FIXTURE, { NAMES: "TOKEN" }, ["TOKEN"]);
    expect(text).not.toContain("hunter2");
    expect(runWrapped(text, "hunter2 with 'quotes'\n")).toBe("<TOKEN>hunter2 with 'quotes'</TOKEN>\n");
  });

  it("refuses a parameter without a value rather than rendering 'undefined'", () => {
    expect(() => renderScript(FIXTURE, { NAMES: undefined as unknown as string })).toThrow(
      "parameter NAMES of ../tests/fixtures/print-params.sh has no value",
    );
  });

  it("rejects parameter names that are not UPPER_SNAKE_CASE, and duplicates", () => {
    expect(() => renderScript(FIXTURE, { "bad-name": "x" })).toThrow("must be UPPER_SNAKE_CASE");
    expect(() => renderScript(FIXTURE, { TOKEN: "x" }, ["TOKEN"])).toThrow("parameter TOKEN of");
  });

  it("refuses a script that does not start with set -euo pipefail", () => {
    expect(() => renderScript("../tests/shell.test.ts", {})).toThrow(
      'must start with "#!/usr/bin/env bash" and "set -euo pipefail"',
    );
  });
});

describe("wrapScript", () => {
  it("runs the script verbatim, through sudo -n when asked", () => {
    expect(wrapScript("echo hi", true)).toMatch(
      /^sudo -n bash -c "\$\(cat <<'CITADEL_SCRIPT_EOF'\necho hi\nCITADEL_SCRIPT_EOF\n\)" citadel-script$/,
    );
    expect(runWrapped("#!/usr/bin/env bash\necho \"$0 keeps \\$HOME and 'quotes'\"")).toBe(
      "citadel-script keeps $HOME and 'quotes'\n",
    );
  });

  it("refuses a script containing its delimiter", () => {
    expect(() => wrapScript("a\nCITADEL_SCRIPT_EOF\nb", false)).toThrow(
      "may not contain the line CITADEL_SCRIPT_EOF",
    );
  });
});

describe("contentHash", () => {
  it("is the sha256 of the text", () => {
    // FIPS 180-2, appendix B.1: SHA-256("abc"); and of the empty string.
    expect(contentHash("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(contentHash("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(contentHash("citadel")).not.toBe(contentHash("citadel "));
  });
});
