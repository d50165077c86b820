/**
 * hostScript as the engine receives it: which steps carry secrets and how, what replaces a step,
 * and what a step without secrets leaves visible. Each test synthesises its own small program, so
 * a mutant in components/remote/command.ts runs only the tests that reach it.
 */
import { execFileSync } from "node:child_process";
import * as pulumi from "@pulumi/pulumi";
import { parseLabConfig } from "../components/plan";
import { hostScript, hostTarget, localScript, type HostScriptArgs } from "../components/remote";
import { secretStdin } from "../components/remote/command";
import type { ResourceRecord, SynthResult } from "../lib/synth/harness";
import { fromConfigMap, stackConfigSource } from "../lib/synth/stackfile";
import { LAB_SECRETS, labConfigMap } from "./support/lab";
import { byName, synthLab } from "./support/synth";

/** Registers one step on citadel with the given parameters and secrets, and returns it as recorded. */
async function step(
  args: Pick<HostScriptArgs, "params" | "secrets" | "replaceOnChange">,
): Promise<ResourceRecord> {
  return byName(await synthStep(args), "the-step");
}

async function synthStep(
  args: Pick<HostScriptArgs, "params" | "secrets" | "replaceOnChange">,
): Promise<SynthResult> {
  return synthLab(labConfigMap(), () => {
    const { lab } = parseLabConfig(stackConfigSource(fromConfigMap(labConfigMap()), LAB_SECRETS));
    hostScript(
      "the-step",
      { host: hostTarget("citadel", lab.hosts.citadel!), script: "host/scripts/nvidia-iommu.sh", ...args },
      {},
    );
    return {};
  });
}

describe("a step without secrets", () => {
  it("feeds nothing on stdin, keeps its logs and leaves its outputs visible", async () => {
    const s = await step({ params: { KERNEL_ARGS: "" } });
    expect(s.rawInputs.stdin).toBeUndefined();
    expect(s.rawInputs.logging).toBeUndefined();
    // sshd refuses the previous output as environment without AcceptEnv (see command.ts).
    expect(s.rawInputs.addPreviousOutputInEnv).toBe(false);
    expect(s.secretInputs).not.toContain("stdin");
    // pulumi-command marks `connection` secret itself (@pulumi/command@1.2.1 remote/command.js:
    // additionalSecretOutputs: ["connection"]); stdout and stderr stay readable.
    expect(s.additionalSecretOutputs).not.toEqual(expect.arrayContaining(["stdout"]));
    expect(s.additionalSecretOutputs).not.toEqual(expect.arrayContaining(["stderr"]));
  });
});

describe("the script a step runs", () => {
  it("is published under the host's commands, as the step runs it", async () => {
    const result = await synthStep({ params: { KERNEL_ARGS: "iommu=pt" } });
    const published = result.files.get("citadel/commands/the-step.sh");
    expect(published).toMatch(/^export KERNEL_ARGS='iommu=pt'$/m);
    expect(String(byName(result, "the-step").rawInputs.create)).toContain(`\n${published}\n`);
  });
});

