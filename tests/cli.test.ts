/** The flag parser every command-line tool uses: defaults, values, switches, and usage errors. */
import { parseFlags } from "../tools/cli";
import { StackFileError } from "../tools/synth/stackfile";

const USAGE = "tool -- [--config <file>] [--dir <dir>] [--accept]";
const parse = (...argv: string[]) =>
  parseFlags(argv, { config: "Pulumi.citadel.yaml", dir: "baselines" }, ["accept"], USAGE);

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

  it.each([
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
