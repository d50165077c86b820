/** The node exporter reads the textfile metrics, and Prometheus scrapes them. */
import type { Ctx } from "../static";
import { withTool } from "../static";
import { base, get, instant, until } from "./harness";

export async function nodeExporterChecks(ctx: Ctx): Promise<void> {
  await withTool(
    ctx,
    "nodeExporter",
    "node_exporter",
    "reads the textfile metrics, and Prometheus scrapes them",
    async () => {
      for (const metric of [
        "citadel_lvm_vg_size_bytes",
        "citadel_data_dir_bytes",
        "citadel_vllm_baseline_seconds",
      ]) {
        await until(`${metric} in Prometheus`, 90, () =>
          instant(ctx, metric).length > 0 ? true : undefined,
        );
      }
      const m = get(ctx, `${base(ctx, "node-exporter")}/metrics`).body;
      if (/^node_textfile_scrape_error 1$/m.test(m)) throw new Error("node_textfile_scrape_error is 1");
    },
  );
}
