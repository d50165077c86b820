/**
 * How zod's issues reach the operator (components/config/issues.ts): an unknown key with the known
 * one nearest to it, a key written with two namespaces, a map key that breaks a rule, a value that
 * fits none of a union's forms, and the example quoted beside each. Through the loader, from the
 * committed stack file with one key changed.
 */
import { LabConfigError, type ConfigProblem } from "../components/config";
import * as path from "node:path";
import { raidUsableBytes } from "../components/config/raid";
import { formatSize, parseSize } from "../components/config/units";
import { placeholderNotes, readStackFile } from "../lib/synth/stackfile";
import { problemsOf, verdict, withKey, type ConfigMap } from "./support/verdict";

const HOST = "citadel:hosts.citadel";

/** The one problem the loader reports for `config`: its key, message and example. */
function problem(config: ConfigMap): ConfigProblem {
  const found = problemsOf(config);
  if (found === "accepted" || found.length !== 1)
    throw new Error(`expected one problem, got ${JSON.stringify(found)}`);
  return found[0] as ConfigProblem;
}

describe("config issues as the operator reads them", () => {
  it("a top-level key with a second namespace says to nest it", () => {
    const config = withKey("citadel:ops:firewall", { adminSubnet: "192.168.10.0/24" });
    expect(problem(config)).toEqual({
      path: "citadel:ops:firewall",
      message: "a key has one namespace; write citadel:ops and nest firewall under it",
    });
  });

  it("a second namespace on a key the lab does not have is an unknown key, with the nearest", () => {
    expect(problem(withKey("citadel:opz:firewall", {}))).toEqual({
      path: "citadel:opz:firewall",
      message: 'unknown key "opz:firewall" (did you mean "ops"?); known keys here: hosts, ladon, ops, vllm',
    });
  });

  it("a colon inside a section is no namespace: the key is unknown there", () => {
    const found = problem(withKey(`${HOST}.ssh:port`, 22));
    expect(found.path).toBe(`${HOST}.ssh:port`);
    expect(found.message).toMatch(/^unknown key "ssh:port" \(did you mean "ssh"\?\)/);
  });

  it("an unknown key far from every known one asks whether it is a typo", () => {
    expect(problem(withKey(`${HOST}.zzzzzzzzzz`, 1))).toEqual({
      path: `${HOST}.zzzzzzzzzz`,
      message:
        'unknown key "zzzzzzzzzz" (a typo?); known keys here: address, arch, cpus, docker, memoryGiB, nvidia, ssh, storage, sudo',
    });
  });

  it("a host name that breaks two rules names both", () => {
    const config = withKey("citadel:hosts", { ["C".repeat(32)]: {} });
    expect(problem(config)).toEqual({
      path: `citadel:hosts.${"C".repeat(32)}`,
      message: `the name "${"C".repeat(32)}" is not allowed: it is 32 characters long; a host name has at most 31; host names are lower-case letters, digits and -, starting with a letter`,
    });
  });

  it("a value whose type fits none of a union's forms is reported once, with the union's example", () => {
    expect(problem(withKey(`${HOST}.storage.lvm.size`, 3))).toEqual({
      path: `${HOST}.storage.lvm.size`,
      message: "is not one of the accepted forms",
      example: "3TiB",
    });
  });

  it("a value inside a list quotes the example of the list's items", () => {
    const config = withKey(`${HOST}.storage.disks`, [
      { device: "/dev/nvme1n1", label: "data disk", mountPoint: "/srv/data" },
    ]);
    expect(problem(config)).toEqual({
      path: `${HOST}.storage.disks[0].label`,
      message: "must be 1-12 letters, digits, _ or -",
      example: "data",
    });
  });

  it("the lab's own file is accepted, so each case above is the one key it changes", () => {
    expect(verdict(withKey(`${HOST}.storage.lvm.size`, "3TiB"))).toBe("accepted");
  });
});

describe("the error the loader throws", () => {
  it("says the file, how many problems, that nothing was applied, and each problem on its own line with its example", () => {
    const one = new LabConfigError(
      [{ path: "citadel:hosts.citadel.address", message: "is wrong", example: "192.168.10.29" }],
      "Pulumi.citadel.yaml",
    );
    expect(one.name).toBe("LabConfigError");
    expect(one.message).toBe(
      'Invalid lab config in Pulumi.citadel.yaml (1 problem); nothing was applied:\n  - citadel:hosts.citadel.address: is wrong (example: "192.168.10.29")',
    );
    const two = new LabConfigError(
      [
        { path: "citadel:a", message: "first" },
        { path: "citadel:b", message: "second", example: 3 },
      ],
      "Pulumi.pi.yaml",
    );
    expect(two.message).toBe(
      "Invalid lab config in Pulumi.pi.yaml (2 problems); nothing was applied:\n  - citadel:a: first\n  - citadel:b: second (example: 3)",
    );
  });
});

describe("an array's usable size, which retention is checked against", () => {
  it.each([
    [1, 2, 1],
    [1, 4, 1],
    [5, 3, 2],
    [5, 5, 4],
    [6, 4, 2],
    [6, 6, 4],
    [10, 4, 2],
    [10, 3, 1.5],
  ] as const)("RAID%i of %i members holds %f members' worth", (level, members, worth) => {
    expect(raidUsableBytes(level, members, 1000)).toBe(worth * 1000);
  });
});

describe("sizes as operators write them", () => {
  it.each([
    ["100GiB", 100 * 1024 ** 3],
    ["1.25TiB", 1.25 * 1024 ** 4],
    ["0.125KiB", 128],
    ["512B", 512],
  ])("%s is %i bytes", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(["3 TB", "3TB", "1.GiB", "GiB", ""])("%j is no size", (text) => {
    expect(parseSize(text)).toBeUndefined();
  });

  it.each([
    [512, "512B"],
    [1024, "1KiB"],
    [1536 * 1024 ** 2, "1.50GiB"],
    [3 * 1024 ** 4, "3TiB"],
  ])("%i bytes are written %s", (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });
});

describe("the committed stand-ins", () => {
  it("names the committed host key as one pulumi up cannot use", () => {
    const stack = readStackFile(path.join(__dirname, "..", "Pulumi.citadel.yaml"));
    expect(placeholderNotes(stack)).toEqual(
      expect.arrayContaining([expect.stringContaining("ssh.hostKey is the committed stand-in")]),
    );
  });
});
