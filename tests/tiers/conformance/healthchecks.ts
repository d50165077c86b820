/**
 * Every rendered container healthcheck, run against the real service: the exact command the
 * program gives Docker (the container resource's `healthcheck.tests`), in the running service's
 * network namespace and root, within the healthcheck's own timeout. A wrong port, path, flag or
 * login fails here, where with `wait: true` it would hang `pulumi up`.
 *
 * The command's program comes from the upstream build of the same release where the release ships
 * it (promtool, amtool, loki; the Python image's interpreter is the build's venv). The images'
 * generic tools (components/pins.ts `healthTools`) are this machine's: busybox's wget for the
 * busybox-based images' wget, bash for the Ubuntu-based image's bash.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { PINS, type PinName } from "../../../components/pins";
import type { Ctx } from "./static";
import { versionOf } from "./static";
import { serviceRun } from "./services";

/** This machine's stand-in for an image's generic tool: the argv that runs it. */
const STAND_INS: Record<string, string[]> = {
  wget: ["/usr/bin/busybox", "wget"],
  bash: ["/usr/bin/bash"],
  sh: ["/bin/sh"],
};

/** The healthcheck the program registers for container `name`, as Docker runs it. */
export function registeredHealthcheck(
  ctx: Pick<Ctx, "lab">,
  name: string,
): { tests: string[]; timeoutMs: number } {
  const r = ctx.lab.result.resources.find(
    (x) => x.type === "docker:index/container:Container" && x.rawInputs.name === name,
  );
  const hc = r?.rawInputs.healthcheck as { tests?: string[]; timeout?: string } | undefined;
  if (!hc?.tests || hc.tests[0] !== "CMD") throw new Error(`${name} has no CMD healthcheck`);
  const seconds = Number(/^(\d+)s$/.exec(hc.timeout ?? "")?.[1] ?? 30);
  return { tests: hc.tests.slice(1), timeoutMs: seconds * 1000 };
}

/** Runs each running service's registered healthcheck; every one must exit 0. */
export async function healthcheckChecks(ctx: Ctx, live: Record<string, PinName>): Promise<void> {
  for (const [name, pin] of Object.entries(live)) {
    const tool = ctx.tools[pin];
    if (!tool) continue;
    await ctx.run.check(name, versionOf(pin), "its registered healthcheck passes against it", async () => {
      const { tests, timeoutMs } = registeredHealthcheck(ctx, name);
      const [program, ...args] = tests as [string, ...string[]];
      const base = path.basename(program);
      const facts = PINS[pin];
      const c = ctx.lab.container(name);
      let spec;
      if (facts.checker.kind === "pypi" && base === "python3") {
        spec = serviceRun(ctx.dir, c, pin, tool, { sandboxName: name, argv: args }).spec;
      } else if (existsSync(tool.bin(base))) {
        spec = serviceRun(ctx.dir, c, pin, tool, { sandboxName: name, binary: base, argv: args }).spec;
      } else if ((facts.image.healthTools as readonly string[]).includes(base) && STAND_INS[base]) {
        spec = serviceRun(ctx.dir, c, pin, tool, { sandboxName: name, argv: args }).spec;
        spec.argv = [...(STAND_INS[base] as string[]), ...args];
      } else {
        throw new Error(
          `${name}'s healthcheck runs ${program}, which neither the build nor this machine provides`,
        );
      }
      const r = await ctx.sandbox.run(spec, timeoutMs);
      if (r.code !== 0)
        throw new Error(
          `${name}'s healthcheck (${tests.join(" ")}) exited ${r.code} within ${timeoutMs / 1000} s:\n${`${r.stdout}${r.stderr}`.trim()}`,
        );
    });
  }
}
