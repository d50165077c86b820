/** The flag parser every command-line tool uses: defaults, values, switches, and usage errors. */
import { parseFlags } from "../tools/cli";
import { StackFileError } from "../tools/synth/stackfile";

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
