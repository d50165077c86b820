/**
 * hostScript as the engine receives it: which steps carry secrets and how, what replaces a step,
 * and what a step without secrets leaves visible. Each test synthesises its own small program, so
 * a mutant in components/remote/command.ts runs only the tests that reach it.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseLabConfig } from "../components/plan";
import { hostScript, hostTarget, type HostScriptArgs } from "../components/remote";
import type { ResourceRecord } from "../lib/synth/harness";
import { fromConfigMap, stackConfigSource } from "../lib/synth/stackfile";
import { LAB_SECRETS, labConfigMap } from "./support/lab";
import { byName, synthLab } from "./support/synth";

/** Registers one step on citadel with the given parameters and secrets, and returns it as recorded. */
async function step(
  args: Pick<HostScriptArgs, "params" | "secrets" | "replaceOnChange">,
): Promise<ResourceRecord> {
  const result = await synthLab(labConfigMap(), () => {
    const { lab } = parseLabConfig(stackConfigSource(fromConfigMap(labConfigMap()), LAB_SECRETS));
    hostScript(
      "the-step",
      { host: hostTarget("citadel", lab.hosts.citadel!), script: "host/scripts/nvidia-iommu.sh", ...args },
      {},
    );
    return {};
  });
  return byName(result, "the-step");
}

describe("a step without secrets", () => {
  it("feeds nothing on stdin, keeps its logs and leaves its outputs visible", async () => {
    const s = await step({ params: { KERNEL_ARGS: "" } });
    expect(s.rawInputs.stdin).toBeUndefined();
    expect(s.rawInputs.logging).toBeUndefined();
    expect(s.secretInputs).not.toContain("stdin");
    // pulumi-command marks `connection` secret itself (@pulumi/command@1.2.1 remote/command.js:
    // additionalSecretOutputs: ["connection"]); stdout and stderr stay readable.
    expect(s.additionalSecretOutputs).not.toEqual(expect.arrayContaining(["stdout"]));
    expect(s.additionalSecretOutputs).not.toEqual(expect.arrayContaining(["stderr"]));
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
    // Each value on the line its name is read from: the header reads the names in its order.
    const create = String(forward.rawInputs.create);
    const order = [...create.matchAll(/IFS= read -r (\w+) \|\| true; export \1/g)].map((m) => m[1]);
    expect(order).toHaveLength(2);
    expect(forward.rawInputs.stdin).toBe(order.map((n) => `${values[n as keyof typeof values]}\n`).join(""));
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
