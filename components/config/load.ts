/**
 * Reads the stack's `citadel:` config through the one schema. On bad input it reports every
 * problem at once, each with its key path, what is wrong and a valid example, and throws before
 * the program registers a single resource.
 */
import type { Output } from "@pulumi/pulumi";
import { stringify } from "yaml";
import { z } from "zod";
import type { Problem } from "../shared/problem";
import { LabConfigSchema, labSchemaWith, type LabConfig, type PlanChecks } from "./schema";
import { gatedServers, SECRETS, setSecretCommand, type SecretSpec } from "./secrets";
import { SERVER_KEYS } from "./vllm";
import { closest, labWarnings, namespaceFindings } from "./warnings";

export const NAMESPACE = "citadel";

/** Where config comes from: the Pulumi engine in a real run, a parsed stack file in `npm start`. */
export interface ConfigSource {
  /** Every key of the `citadel:` namespace that the stack sets, without the namespace. */
  keys(): string[];
  /** The value of a plain key, JSON-decoded when it is structured. */
  value(key: string): unknown;
  /** Whether the stack stores the key as a secret. */
  isSecret(key: string): boolean;
  /** Every key of other namespaces, in full (`pulumi:tags`, `citdel:vllm`). @default none */
  foreignKeys?(): string[];
}

/** A problem placed at its full config path, e.g. `citadel:hosts.citadel.address`. */
export type ConfigProblem = Problem<string>;

/**
 * A config error that the engine prints as its message alone. It is not a `pulumi.RunError`, so
 * that config does not load all of @pulumi/pulumi (about a second of every command-line tool's
 * start): the engine hides the stack of any error for which `RunError.isInstance` holds
 * (@pulumi/pulumi@3.276.0 cmd/run/run.js), and that is this member being `true` (errors.js
 * `isInstance(obj, "__pulumiRunError")`, utils.js `hasTrueBooleanMember`).
 */
export class LabConfigError extends Error {
  readonly __pulumiRunError = true;
  constructor(
    readonly problems: ConfigProblem[],
    source: string,
  ) {
    super(formatProblems(problems, source));
    this.name = "LabConfigError";
  }
}

export function formatProblems(problems: ConfigProblem[], source: string): string {
  const lines = problems.map((p) => {
    const ex = p.example === undefined ? "" : ` (example: ${JSON.stringify(p.example)})`;
    return `  - ${p.path}: ${p.message}${ex}`;
  });
  const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
  return `Invalid lab config in ${source} (${count}); nothing was applied:\n${lines.join("\n")}`;
}

export interface LoadedConfig {
  lab: LabConfig;
  /** The secrets this lab needs and the stack has, plus optional ones that are set. */
  secretKeys: string[];
  /** Settings that are legal but probably not meant; they never stop a run. */
  warnings: ConfigProblem[];
}

/** Set by tools that read a stack file themselves (npm start): the file errors should name. */
export const CONFIG_SOURCE_ENV = "CITADEL_CONFIG_SOURCE";

/**
 * Validates the whole namespace, with the plan's cross-field rules handed in. Pure: it never
 * touches the engine. The plan layer's `parseLabConfig` (components/plan) is the one to call.
 */
