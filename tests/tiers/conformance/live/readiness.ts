/** Each service starts from its container's command and answers its readiness path. */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Ctx } from "../static";
import { versionOf } from "../static";
import { base, get, READY, until } from "./harness";

export async function readiness(ctx: Ctx): Promise<void> {
  for (const [name, r] of Object.entries(READY)) {
    if (!ctx.tools[r.pin]) continue;
    await ctx.run.check(
      name,
      versionOf(r.pin),
      `starts from its container's command and answers ${r.path}`,
      async () => {
        await until(`${name} ready`, name === "phoenix" ? 240 : 90, () => {
          const res = get(ctx, `${base(ctx, name)}${r.path}`);
          return res.status === 200 ? true : undefined;
        }).catch((e: Error) => {
          const log = path.join(ctx.sandbox.dir, "logs", `${name}.log`);
          const tail = existsSync(log)
            ? readFileSync(log, "utf8").split("\n").slice(-25).join("\n")
            : "(no output)";
          throw new Error(`${e.message}\n${name}'s output:\n${tail}`);
        });
      },
    );
  }
}
