import type { StackValidationPolicy } from "@pulumi/policy";
import { parse } from "yaml";
import { fileEndingWith, renderedFiles } from "../lib/files";
import { labelOf, LABELS, providerAddress, serviceOf, TYPES } from "../lib/resources";

/** Every target in a Prometheus config, as host:port. */
export function scrapeTargets(prometheusYml: string): Set<string> {
  const config = parse(prometheusYml) as { scrape_configs?: { static_configs?: { targets?: string[] }[] }[] };
  return new Set(
    (config.scrape_configs ?? []).flatMap((j) => (j.static_configs ?? []).flatMap((s) => s.targets ?? [])),
  );
}

export const requireScrapeCoverage: StackValidationPolicy = {
  name: "require-scrape-coverage",
  description:
    "Every service and exporter that exposes metrics is a target in the rendered Prometheus config, because an unscraped service is a blind spot that no dashboard or alert can cover.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const files = renderedFiles(args.resources);
    const prometheus = fileEndingWith(files, "/prometheus.yml");
    const exposing = args.resources.filter(
      (r) => r.type === TYPES.container && labelOf(r.props, LABELS.metricsPort),
    );
    if (!prometheus) {
      if (exposing.length > 0) report("services expose metrics but no Prometheus config is rendered.");
      return;
    }
    const targets = scrapeTargets(prometheus);
    for (const r of exposing) {
      const port = Number(labelOf(r.props, LABELS.metricsPort));
      const name = String(r.props.name ?? "");
      const address = providerAddress(r.provider?.props.host);
      const published = ((r.props.ports ?? []) as { internal: number; external: number }[]).find(
        (p) => Number(p.internal) === port,
      )?.external;
      const candidates = [
        `${name}:${port}`,
        ...(serviceOf(r.props) === "prometheus" ? [`localhost:${port}`] : []),
        ...(address && r.props.networkMode === "host" ? [`${address}:${port}`] : []),
        ...(address && published ? [`${address}:${published}`] : []),
      ];
      if (!candidates.some((c) => targets.has(c))) {
        report(
          `${serviceOf(r.props)} exposes metrics on port ${port} but Prometheus scrapes none of ${candidates.join(", ")}.`,
          r.urn,
        );
      }
    }
  },
};
