/**
 * The e2e tier's pulumi-command stand-in (tests/tiers/e2e/apply.ts), without VMs: which of the
 * program's steps it applies and in what order, how a step's output reaches a later step, and
 * that a failure names the step.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { apply, ApplyError, LOCAL, REMOTE, stdoutMarker, stepsOf, type Step } from "./tiers/e2e/apply";
import { stepParams } from "./tiers/e2e/lab";
import { synthesize } from "../lib/synth/harness";
import { runLab } from "../lib/synth/program";
import { fromConfigMap } from "../lib/synth/stackfile";
import { labConfigMap } from "./support/lab";

async function labWithMarkers() {
  return synthesize({
    stack: fromConfigMap(labConfigMap()),
    program: runLab,
    outputs: (type, name) => (type === REMOTE || type === LOCAL ? { stdout: stdoutMarker(name) } : undefined),
  });
}

function local(name: string, create: string, deps: string[] = []): Step {
  return { name, urn: `urn:${name}`, type: LOCAL, create, quiet: false, deps: deps.map((d) => `urn:${d}`) };
}

describe("the e2e apply stand-in", () => {
  it("takes every command step of the program and blocks only those that need another provider's resource", async () => {
    const result = await labWithMarkers();
    const steps = stepsOf(result.resources);
    const commands = result.resources.filter((r) => r.type === REMOTE || r.type === LOCAL);
    expect(steps.map((s) => s.name).sort()).toEqual(commands.map((r) => r.name).sort());
    const blocked = steps.filter((s) => s.blockedBy).map((s) => s.name);
    for (const name of blocked) {
      const record = commands.find((r) => r.name === name);
      const needsForeign = record?.dependsOn.some((u) => {
        const dep = result.resources.find((r) => r.urn === u);
        return dep && dep.custom && dep.type !== REMOTE && dep.type !== LOCAL;
      });
      expect({ name, needsForeign }).toEqual({ name, needsForeign: true });
    }
    expect(steps.filter((s) => !s.blockedBy).length).toBeGreaterThan(20);
  });

  it("gives the wait step the reboot step's stdout through its marker", async () => {
    const result = await labWithMarkers();
    const wait = stepParams(result, "citadel-nvidia-wait");
    expect(wait.REBOOT_OUTPUT).toBe(stdoutMarker("citadel-nvidia-reboot"));
    const step = stepsOf(result.resources).find((s) => s.name === "citadel-nvidia-wait");
    expect(step?.deps).toContain(result.resources.find((r) => r.name === "citadel-nvidia-reboot")?.urn);
  });

  it("runs steps in dependency order, hands outputs on, and names the step that failed", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "e2e-apply-"));
    try {
      const log = path.join(dir, "order");
      const steps = [
        local("c", `echo c >>${log}; echo 'got: ${stdoutMarker("a")}'`, ["a", "b"]),
        local("a", `sleep 0.3; echo a >>${log}; printf "it's a"`),
        local("b", `echo b >>${log}`),
      ];
      const results = await apply(steps, { netnsPrefix: [], env: process.env, log: () => undefined });
      const order = readFileSync(log, "utf8").trim().split("\n");
      expect(order[order.length - 1]).toBe("c");
      expect(results.find((r) => r.name === "c")?.stdout.trim()).toBe("got: it's a");

      const failing = [
        local("ok", "true"),
        local("broken", "echo boom; exit 3", ["ok"]),
        local("after", "true", ["broken"]),
      ];
      const err = await apply(failing, { netnsPrefix: [], env: process.env, log: () => undefined }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ApplyError);
      expect((err as ApplyError).message).toMatch(/step broken failed \(exit 3\):\nboom/);
      expect((err as ApplyError).results.map((r) => r.name).sort()).toEqual(["broken", "ok"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
