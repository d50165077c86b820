/**
 * `npm run readme`: regenerates the README's tables from the code, between
 * `<!-- generated: NAME -->` and `<!-- /generated -->` markers: the service and port registry, the
 * catalog of pins with the upstream release that checks each image, and the VRAM plan of the
 * committed stack. `tests/readme.test.ts` fails when the README differs from what this writes.
 */
import "./compile-cache";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { checkerRelease, imageOf, PINS, type PinName } from "../components/pins";
import { runDiff } from "./diff/index";
import { renderMarkdown } from "./diff/render";
import { synthesize } from "./synth/harness";
import { runLab } from "./synth/program";
import { renderServiceTable, renderVramPlan } from "./synth/report";
import { readStackFile } from "./synth/stackfile";

export const README = path.join(__dirname, "..", "README.md");

/** The catalog of pins as a table. */
export function renderPinsTable(): string {
  const rows = (Object.keys(PINS) as PinName[]).map((name) => {
    const pin = PINS[name];
    const c = pin.checker;
    const checker =
      c.kind === "go"
        ? `\`${c.module}@${c.version}\` (${Object.keys(c.binaries).join(", ")})`
        : c.kind === "pypi"
          ? `PyPI \`${c.package}==${c.version}\``
          : `none: ${c.why}`;
    const release = checkerRelease(pin);
    return `| ${name} | \`${imageOf(pin)}\` | ${pin.arches.join(", ")} | ${checker} | ${release ?? "-"} |`;
  });
  return [
    "| pin | image | arches | checked by (conformance tier) | release |",
    "|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

/** The PR comment `npm run diff --format markdown` writes for one real change: a new alert threshold and a longer context. */
export async function diffExample(stackFile: string): Promise<string> {
  const config = parse(readFileSync(stackFile, "utf8")) as {
    config: Record<string, Record<string, unknown>>;
  };
  const ladon = (config.config["citadel:ladon"] ??= {});
  ladon.thresholds = { ...(ladon.thresholds as object), gpuPowerRatio: 0.9 };
  (config.config["citadel:vllm"] as { servers: { chat: Record<string, unknown> } }).servers.chat.maxModelLen =
    40960;
  const dir = mkdtempSync(path.join(tmpdir(), "citadel-readme-"));
  try {
    const head = path.join(dir, path.basename(stackFile));
    writeFileSync(head, stringify(config));
    const { diff } = await runDiff({ baseConfig: stackFile, config: head });
    return renderMarkdown(diff, "citadel diff: origin/main → this pull request");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every generated block, by name. */
export async function generatedBlocks(stackFile = "Pulumi.citadel.yaml"): Promise<Record<string, string>> {
  const result = await synthesize({ stack: readStackFile(stackFile), program: runLab });
  return {
    "diff-example": await diffExample(stackFile),
    services: renderServiceTable(),
    pins: renderPinsTable(),
    "vram-plan": ["```", renderVramPlan(result.outputs) ?? "(no vLLM server)", "```"].join("\n"),
  };
}

/** The README with every generated block replaced; throws on a block the code does not know. */
export function fillReadme(readme: string, blocks: Record<string, string>): string {
  return readme.replace(
    /<!-- generated: ([a-z-]+) -->\n[\s\S]*?<!-- \/generated -->/g,
    (_all, name: string) => {
      const body = blocks[name];
      if (body === undefined)
        throw new Error(`README.md has a generated block "${name}" that tools/readme.ts does not know`);
      return `<!-- generated: ${name} -->\n${body}\n<!-- /generated -->`;
    },
  );
}

async function main(): Promise<number> {
  const before = readFileSync(README, "utf8");
  const after = fillReadme(before, await generatedBlocks());
  if (after !== before) writeFileSync(README, after);
  console.log(after === before ? "README.md is up to date" : "README.md regenerated");
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(`readme: ${e.message}`);
      process.exit(1);
    },
  );
}
