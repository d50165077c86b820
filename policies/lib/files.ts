/** The config files citadel's steps write to hosts, read back from the steps' parameters. */
import type { PolicyResource } from "@pulumi/policy";
import { scriptParams, TYPES } from "./resources";

/** Every file a service-files step writes, by host path. */
export function renderedFiles(resources: PolicyResource[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of resources) {
    if (r.type !== TYPES.remoteCommand) continue;
    const params = scriptParams(r.props.create);
    if (params.FILES === undefined) continue;
    let files: Record<string, string>;
    try {
      files = JSON.parse(params.FILES) as Record<string, string>;
    } catch {
      continue;
    }
    for (const [name, content] of Object.entries(files))
      out.set(`${params.CONFIG_DIR ?? ""}/${name}`, content);
  }
  return out;
}

/** The first rendered file whose path ends with `suffix`. */
export function fileEndingWith(files: Map<string, string>, suffix: string): string | undefined {
  for (const [p, content] of files) if (p.endsWith(suffix)) return content;
  return undefined;
}
