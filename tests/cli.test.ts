/** The flag parser every command-line tool uses: defaults, values, switches, and usage errors. */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { parseFlags } from "../lib/cli";
import { StackFileError } from "../lib/synth/stackfile";

const USAGE = "tool -- [--config <file>] [--dir <dir>] [--accept]";
const HELP = {
  usage: USAGE,
  flags: { config: "the stack file", dir: "where runs are kept", accept: "take a slower run" },
  exits: { 0: "done", 3: "the lab could not be reached" },
};
const parse = (...argv: string[]) =>
  parseFlags(argv, { config: "Pulumi.citadel.yaml", dir: "baselines" }, ["accept"], HELP);

describe("parseFlags", () => {
  it("gives the defaults when no flag is passed", () => {
    expect(parse()).toEqual({ config: "Pulumi.citadel.yaml", dir: "baselines", accept: false });
  });

  it("takes values and switches in any order", () => {
    expect(parse("--accept", "--dir", "/tmp/b", "--config", "other.yaml")).toEqual({
      config: "other.yaml",
      dir: "/tmp/b",
      accept: true,
    });
  });

  it("takes --name=value like --name value", () => {
    expect(parse("--config=other.yaml", "--accept")).toMatchObject({ config: "other.yaml", accept: true });
  });

  it("prints the usage, each flag's purpose with its default, and the exit codes for --help, and exits 0", () => {
    const log = jest.spyOn(console, "log").mockImplementation(() => undefined);
    const exit = jest.spyOn(process, "exit").mockImplementation(((code: number) => {
      throw new Error(`exit ${code}`);
    }) as never);
    try {
      expect(() => parse("--help")).toThrow("exit 0");
      expect(log.mock.calls[0]?.[0]).toBe(
        [
          `usage: ${USAGE}`,
          "",
          "flags:",
          "  --config <value>  the stack file (default: Pulumi.citadel.yaml)",
          "  --dir <value>     where runs are kept (default: baselines)",
          "  --accept          take a slower run (off unless given)",
          "",
          "exit codes:",
          "  0  done",
          "  3  the lab could not be reached",
        ].join("\n"),
      );
    } finally {
      log.mockRestore();
      exit.mockRestore();
    }
  });

  it.each([
    [["--config="], "--config="],
    [["--acept=1"], "--acept=1"],
    [["--acept"], "--acept"],
    [["--config"], "--config"],
    [["--config", "--accept"], "--config"],
    [["stray"], "stray"],
    [["--accept", "value"], "value"],
    [["--toString", "x"], "--toString"],
  ])("refuses %j, naming %s and quoting the usage", (argv, named) => {
    expect(() => parse(...argv)).toThrow(StackFileError);
    expect(() => parse(...argv)).toThrow(`unknown or incomplete argument ${named}; usage: ${USAGE}`);
  });
});

describe("every tool's --help", () => {
  const REPO = path.join(__dirname, "..");
  const TOOLS = [
    "tools/synth.ts",
    "tools/diff.ts",
    "tools/validate.ts",
    "tools/baseline.ts",
    "tools/bench.ts",
    "tools/assess/index.ts",
    "tools/readme.ts",
    "tests/tiers/conformance/index.ts",
    "tests/tiers/upstream/index.ts",
  ];
  it.each(TOOLS)("%s: says what each flag does and its exit codes, and does nothing else", (tool) => {
    const r = spawnSync(process.execPath, ["--import", "tsx", tool, "--help"], {
      cwd: REPO,
      encoding: "utf8",
    });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    expect(r.stdout).toMatch(/^usage: npm (start|run \w+)/);
    const flags = r.stdout.split("\n").filter((l) => /^ {2}--[a-z-]+/.test(l));
    for (const line of flags) {
      // `--name <value>  what it does (default: …)`, or a switch `(off unless given)`.
      expect(line).toMatch(/^ {2}--[a-z-]+( <value>)? +\S.{10,} \((default: .+|off unless given)\)$/);
    }
    const exits = r.stdout
      .slice(r.stdout.indexOf("exit codes:"))
      .split("\n")
      .filter((l) => /^ {2}\d /.test(l));
    expect(r.stdout).toContain("exit codes:");
    expect(exits.length).toBeGreaterThanOrEqual(2);
  });
});
