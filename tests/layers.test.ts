/**
 * The layers and rooms, from a plain scan of import statements (docs/architecture.md draws them).
 * Data flows config -> plan -> components -> the composition root; the shared base (the one
 * Problem type, the model catalog, pure render helpers, the lab's shared facts, the pins) sits
 * under all of them. The policy pack reads only the shared base and the plan. Operator CLIs
 * (tools/) and the tests may import the libraries (lib/); nothing outside tests/ imports tests/.
 * A cycle anywhere fails too.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.join(__dirname, "..");
const SCANNED = ["index.ts", "components", "lib", "tools", "tests", "policies"];

/** Every .ts file of the repo's own code, relative to the root, with / separators. */
function sources(): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = path.join(ROOT, rel);
    for (const e of readdirSync(abs, { withFileTypes: true })) {
      const r = path.posix.join(rel, e.name);
      if (e.isDirectory()) {
        if (e.name !== "node_modules") walk(r);
      } else if (e.name.endsWith(".ts")) out.push(r);
    }
  };
  for (const top of SCANNED) {
    if (top.endsWith(".ts")) out.push(top);
    else walk(top);
  }
  // This file quotes import statements as examples, and imports only Node's modules.
  return out.filter((f) => f !== "tests/layers.test.ts").sort();
}

/** The module specifiers a file imports: static and dynamic imports, re-exports and require. */
export function specifiers(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["']/gms,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
    /\brequire\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) found.push(m[1] as string);
  return found;
}

/** The repo file a relative specifier names, or undefined for packages and Node's modules. */
function resolve(from: string, spec: string, files: ReadonlySet<string>): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  // A `.js` specifier names the `.ts` file (node16 resolution, as tsc and tsx read it).
  const ts = base.replace(/\.js$/, ".ts");
  for (const cand of [base, ts, `${base}.ts`, `${base}/index.ts`]) if (files.has(cand)) return cand;
  throw new Error(`${from}: import "${spec}" names no file of the repo`);
}

export type Graph = Map<string, string[]>;

export function importGraph(): Graph {
  const files = sources();
  const set = new Set(files);
  const graph: Graph = new Map();
  for (const f of files) {
    const text = readFileSync(path.join(ROOT, f), "utf8");
    const targets = specifiers(text)
      .map((s) => resolve(f, s, set))
      .filter((t): t is string => t !== undefined);
    graph.set(f, [...new Set(targets)].sort());
  }
  return graph;
}

/** The program's layers, lowest first: a module may import its own layer and the ones below. */
const LAYERS: [string, (f: string) => boolean][] = [
  ["shared", (f) => f.startsWith("components/shared/") || f === "components/pins.ts"],
  ["config", (f) => f.startsWith("components/config/")],
  ["plan", (f) => f.startsWith("components/plan/")],
  ["components", (f) => f.startsWith("components/")],
  ["root", (f) => f === "index.ts"],
];

export function layerOf(f: string): number | undefined {
  const i = LAYERS.findIndex(([, is]) => is(f));
  return i < 0 ? undefined : i;
}

/** The room a file lives in. */
export function roomOf(f: string): "program" | "policies" | "lib" | "tools" | "tests" {
  if (f === "index.ts" || f.startsWith("components/")) return "program";
  const top = f.split("/")[0] as string;
  if (top === "policies" || top === "lib" || top === "tools" || top === "tests") return top;
  throw new Error(`${f} is in no room; add it to tests/layers.test.ts`);
}

/** Every import against the flow, as "from -> to: why". */
export function violations(graph: Graph): string[] {
  const out: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const why = ruleBroken(from, to);
      if (why) out.push(`${from} -> ${to}: ${why}`);
    }
  }
  return out;
}

function ruleBroken(from: string, to: string): string | undefined {
  const [a, b] = [roomOf(from), roomOf(to)];
  if (b === "tests" && a !== "tests") return "only tests import test code";
  if (a === "program") {
    if (b !== "program") return `the program imports nothing from ${b}/`;
    const [la, lb] = [layerOf(from) as number, layerOf(to) as number];
    if (lb > la)
      return `${LAYERS[la]?.[0]} imports ${LAYERS[lb]?.[0]}, against the flow (shared -> config -> plan -> components -> root)`;
    return undefined;
  }
  if (a === "policies") {
    if (b === "policies") return undefined;
    const layer = layerOf(to);
    if (b === "program" && (layer === 0 || layer === 2)) return undefined;
    return "the policy pack reads only the shared base (components/shared, components/pins.ts) and the plan";
  }
  if (a === "lib" && b === "tools") return "libraries do not import the CLIs";
  if (b === "program" && to === "index.ts") return "index.ts is the program's entry, not a library";
  return undefined;
}

/** Every cycle (as its path, first node repeated at the end); one per strongly connected set. */
export function cycles(graph: Graph): string[][] {
  const out: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, "open");
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      const s = state.get(m);
      if (s === "open") out.push([...stack.slice(stack.indexOf(m)), m]);
      else if (s === undefined) visit(m);
    }
    stack.pop();
    state.set(n, "done");
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return out;
}

describe("the import scan", () => {
  const graph = importGraph();

  it("reads every kind of import statement", () => {
    const text = [
      'import { a } from "./x";',
      'import type {\n  B,\n  C,\n} from "../y";',
      'export * from "./z";',
      'import "./side-effect";',
      'const m = await import("./lazy");',
      'const r = require("./cjs");',
    ].join("\n");
    expect(specifiers(text).sort()).toEqual(["../y", "./cjs", "./lazy", "./side-effect", "./x", "./z"]);
  });

  it("finds the program's own imports (the scan sees the code)", () => {
    expect(graph.get("index.ts")).toContain("components/lab.ts");
    expect(graph.get("components/lab.ts")).toContain("components/plan/index.ts");
    expect(graph.size).toBeGreaterThan(100);
  });

  it("has no import against the flow, and nothing outside tests/ imports tests/", () => {
    expect(violations(graph)).toEqual([]);
  });

  it("has no import cycle", () => {
    expect(cycles(graph).map((c) => c.join(" -> "))).toEqual([]);
  });

  it("catches an import against the flow, into tests, and a cycle", () => {
    const bad: Graph = new Map([
      ["components/config/schema.ts", ["components/plan/vllm.ts"]],
      ["components/plan/vllm.ts", ["components/config/schema.ts"]],
      ["lib/cli.ts", ["tests/support/lab.ts"]],
      ["policies/rules/x.ts", ["components/ladon/access.ts"]],
      ["components/lab.ts", ["lib/cli.ts"]],
      ["lib/synth/report.ts", ["tools/bench.ts"]],
    ]);
    expect(violations(bad)).toEqual([
      "components/config/schema.ts -> components/plan/vllm.ts: config imports plan, against the flow (shared -> config -> plan -> components -> root)",
      "lib/cli.ts -> tests/support/lab.ts: only tests import test code",
      "policies/rules/x.ts -> components/ladon/access.ts: the policy pack reads only the shared base (components/shared, components/pins.ts) and the plan",
      "components/lab.ts -> lib/cli.ts: the program imports nothing from lib/",
      "lib/synth/report.ts -> tools/bench.ts: libraries do not import the CLIs",
    ]);
    expect(cycles(bad)).toEqual([
      ["components/config/schema.ts", "components/plan/vllm.ts", "components/config/schema.ts"],
    ]);
  });
});
