/** The program's own secret-file steps, run as rendered on the simulated stack host. */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Ctx } from "../static";
import { expectOk } from "../static";
import { hostfs } from "../services";
import { hostNamespace } from "./harness";

/** The program's remote steps that write one secret file (ladon/scripts/secret-file.sh). */
function secretFileSteps(ctx: Ctx, host: string) {
  return ctx.lab.result.resources.filter((r) => {
    if (r.type !== "command:remote:Command") return false;
    const create = String(r.rawInputs.create ?? "");
    return (
      /^export SECRET_PATH='/m.test(create) &&
      (r.rawInputs.connection as { host?: string } | undefined)?.host === ctx.lab.config.hosts[host]?.address
    );
  });
}

/**
 * Runs each secret-file step of the stack host as rendered, in the host's namespace on the
 * simulated host's root, with the secret on stdin as the program feeds it. No container runs in
 * Docker here: a `docker` that answers nothing stands in, so no step reloads anything.
 */
export async function secretSteps(ctx: Ctx): Promise<void> {
  const host = ctx.lab.container("prometheus").host;
  const stub = path.join(ctx.dir, "no-docker");
  mkdirSync(stub, { recursive: true });
  writeFileSync(path.join(stub, "docker"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
  await ctx.run.check("secret steps", "-", "write every secret file of the stack host from stdin", () => {
    const steps = secretFileSteps(ctx, host);
    if (steps.length === 0) throw new Error(`no secret-file step for ${host}`);
    for (const r of steps) {
      const script = path.join(hostfs(ctx.dir, host), "commands", `${r.name}.sh`);
      const res = ctx.sandbox.inNamespace(
        hostNamespace(ctx, host),
        ["bash", script],
        { CITADEL_ROOT: hostfs(ctx.dir, host), PATH: `${stub}:${process.env.PATH ?? ""}` },
        String(r.rawInputs.stdin ?? ""),
      );
      expectOk(res, r.name);
    }
  });
}
