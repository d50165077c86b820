/** Reads a Pulumi stack file (`Pulumi.<stack>.yaml`) the way the CLI would hand it to the program. */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import {
  gatedServers,
  LabConfigSchema,
  legacyVllmProblem,
  NAMESPACE,
  PLACEHOLDER_DEVICE,
  PLACEHOLDER_HOST_KEYS,
  SECRETS,
  setSecretCommand,
  type ConfigSource,
  type ConfigProblem,
} from "../../components/config";
import { parseLabConfig } from "../../components/plan";

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
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    throw new StackFileError(`cannot read ${file}; pass --config <stack yaml> (default Pulumi.citadel.yaml)`);
  }
  return parseStackText(decodeUtf8(bytes, file), stackName(file), file);
}

/**
 * The file's text, or a refusal at the first byte that is not UTF-8 (YAML 1.2 and Pulumi read stack
 * files as UTF-8): a latin-1 "ï" would otherwise turn into U+FFFD and be blamed on a name rule.
 */
export function decodeUtf8(bytes: Buffer, source: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    // Find the first offending byte: the longest prefix that still decodes.
    let good = 0;
    let bad = bytes.length;
    while (bad - good > 1) {
      const mid = (good + bad) >> 1;
      try {
        new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, mid));
        good = mid;
      } catch {
        bad = mid;
      }
    }
    // A prefix can end inside a valid multi-byte character; back off to the character's start.
    let at = good;
    while (at > 0 && ((bytes[at] as number) & 0xc0) === 0x80) at--;
    const before = bytes.subarray(0, at).toString("utf8");
    const line = before.split("\n").length;
    const column = before.length - before.lastIndexOf("\n");
    const byte = (bytes[at] as number).toString(16).padStart(2, "0");
    throw new StackFileError(
      `${source}:${line}:${column}: byte 0x${byte} is not UTF-8 (encoding); save the file as UTF-8, or write the value in ASCII`,
    );
  }
}

/** The stack a stack file belongs to, from its name: `Pulumi.citadel.yaml` is stack `citadel`. */
export function stackName(file: string): string {
  return /^Pulumi\.([^.]+)\.ya?ml$/.exec(path.basename(file))?.[1] ?? "citadel";
}

export function parseStackText(text: string, stack: string, source = "the stack file"): StackFile {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const first = doc.errors[0];
  if (first) {
    // Only the first error: the rest follow from it (one tab gives dozens of them).
    const [line, column] = first.linePos?.[0] ? [first.linePos[0].line, first.linePos[0].col] : [0, 0];
    const tab = text.split("\n")[line - 1]?.match(/^ *\t/);
    const fixes: Partial<Record<string, string>> = {
      DUPLICATE_KEY: "Map keys must be unique: each key is written once, so merge or remove the second one",
      BAD_INDENT: "indent it with spaces like the keys beside it (YAML nests by indentation)",
      MISSING_CHAR: "close the quote or bracket opened there",
      BAD_SCALAR_START: "quote the value",
    };
    const fix = tab
      ? "YAML indents with spaces only; replace the tab with spaces"
      : (fixes[first.code] ??
        "compare the line with the ones around it: YAML nests by indentation with spaces");
    throw new StackFileError(
      `${source}:${line}:${column}: not valid YAML (${first.message.split("\n")[0]?.replace(/ at line \d+, column \d+:?$/, "")}); ${fix}`,
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
    foreignKeys: () => Object.keys(file.foreign),
  };
}

/**
 * The config's warnings (components/config/warnings.ts), as the loader gives them for this stack
 * file with its secrets stood in; none when the config is refused (the refusal says it all).
 */
export function configWarnings(file: StackFile): ConfigProblem[] {
  try {
    const source = stackConfigSource(file, Object.keys(placeholderSecrets(file)));
    return parseLabConfig(source, file.source).warnings;
  } catch {
    return [];
  }
}

/**
 * What `pulumi up` would refuse in this stack file although `npm start` can plan it: one line per
 * host for its committed stand-ins (host key, unrecorded drive serials), and one per required
 * secret the stack does not hold.
 */
export function placeholderNotes(file: StackFile): string[] {
  const notes: string[] = [];
  /** A host as written, before validation: any part may be missing or of the wrong type. */
  interface RawHost {
    address?: unknown;
    ssh?: { hostKey?: unknown };
    storage?: { disks?: { device?: unknown }[]; raids?: { members?: unknown[] }[] };
  }
  const hosts = (file.values.hosts ?? {}) as Record<string, RawHost | null>;
  for (const [name, host] of Object.entries(hosts).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!host || typeof host !== "object") continue;
    const found: string[] = [];
    if (PLACEHOLDER_HOST_KEYS.includes(String(host.ssh?.hostKey))) {
      found.push(
        `ssh.hostKey is the committed stand-in, so every command refuses to connect; pin the real key: ssh-keyscan -t ed25519 ${String(host.address)} | cut -d' ' -f2-`,
      );
    }
    const devices: string[] = [];
    (Array.isArray(host.storage?.disks) ? host.storage.disks : []).forEach((d, i) => {
      if (PLACEHOLDER_DEVICE.test(String(d?.device))) devices.push(`storage.disks[${i}].device`);
    });
    (Array.isArray(host.storage?.raids) ? host.storage.raids : []).forEach((r, i) =>
      (Array.isArray(r?.members) ? r.members : []).forEach((m, k) => {
        if (PLACEHOLDER_DEVICE.test(String(m))) devices.push(`storage.raids[${i}].members[${k}]`);
      }),
    );
    if (devices.length > 0)
      found.push(
        `${devices.join(", ")} name drives whose serials are not recorded, so the disk guard stops the run; write their paths from ls -l /dev/disk/by-id`,
      );
    if (found.length > 0)
      notes.push(`placeholder: host ${name}: ${found.join("; ")} (pulumi up would refuse)`);
  }
  const secure = new Set(file.secure);
  const specs = Object.keys(placeholderSecrets(file)).filter((k) => !secure.has(k));
  const parsed = LabConfigSchema.safeParse(file.values);
  const gated = parsed.success ? gatedServers(parsed.data) : [];
  for (const key of specs) {
    const spec = SECRETS.find((s) => s.key === key);
    const why =
      key === "huggingfaceToken" && gated.length > 0
        ? `, and ${gated.map(([name, model]) => `vllm.servers.${name}.model ${model}`).join(", ")} is gated on Hugging Face`
        : "";
    if (spec)
      notes.push(
        `placeholder: secret ${NAMESPACE}:${key} is not set in this stack${why} (pulumi up would refuse); run \`${setSecretCommand(spec)}\``,
      );
  }
  return notes;
}
