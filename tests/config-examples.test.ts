/**
 * The example the loader quotes beside a wrong value (components/config/issues.ts `exampleAt`,
 * printed by errors.ts as "(example: ...)") is the one fix an operator is told. Each must be a value
 * its own key accepts: an example that its key refuses sends the operator from one error to another.
 * The examples are found by walking the schema itself, so a key added later is covered too.
 */
import { z } from "zod";
import { LabConfigSchema } from "../components/config/schema";
import { exampleAt } from "../components/config/issues";

type AnySchema = z.core.$ZodType;
type Def = Record<string, unknown>;

interface Found {
  path: string;
  schema: AnySchema;
  example: unknown;
}

/** The schema's own layers: optional, default, pipe and readonly wrappers peeled one by one. */
function layers(schema: AnySchema): AnySchema[] {
  const out: AnySchema[] = [];
  for (let s: AnySchema | undefined = schema; s;) {
    out.push(s);
    const def = s._zod.def as unknown as Def;
    s = (def.innerType ?? def.in) as AnySchema | undefined;
  }
  return out;
}

/** Every schema under `schema` that carries an example, with the key path an error would name. */
function examples(schema: AnySchema, at: string[] = []): Found[] {
  const found: Found[] = [];
  for (const layer of layers(schema)) {
    const meta = z.globalRegistry.get(layer) as { example?: unknown } | undefined;
    if (meta?.example !== undefined && !found.some((f) => f.path === at.join(".")))
      found.push({ path: at.join("."), schema, example: meta.example });
    const def = layer._zod.def as unknown as Def;
    if (def.type === "object")
      for (const [k, v] of Object.entries(def.shape as Record<string, AnySchema>))
        found.push(...examples(v, [...at, k]));
    if (def.type === "record") found.push(...examples(def.valueType as AnySchema, [...at, "<name>"]));
    if (def.type === "array") found.push(...examples(def.element as AnySchema, [...at, "[i]"]));
    if (def.type === "union")
      for (const option of def.options as AnySchema[]) found.push(...examples(option, at));
  }
  return found;
}

/** Whether `schema` is an object or a record of objects: its example shows a shape, not a whole value. */
function isSection(schema: AnySchema): boolean {
  return layers(schema).some((l) => {
    const def = l._zod.def as unknown as Def;
    return def.type === "object" || (def.type === "record" && isSection(def.valueType as AnySchema));
  });
}

/** One example a key: the outermost, as `exampleAt` finds it (a union's own before its options'). */
const FOUND = examples(LabConfigSchema).filter((f, i, all) => all.findIndex((g) => g.path === f.path) === i);
const LEAVES = FOUND.filter((f) => !isSection(f.schema));

type Check = z.core.$ZodCheck<string>;

/** A string schema's regex check (under its wrappers, or an array's element's), and which it is. */
function patterned(schema: AnySchema): { kind: "string" | "array"; check: Check } | undefined {
  for (const l of layers(schema)) {
    const def = l._zod.def as unknown as Def;
    const check = ((def.checks ?? []) as Check[]).find(
      (c) => (c._zod.def as unknown as Def).format === "regex",
    );
    if (def.type === "string" && check) return { kind: "string", check };
    const inner = def.type === "array" ? patterned(def.element as AnySchema) : undefined;
    if (inner?.kind === "string") return { kind: "array", check: inner.check };
  }
  return undefined;
}

/** The string keys checked by a regex, each with a valid value (its example, or an array's items). */
const PATTERNED = LEAVES.flatMap((f) => {
  const p = patterned(f.schema);
  if (p?.kind === "string" && typeof f.example === "string")
    return [{ ...f, check: p.check, value: f.example, wrap: (v: string): unknown => v }];
  if (p?.kind === "array" && Array.isArray(f.example))
    return (f.example as string[]).map((value, i) => ({
      ...f,
      check: p.check,
      path: `${f.path}[${i}]`,
      value,
      wrap: (v: string): unknown => (f.example as string[]).map((e, j) => (j === i ? v : e)),
    }));
  return [];
});

describe("the examples the loader quotes", () => {
  it("are found in every section of the schema (hosts, vllm, ladon, ops)", () => {
    const sections = new Set(LEAVES.map((f) => f.path.split(".")[0]));
    expect([...sections].sort()).toEqual(expect.arrayContaining(["hosts", "ladon", "ops", "vllm"]));
    expect(LEAVES.length).toBeGreaterThan(60);
  });

  it.each(LEAVES.map((f) => [f.path, f] as const))("%s: its example is accepted by its key", (_path, f) => {
    const result = z.safeParse(f.schema, f.example);
    expect(result.error?.issues.map((i) => i.message) ?? []).toEqual([]);
  });

  it.each(LEAVES.filter((f) => !f.path.includes("[i]")).map((f) => [f.path, f] as const))(
    "%s: the loader quotes this example at its key",
    (_path, f) => {
      const path = f.path.split(".").map((s) => (s === "<name>" ? "x" : s));
      expect(exampleAt(LabConfigSchema, path)).toEqual(f.example);
    },
  );

  // A pattern without its ^ or $ takes a good value with anything before or after it. A space is
  // in no pattern's alphabet at either end, so a good value with a space before or after it must
  // break the pattern itself: its own message (its check alone), which says the rule, not zod's regex.
  it.each(PATTERNED.map((f) => [f.path, f] as const))(
    "%s: its pattern holds at both ends and says its own rule, not zod's regex",
    (_path, f) => {
      const messages = (s: AnySchema, v: unknown) =>
        z.safeParse(s, v).error?.issues.map((i) => i.message) ?? [];
      const own = (v: string) => messages(z.string().check(f.check), v);
      expect(messages(f.schema, f.wrap(f.value))).toEqual([]);
      for (const bad of [` ${f.value}`, `${f.value} `]) {
        expect(own(bad)).toHaveLength(1);
        expect(own(bad)[0]).not.toMatch(/^(Invalid|$)/);
        expect(messages(f.schema, f.wrap(bad))).toContain(own(bad)[0]);
      }
    },
  );
});