describe("a step with secrets", () => {
  it("reads them in one order whatever order they are given in, so its text and trigger stay the same", async () => {
    const values = { A_TOKEN: "first-value", B_TOKEN: "second-value" };
    const forward = await step({
      params: { KERNEL_ARGS: "" },
      secrets: { A_TOKEN: pulumi.secret(values.A_TOKEN), B_TOKEN: pulumi.secret(values.B_TOKEN) },
    });
    const backward = await step({
      params: { KERNEL_ARGS: "" },
      secrets: { B_TOKEN: pulumi.secret(values.B_TOKEN), A_TOKEN: pulumi.secret(values.A_TOKEN) },
    });
    expect(backward.rawInputs.create).toBe(forward.rawInputs.create);
    expect(backward.rawInputs.triggers).toEqual(forward.rawInputs.triggers);
    expect(backward.rawInputs.stdin).toBe(forward.rawInputs.stdin);
    // Fed as a secret, never logged, and what the script prints kept secret too.
    expect(forward.secretInputs).toContain("stdin");
    expect(forward.rawInputs.logging).toBe("none");
    expect(forward.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    expect(JSON.stringify(forward.inputs)).not.toContain(values.A_TOKEN);
    // Each value on the line its name is read from: the header reads the names in its order.
    const create = String(forward.rawInputs.create);
    const order = [...create.matchAll(/IFS= read -r (\w+) \|\| true; export \1/g)].map((m) => m[1]);
    expect(order).toHaveLength(2);
    expect(forward.rawInputs.stdin).toBe(order.map((n) => `${values[n as keyof typeof values]}\n`).join(""));
  });
});

describe("a step's secrets on its stdin", () => {
  /** The header's read lines, run by bash on `stdin`: what each name holds afterwards. */
  const readBack = (create: string, stdin: string, names: string[]) => {
    const reads = create.split("\n").filter((l) => l.startsWith("IFS= read -r "));
    const print = names.map((n) => `printf '%s=[%s]\\n' ${n} "$${n}"`).join("; ");
    return execFileSync("bash", ["-c", `${reads.join("\n")}\n${print}`], { input: stdin, encoding: "utf8" });
  };

  it("gives each name its own value when bash reads the header", async () => {
    const values = { A_TOKEN: "first value", B_TOKEN: "second\\value" };
    const forward = await step({
      params: { KERNEL_ARGS: "" },
      secrets: { B_TOKEN: pulumi.secret(values.B_TOKEN), A_TOKEN: pulumi.secret(values.A_TOKEN) },
    });
    expect(
      readBack(String(forward.rawInputs.create), String(forward.rawInputs.stdin), ["A_TOKEN", "B_TOKEN"]),
    ).toBe("A_TOKEN=[first value]\nB_TOKEN=[second\\value]\n");
  });

  it("refuses a secret that spans lines, naming the step and not the value: it would shift every later secret", async () => {
    const create = String(
      (await step({ params: { KERNEL_ARGS: "" }, secrets: { A_TOKEN: "x", B_TOKEN: "y" } })).rawInputs.create,
    );
    // What the refusal prevents: the second line of A's value is read as B's.
    expect(readBack(create, "line one\nline two\nb\n", ["A_TOKEN", "B_TOKEN"])).toBe(
      "A_TOKEN=[line one]\nB_TOKEN=[line two]\n",
    );
    expect(() => secretStdin("citadel-backup", ["line one\nline two", "b"])).toThrow(
      new Error("a secret passed to citadel-backup spans lines; encode it first"),
    );
    expect(() => secretStdin("citadel-backup", ["a", "line one\nline two"])).toThrow(/spans lines/);
    expect(secretStdin("citadel-backup", ["a", "b"])).toBe("a\nb\n");
    expect(secretStdin("citadel-backup", [])).toBe("");
  });
});

describe("what replaces a step", () => {
  it("is a change to its text: another parameter replaces it, the same text does not", async () => {
    const a = await step({ params: { KERNEL_ARGS: "" } });
    const same = await step({ params: { KERNEL_ARGS: "" } });
    const other = await step({ params: { KERNEL_ARGS: "iommu=pt" } });
    expect(a.rawInputs.triggers).toHaveLength(1);
    expect(same.rawInputs.triggers).toEqual(a.rawInputs.triggers);
    expect(other.rawInputs.triggers).not.toEqual(a.rawInputs.triggers);
  });

  it("is nothing for a step that must not be replaced: it has no trigger and updates in place", async () => {
    const s = await step({ params: { KERNEL_ARGS: "" }, replaceOnChange: false });
    expect(s.rawInputs.triggers).toBeUndefined();
  });
});

describe("a step on the machine running pulumi", () => {
  /** The reboot wait as nvidia.ts registers it, with one parameter that is another step's output. */
  const synthLocal = (address: string) =>
    synthLab(labConfigMap(), () => {
      localScript(
        "local-step",
        {
          script: "host/scripts/wait-for-reboot.sh",
          params: {
            REBOOT_OUTPUT: pulumi.output("changed: rebooting"),
            ADDRESS: address,
            PORT: 22,
            SSH_USER: "hxadmin",
            HOST_KEY: "ssh-ed25519 AAAA",
            TIMEOUT_SECONDS: 600,
          },
        },
        {},
      );
      return {};
    });

  it("runs its published script without sudo, replaced when its text changes and sending no previous output", async () => {
    const result = await synthLocal("192.168.10.29");
    const s = byName(result, "local-step");
    expect(s.type).toBe("command:local:Command");
    const published = result.files.get("local/commands/local-step.sh");
    expect(published).toMatch(/^export REBOOT_OUTPUT='changed: rebooting'$/m);
    const create = String(s.rawInputs.create);
    expect(create.startsWith("bash -c ")).toBe(true);
    expect(create).toContain(`\n${published}\n`);
    expect(s.rawInputs.addPreviousOutputInEnv).toBe(false);
    expect(s.rawInputs.triggers).toHaveLength(1);
    const same = byName(await synthLocal("192.168.10.29"), "local-step");
    const other = byName(await synthLocal("192.168.10.30"), "local-step");
    expect(same.rawInputs.triggers).toEqual(s.rawInputs.triggers);
    expect(other.rawInputs.triggers).not.toEqual(s.rawInputs.triggers);
  });
});
