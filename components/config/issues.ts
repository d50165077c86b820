/**
 * zod's issues as config problems: an unknown key with the nearest known one (typo detection), a
 * key with two namespaces, a bad record key, a union reported once, each with the schema's example.
 */
import { z } from "zod";
import { LabConfigSchema } from "./schema";
import { formatPath, type ConfigProblem } from "./errors";
import { NAMESPACE } from "./source";
import { closest } from "./warnings";

export function issueToProblems(issue: z.core.$ZodIssue): ConfigProblem[] {
  if (issue.code === "unrecognized_keys") {
    const known = knownKeysAt(LabConfigSchema, issue.path);
    return issue.keys.map((key) => {
      const [head, ...rest] = key.split(":");
      // `citadel:vllm:servers` is a key "vllm:servers": a colon where the section's nesting was meant.
      if (issue.path.length === 0 && rest.length > 0 && head !== undefined && known.includes(head)) {
        return {
          path: formatPath([...issue.path, key]),
          message: `a key has one namespace; write ${NAMESPACE}:${head} and nest ${rest.join(".")} under it`,
        };
      }
      const near = closest(head ?? key, known);
      return {
        path: formatPath([...issue.path, key]),
        message: `unknown key "${key}" (${near ? `did you mean "${near}"?` : "a typo?"}); known keys here: ${known.join(", ")}`,
      };
    });
  }
  if (issue.code === "invalid_key" && issue.issues.length > 0) {
    // zod says only "Invalid key in record"; the rule the key broke is in its own issues.
    const key = String(issue.path[issue.path.length - 1] ?? "");
    return [
      {
        path: formatPath(issue.path),
        message: `the name ${JSON.stringify(key)} is not allowed: ${issue.issues.map((i) => i.message).join("; ")}`,
      },
    ];
  }
  if (issue.code === "invalid_union" && issue.errors.length > 0) {
    // Report the union once, with the schema's example, instead of one line per branch.
    return [
      {
        path: formatPath(issue.path),
        message: "is not one of the accepted forms",
        example: exampleAt(LabConfigSchema, issue.path),
      },
    ];
  }
  const crossField =
    issue.code === "custom" && (issue.params as { crossField?: boolean } | undefined)?.crossField;
  const example = crossField ? undefined : exampleAt(LabConfigSchema, issue.path);
  return [{ path: formatPath(issue.path), message: issue.message, example }];
}

type AnySchema = z.core.$ZodType;

/** Peels optional/default/pipe wrappers, collecting each layer so meta can be found on any. */
function layers(schema: AnySchema): AnySchema[] {
  const out: AnySchema[] = [];
  let current: AnySchema | undefined = schema;
  while (current) {
    out.push(current);
    const def = current._zod.def as unknown as Record<string, unknown>;
    current = (def.innerType ?? def.in ?? undefined) as AnySchema | undefined;
  }
  return out;
}

function childAt(schema: AnySchema, segment: PropertyKey): AnySchema | undefined {
  for (const layer of layers(schema)) {
    const def = layer._zod.def as unknown as Record<string, unknown>;
    if (def.type === "object") return (def.shape as Record<string, AnySchema>)[String(segment)];
    if (def.type === "record") return def.valueType as AnySchema;
    if (def.type === "array") return def.element as AnySchema;
  }
  return undefined;
}

function schemaAt(schema: AnySchema, path: readonly PropertyKey[]): AnySchema | undefined {
  let current: AnySchema | undefined = schema;
  for (const seg of path) current = current && childAt(current, seg);
  return current;
}

/** The `example` meta of the schema at `path`, if any. */
export function exampleAt(schema: AnySchema, path: readonly PropertyKey[]): unknown {
  const target = schemaAt(schema, path);
  if (!target) return undefined;
  for (const layer of layers(target)) {
    const meta = z.globalRegistry.get(layer) as { example?: unknown } | undefined;
    if (meta?.example !== undefined) return meta.example;
  }
  return undefined;
}

function knownKeysAt(schema: AnySchema, path: readonly PropertyKey[]): string[] {
  const target = schemaAt(schema, path);
  for (const layer of target ? layers(target) : []) {
    const def = layer._zod.def as unknown as Record<string, unknown>;
    if (def.type === "object") return Object.keys(def.shape as object).sort();
  }
  return [];
}