export function parseConfig(
  source: ConfigSource,
  sourceName: string,
  /** The plan's cross-field rules (components/plan PlanChecker). */
  plan: PlanChecks,
): LoadedConfig {
  const problems: ConfigProblem[] = [];
  const raw: Record<string, unknown> = {};
  const secretKeysSet: string[] = [];
  const namespaces = namespaceFindings(source.foreignKeys?.() ?? [], NAMESPACE);
  problems.push(...namespaces.problems);
  for (const key of source.keys().sort()) {
    const spec = SECRETS.find((s) => s.key === key);
    if (spec) {
      if (!source.isSecret(key)) {
        problems.push({
          path: `${NAMESPACE}:${key}`,
          message: `is stored in plaintext; remove it with \`pulumi config rm ${NAMESPACE}:${key}\` and set it again with \`${setSecretCommand(spec)}\``,
        });
      } else secretKeysSet.push(key);
      continue;
    }
    if (source.isSecret(key)) {
      problems.push({
        path: `${NAMESPACE}:${key}`,
        message: `is stored as a secret but is not one; set it in plaintext with \`pulumi config set --path ${NAMESPACE}:${key} ...\``,
      });
      continue;
    }
    raw[key] = source.value(key);
  }

  const legacy = legacyVllmProblem(raw.vllm);
  if (legacy) {
    problems.push(legacy);
    delete raw.vllm;
  }
  const parsed = labSchemaWith(plan).safeParse(raw);
  if (!parsed.success) {
    // One mistake, one message: a value that breaks its pattern also breaks the rules after it
    // (a subnet that is not one has no host bits to report), so each key keeps its first problem.
    const seen = new Set<string>();
    for (const p of parsed.error.issues.flatMap(issueToProblems)) {
      if (seen.has(p.path)) continue;
      seen.add(p.path);
      problems.push(p);
    }
  }

  if (parsed.success) {
    for (const spec of SECRETS) {
      // A plaintext one is already reported, with how to set it as a secret.
      const inPlaintext = source.keys().includes(spec.key);
      if (spec.required(parsed.data) && !secretKeysSet.includes(spec.key) && !inPlaintext) {
        problems.push(missingSecret(spec, parsed.data));
      }
    }
  }
  if (problems.length > 0 || !parsed.success) throw new LabConfigError(problems, sourceName);
  const warnings: ConfigProblem[] = [
    ...namespaces.warnings,
    ...labWarnings(parsed.data).map((w) => ({ path: formatPath(w.path), message: w.message })),
  ];
  return { lab: parsed.data, secretKeys: secretKeysSet, warnings };
}

/**
 * A `citadel:vllm` written for one server (its keys at the top, before `servers` existed). The
 * migration is one move: the server's keys go under `servers.<name>`; the problem prints the
 * section as it should read, with the name `chat` (or `embed`/`rerank` after its kind).
 */
export function legacyVllmProblem(section: unknown): ConfigProblem | undefined {
  if (typeof section !== "object" || section === null || Array.isArray(section)) return undefined;
  const entries = Object.entries(section as Record<string, unknown>);
  const moved = entries.filter(([k]) => SERVER_KEYS.includes(k));
  if (moved.length === 0) return undefined;
  const shared = Object.fromEntries(entries.filter(([k]) => !SERVER_KEYS.includes(k) && k !== "servers"));
  const server = Object.fromEntries(moved);
  const kind = typeof server.kind === "string" ? server.kind : "generate";
  const name = kind === "generate" ? "chat" : kind;
  // The single server used port 8000 by default; a server now names its own.
  if (server.port === undefined) server.port = 8000;
  const migrated = stringify(
    { [`${NAMESPACE}:vllm`]: { ...shared, servers: { [name]: server } } },
    { indent: 2 },
  );
  return {
    path: `${NAMESPACE}:vllm`,
    message:
      `${moved.map(([k]) => k).join(", ")} now belong to one server under ${NAMESPACE}:vllm.servers.<name>, ` +
      `so that several models can run side by side (README, "vLLM servers"). Move them there; ` +
      `the section then reads:\n${migrated.trimEnd().replace(/^/gm, "      ")}\n    ` +
      `The server's container becomes vllm-${name}: the first pulumi up after the move replaces the old vllm container once (the model cache is kept).`,
  };
}

export function missingSecret(spec: SecretSpec, lab?: LabConfig): ConfigProblem {
  const gated = spec.key === "huggingfaceToken" && lab ? gatedServers(lab) : [];
  if (gated.length > 0) {
    const which = gated.map(([name, model]) => `vllm.servers.${name}.model ${model}`).join(", ");
    return {
      path: `${NAMESPACE}:${spec.key}`,
      message: `required secret is not set: ${which} is gated on Hugging Face, so vLLM can download it only with the token of an account that accepted its terms (https://huggingface.co/${gated[0]?.[1]}); accept them, then run \`${setSecretCommand(spec)}\``,
    };
  }
  return {
    path: `${NAMESPACE}:${spec.key}`,
    message: `required secret is not set (${spec.description}); run \`${setSecretCommand(spec)}\``,
  };
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = NAMESPACE + ":";
  path.forEach((seg, i) => {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += (i === 0 ? "" : ".") + String(seg);
  });
  return out;
}

function issueToProblems(issue: z.core.$ZodIssue): ConfigProblem[] {
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

export interface LabSecrets {
  /** Secret values by key; only secrets that are set are present. */
  values: Record<string, Output<string>>;
}
