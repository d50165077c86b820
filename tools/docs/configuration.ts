/**
 * The configuration reference (docs/configuration.md), generated from the zod schema: every key's
 * type, default, range and example come from `z.toJSONSchema(LabConfigSchema)`, so they are what
 * the loader enforces. Only the sentence saying what a key is for comes from the key's JSDoc in
 * components/config/*.ts, read with the TypeScript parser; `jsdocDefaults` lets a test hold each
 * JSDoc `@default` to the schema's.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { z } from "zod";
import { LabConfigSchema } from "../../components/config/schema";

const CONFIG_DIR = path.join(__dirname, "..", "..", "components", "config");

/** A JSON Schema node as zod 4 writes it (the parts the reference reads). */
export interface Node {
  type?: string;
  const?: unknown;
  enum?: unknown[];
  anyOf?: Node[];
  properties?: Record<string, Node>;
  required?: string[];
  additionalProperties?: Node | boolean;
  propertyNames?: Node;
  items?: Node;
  default?: unknown;
  example?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  minLength?: number;
  pattern?: string;
  format?: string;
}

/** The schema as JSON Schema, input side: defaults are shown and defaulted keys are optional. */
export function labJsonSchema(): Node {
  return z.toJSONSchema(LabConfigSchema, { io: "input", unrepresentable: "any" }) as Node;
}

/** A key's JSDoc: what it is for, and its `@default` text when it has one. */
export interface KeyDoc {
  file: string;
  text: string;
  default?: string;
}

/** Identifies an object schema by its sorted key names, which is how JSON Schema and source meet. */
const shapeId = (keys: readonly string[]) => [...keys].sort().join(",");

/**
 * Every `z.strictObject({...})` / `z.object({...})` literal in components/config, by its key set,
 * with each key's JSDoc. Throws when two literals with one key set document a key differently.
 */
