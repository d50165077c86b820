/** A firing rule reaches Alertmanager and its webhook receiver. */
import { existsSync, readFileSync } from "node:fs";
import type { Ctx } from "../static";
import { withTool } from "../static";
import { until } from "./harness";

export async function alertChecks(ctx: Ctx, received: string): Promise<void> {
  await withTool(
    ctx,
    "alertmanager",
    "alertmanager",
    "a firing rule reaches Alertmanager and its webhook receiver",
    async () => {
      await until("the forced alert delivered to the webhook", 180, () => {
        if (!existsSync(received)) return undefined;
        const hits = readFileSync(received, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { alerts: { labels: Record<string, string>; status: string }[] });
        return hits.some((h) =>
          h.alerts.some((a) => a.labels.alertname === "ConformanceForcedAlert" && a.status === "firing"),
        )
          ? true
          : undefined;
      });
    },
  );
}
