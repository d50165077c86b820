/**
 * `npm run readme`: regenerates the tables of README.md and every page under docs/ from the code,
 * between `<!-- generated: NAME -->` and `<!-- /generated -->` markers: the service and port
 * registry, the catalog of pins with the upstream release that checks each image, the VRAM plan of
 * the committed stack, the configuration reference (from the zod schema), the plan's figures and
 * the blast radius of single-knob changes. `tests/readme.test.ts` fails when a page differs from
 * what this writes; `--check` does the same without writing.
 */
import "../lib/compile-cache";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { checkerRelease, imageOf, PINS, type PinName } from "../components/pins";
import { SECRETS, setSecretCommand } from "../components/config/secrets";
import { runDiff } from "../lib/diff/run";
import { renderMarkdown } from "../lib/diff/render";
import { synthesize } from "../lib/synth/harness";
import { runLab } from "../lib/synth/program";
import { renderServiceTable, renderVramPlan } from "../lib/synth/report";
import { readStackFile } from "../lib/synth/stackfile";
import { table } from "./bench";
import { parseFlags } from "../lib/cli";
import { BLAST_HEAD, blastRadiusRows, criticalPath } from "../lib/convergence";
import { renderConfigReference } from "./docs/configuration";

const ROOT = path.join(__dirname, "..");
export const README = path.join(ROOT, "README.md");

/** The pages that may carry generated blocks: README.md and every Markdown file under docs/. */
export function docFiles(root = ROOT): string[] {
  const out = [path.join(root, "README.md")];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".md")) out.push(p);
    }
  };
  walk(path.join(root, "docs"));
  return out;
}

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

/**
 * The secrets table (README step 4), from components/config/secrets.ts: what each is for, when the
 * lab needs it, the rules its value must keep (the ones the loader checks) and the command that
 * sets a good one.
 */
export function renderSecretsTable(): string {
  const rows = SECRETS.map((s) => {
    const rules = (s.rules ?? []).map((r) => r.text).join(", ") || "-";
    return `| \`citadel:${s.key}\` | ${s.description} | ${s.neededWhen} | ${rules} | \`${setSecretCommand(s)}\` |`;
  });
  return [
    "| key | what it is | needed when | its value | set it with |",
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
export async function generatedBlocks(
  stackFile = "Pulumi.citadel.yaml",
  progress: (line: string) => void = () => undefined,
): Promise<Record<string, string>> {
  progress(`readme: planning ${stackFile}…`);
  const result = await synthesize({ stack: readStackFile(stackFile), program: runLab });
  progress("readme: the diff example…");
  const diff = await diffExample(stackFile);
  const custom = result.resources.filter((r) => r.custom);
  const cp = criticalPath(result);
  const figures = table(
    ["measure", "value"],
    [
      ["resources", `${result.resources.length} (${custom.length} provider resources)`],
      ["remote commands", String(custom.filter((r) => r.type === "command:remote:Command").length)],
      [
        "critical path",
        `${cp.length} remote steps in a chain of ${cp.chain.length} resources: ${cp.chain.join(" -> ")}`,
      ],
    ],
  );
  const blast = await blastRadiusRows(stackFile, result, (i, change) =>
    progress(`readme: blast radius ${i + 1}: ${change}…`),
  );
  return {
    "diff-example": diff,
    services: renderServiceTable(),
    pins: renderPinsTable(),
    secrets: renderSecretsTable(),
    "vram-plan": ["```", renderVramPlan(result.outputs) ?? "(no vLLM server)", "```"].join("\n"),
    configuration: renderConfigReference(),
    "plan-figures": figures,
    "blast-radius": table(BLAST_HEAD, blast),
  };
}

/** A page with every generated block replaced; throws on a block the code does not know. */
export function fillReadme(readme: string, blocks: Record<string, string>, file = "README.md"): string {
  return readme.replace(
    /<!-- generated: ([a-z-]+) -->\n[\s\S]*?<!-- \/generated -->/g,
    (_all, name: string) => {
      const body = blocks[name];
      if (body === undefined)
        throw new Error(`${file} has a generated block "${name}" that tools/readme.ts does not know`);
      return `<!-- generated: ${name} -->\n${body}\n<!-- /generated -->`;
    },
  );
}

export const HELP = {
  usage: "npm run readme -- [--check]",
  flags: {
    check: "write nothing; list the pages whose generated blocks differ from the code, and exit 1 if any",
  },
  exits: {
    0: "every page is up to date (or was regenerated)",
    1: "with --check: a page is stale; without: something went wrong (the message says what)",
    2: "bad flags",
  },
};

async function main(): Promise<number> {
  const { check } = parseFlags(process.argv.slice(2), {}, ["check"], HELP);
  const blocks = await generatedBlocks(undefined, (l) => console.error(l));
  let stale = 0;
  for (const file of docFiles()) {
    const rel = path.relative(ROOT, file);
    const before = readFileSync(file, "utf8");
    const after = fillReadme(before, blocks, rel);
    if (after === before) continue;
    stale++;
    if (check) console.log(`${rel} is stale: run npm run readme`);
    else {
      writeFileSync(file, after);
      console.log(`${rel} regenerated`);
    }
  }
  if (stale === 0) console.log("README.md and docs/ are up to date");
  return check && stale > 0 ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(`readme: ${e.message}`);
      process.exit(e.name === "StackFileError" ? 2 : 1);
    },
  );
}