export function jsdocByShape(dir = CONFIG_DIR): Map<string, Map<string, KeyDoc>> {
  const out = new Map<string, Map<string, KeyDoc>>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
    const text = readFileSync(path.join(dir, file), "utf8");
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (
        ts.isCallExpression(node) &&
        ts.isPropertyAccessExpression(node.expression) &&
        ["strictObject", "object", "looseObject"].includes(node.expression.name.text) &&
        node.arguments[0] &&
        ts.isObjectLiteralExpression(node.arguments[0])
      ) {
        const props = node.arguments[0].properties.filter(ts.isPropertyAssignment);
        const names = props.map((p) => p.name.getText(source).replace(/^"|"$/g, ""));
        const docs = new Map<string, KeyDoc>();
        props.forEach((p, i) => {
          const doc = jsdocOf(text, p);
          if (doc) docs.set(names[i] as string, { file: `components/config/${file}`, ...doc });
        });
        const id = shapeId(names);
        const known = out.get(id);
        if (known) {
          for (const [k, d] of docs) {
            const other = known.get(k);
            if (other && (other.text !== d.text || other.default !== d.default))
              throw new Error(
                `two objects with keys ${id} document ${k} differently (${other.file}, ${d.file})`,
              );
            known.set(k, d);
          }
        } else out.set(id, docs);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return out;
}

/** The `/** … *\/` right before a node: its text and `@default`, on one line each. */
function jsdocOf(text: string, node: ts.Node): { text: string; default?: string } | undefined {
  const ranges = ts.getLeadingCommentRanges(text, node.pos) ?? [];
  const last = ranges.filter((r) => text.slice(r.pos, r.pos + 3) === "/**").at(-1);
  if (!last) return undefined;
  const body = text
    .slice(last.pos + 3, last.end - 2)
    .split("\n")
    .map((l) => l.replace(/^\s*\*\s?/, "").trim())
    .join(" ")
    .replace(/\s+/g, " ")
    .trim();
  const at = body.indexOf("@default");
  if (at < 0) return { text: body };
  return { text: body.slice(0, at).trim(), default: body.slice(at + "@default".length).trim() };
}

/** One key of the reference. */
export interface KeyRow {
  /** As written under `config:` in a stack file, e.g. `citadel:hosts.<host>.ssh.port`. */
  path: string;
  node: Node;
  required: boolean;
  doc?: KeyDoc;
}

/** An object of the reference: its path and its keys, in source order. */
export interface Section {
  path: string;
  keys: KeyRow[];
}

/** A record's values stand for `<host>`, `<server>`: the record's key without its plural s. */
const placeholder = (key: string) => `<${key.replace(/s$/, "")}>`;

const objectOf = (n: Node): Node | undefined => {
  if (n.properties) return n;
  if (n.type === "object" && typeof n.additionalProperties === "object" && n.additionalProperties.properties)
    return undefined;
  return undefined;
};

/** Every object in the schema, depth first, each with its keys. */
export function sections(schema = labJsonSchema(), docs = jsdocByShape()): Section[] {
  const out: Section[] = [];
  const walk = (obj: Node, at: string) => {
    const props = obj.properties ?? {};
    const shape = docs.get(shapeId(Object.keys(props)));
    const keys: KeyRow[] = Object.entries(props).map(([k, node]) => ({
      path: at === "" ? `citadel:${k}` : `${at}.${k}`,
      node,
      required: (obj.required ?? []).includes(k),
      doc: shape?.get(k),
    }));
    out.push({ path: at, keys });
    for (const key of keys) {
      const inner = childObject(key.node, key.path);
      if (inner) walk(inner.node, inner.path);
    }
  };
  walk(schema, "");
  return out;
}

/** The object inside a key: itself, each item of an array, each value of a record. */
function childObject(node: Node, at: string): { node: Node; path: string } | undefined {
  if (objectOf(node)) return { node, path: at };
  if (node.type === "array" && node.items?.properties) return { node: node.items, path: `${at}[]` };
  const values = node.additionalProperties;
  if (node.type === "object" && typeof values === "object" && values.properties) {
    const key = at.split(/[.:]/).at(-1) as string;
    return { node: values, path: `${at}.${placeholder(key)}` };
  }
  return undefined;
}

const code = (v: unknown) => `\`${typeof v === "string" ? v : JSON.stringify(v)}\``;

/** The type of a node in words: `integer`, `"ext4" \| "xfs"`, `list of string`. */
export function typeOf(n: Node): string {
  if (n.const !== undefined) return code(n.const);
  if (n.enum) return n.enum.map(code).join(" or ");
  if (n.anyOf) return n.anyOf.map(typeOf).join(" or ");
  if (n.type === "array") return `list of ${n.items ? typeOf(n.items) : "any"}`;
  if (n.type === "object") {
    if (n.properties) return "object";
    const values = n.additionalProperties;
    const keys = n.propertyNames?.enum ? ` (${n.propertyNames.enum.map(code).join(", ")})` : "";
    if (typeof values === "object") return `map${keys} of ${values.properties ? "object" : typeOf(values)}`;
    return "object";
  }
  return n.format ? `${n.type ?? "any"} (${n.format})` : (n.type ?? "any");
}

/** The range or shape a value must have, in words, or "" when its type says it all. */
export function rangeOf(n: Node): string {
  const parts: string[] = [];
  if (n.minimum !== undefined) parts.push(`≥ ${n.minimum}`);
  if (n.exclusiveMinimum !== undefined) parts.push(`> ${n.exclusiveMinimum}`);
  if (n.maximum !== undefined) parts.push(`≤ ${n.maximum}`);
  if (n.exclusiveMaximum !== undefined) parts.push(`< ${n.exclusiveMaximum}`);
  if (n.minItems !== undefined) parts.push(`at least ${n.minItems} item${n.minItems === 1 ? "" : "s"}`);
  if (n.minLength !== undefined && n.minLength > 0) parts.push("not empty");
  if (n.pattern !== undefined) parts.push(`matches ${code(n.pattern)}`);
  if (n.type === "array" && n.items) {
    const inner = rangeOf(n.items);
    if (inner) parts.push(`each ${inner}`);
  }
  if (n.anyOf) parts.push(...n.anyOf.map(rangeOf).filter((r) => r !== ""));
  const values = n.additionalProperties;
  if (n.type === "object" && typeof values === "object" && !values.properties) {
    const inner = rangeOf(values);
    if (inner) parts.push(`each value ${inner}`);
  }
  return parts.join(", ");
}

/** Markdown table cells may not hold a bare `|`. */
const cell = (s: string) => s.replace(/\|/g, "\\|");

/** docs/configuration.md's generated body. */
export function renderConfigReference(schema = labJsonSchema(), docs = jsdocByShape()): string {
  const out: string[] = [];
  for (const section of sections(schema, docs)) {
    out.push(section.path === "" ? "## Top-level keys" : `## \`${section.path}\``, "");
    out.push("| key | type | default | allowed | example | what it is |", "|---|---|---|---|---|---|");
    for (const k of section.keys) {
      const name = k.path.slice(section.path === "" ? 0 : section.path.length + 1);
      const deflt =
        k.node.default !== undefined
          ? code(k.node.default)
          : k.required
            ? "required"
            : k.doc?.default !== undefined
              ? `unset: ${k.doc.default}`
              : "unset";
      const example = k.node.example ?? k.node.anyOf?.find((a) => a.example !== undefined)?.example;
      const inner = childObject(k.node, k.path);
      const what = [k.doc?.text ?? "", inner ? `See \`${inner.path}\`.` : ""].filter((s) => s).join(" ");
      out.push(
        `| \`${name}\` | ${cell(typeOf(k.node))} | ${cell(deflt)} | ${cell(rangeOf(k.node))} | ${example === undefined ? "" : cell(code(example))} | ${cell(what)} |`,
      );
    }
    out.push("");
  }
  return out.join("\n").trimEnd();
}

/** The value a JSDoc `@default` states, when it starts with a JSON value; undefined for prose. */
export function statedDefault(text: string): { value: unknown } | undefined {
  const m = /^("(?:[^"\\]|\\.)*"|\[[^\]]*\]|\{[^}]*\}|-?\d+(?:\.\d+)?|true|false)(?=$|\s)/.exec(text);
  if (!m) return undefined;
  return { value: JSON.parse(m[1] as string) as unknown };
}
