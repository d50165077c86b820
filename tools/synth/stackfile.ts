/** Reads a Pulumi stack file (`Pulumi.<stack>.yaml`) the way the CLI would hand it to the program. */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import {
  LabConfigSchema,
  legacyVllmProblem,
  NAMESPACE,
  SECRETS,
  type ConfigSource,
} from "../../components/config";

export interface StackFile {
  /** Stack name from the file name: `Pulumi.citadel.yaml` is stack `citadel`. */
  stack: string;
  /** Plain values under `citadel:`, without the namespace. */
  values: Record<string, unknown>;
  /** Keys stored as `secure:` (encrypted); `npm start` cannot read them. */
  secure: string[];
  /** Each `secure:` key's ciphertext: a changed ciphertext is a changed secret. @default {} */
  ciphertexts?: Record<string, string>;
  /** Keys of other namespaces (e.g. `pulumi:tags`), passed through untouched. */
  foreign: Record<string, unknown>;
  /** The file it was read from, named in config errors. @default none */
  source?: string;
}

export class StackFileError extends Error {}

export function readStackFile(file: string): StackFile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new StackFileError(`cannot read ${file}; pass --config <stack yaml> (default Pulumi.citadel.yaml)`);
  }
  return parseStackText(text, stackName(file), file);
}

/** The stack a stack file belongs to, from its name: `Pulumi.citadel.yaml` is stack `citadel`. */
export function stackName(file: string): string {
  return /^Pulumi\.([^.]+)\.ya?ml$/.exec(path.basename(file))?.[1] ?? "citadel";
}

export function parseStackText(text: string, stack: string, source = "the stack file"): StackFile {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new StackFileError(
      `${source} is not valid YAML:\n${doc.errors.map((e) => `  - ${e.message}`).join("\n")}`,
    );
  }
  const root = (doc.toJS() ?? {}) as { config?: Record<string, unknown> } | null;
  if (!root || typeof root !== "object" || !root.config || Object.keys(root.config).length === 0) {
    throw new StackFileError(
      `${source} is empty or has no config: section; it needs one with at least citadel:hosts (see Pulumi.citadel.yaml)`,
    );
  }
  return { ...fromConfigMap(root.config, stack), source };
}

/** Splits a stack's `config:` map into plain values, secure keys and other namespaces. */
export function fromConfigMap(config: Record<string, unknown>, stack = "citadel"): StackFile {
  const values: Record<string, unknown> = {};
  const secure: string[] = [];
  const ciphertexts: Record<string, string> = {};
  const foreign: Record<string, unknown> = {};
  for (const [fullKey, value] of Object.entries(config)) {
    const [ns, key] = fullKey.includes(":") ? fullKey.split(/:(.*)/s) : [NAMESPACE, fullKey];
    if (ns !== NAMESPACE || key === undefined) {
      foreign[fullKey] = value;
      continue;
    }
    if (value !== null && typeof value === "object" && "secure" in value && Object.keys(value).length === 1) {
      secure.push(key);
      ciphertexts[key] = String((value as { secure: unknown }).secure);
    } else values[key] = value;
  }
  return { stack, values, secure, ciphertexts, foreign };
}

/**
 * Placeholders for the secrets `npm start` cannot have: those stored `secure:` and the required
 * ones that are absent. Optional secrets that are absent stay absent, so the plan is the one a
 * real run would make. Values are clearly marked and never real.
 */
export function placeholderSecrets(file: StackFile): Record<string, string> {
  // A secret stored in plaintext is the loader's to report; it must not also hide which secrets
  // the rest of the lab requires (it would fail this parse as an unknown key).
  const secretKeys = new Set(SECRETS.map((s) => s.key));
  const plain = Object.fromEntries(Object.entries(file.values).filter(([k]) => !secretKeys.has(k)));
  // A single-server vllm section is the loader's to report, with its migration; as there, the
  // rest of the lab is read without it.
  if (legacyVllmProblem(plain.vllm)) delete plain.vllm;
  const parsed = LabConfigSchema.safeParse(plain);
  const required = parsed.success ? SECRETS.filter((s) => s.required(parsed.data)).map((s) => s.key) : [];
  // A secret set in plaintext keeps its value, so that the loader reports it as plaintext.
  const keys = [...new Set([...file.secure, ...required])].filter((k) => !(k in file.values)).sort();
  return Object.fromEntries(keys.map((k) => [k, placeholderValue(k)]));
}

export function placeholderValue(key: string): string {
  // With a digit and lowercase letters, as Phoenix demands of its secret.
  return `PLACEHOLDER-${NAMESPACE}-${key}-set-by-npm-start-0`;
}

/** A `ConfigSource` over a stack file, as the engine would present it; `secrets` are the secret keys set. */
export function stackConfigSource(file: StackFile, secrets: readonly string[] = []): ConfigSource {
  return {
    keys: () => [...Object.keys(file.values), ...file.secure, ...secrets],
    value: (key) => file.values[key],
    isSecret: (key) => file.secure.includes(key) || secrets.includes(key),
  };
}
