/**
 * One key of the committed stack file changed, and what the config checks say about it: the
 * helpers of the config-check tests (tests/config-*.test.ts). Pure: no synthesis.
 */
import { LabConfigError, type ConfigProblem } from "../../components/config";
import { parseLabConfig } from "../../components/plan";
import { fromConfigMap, stackConfigSource } from "../../lib/synth/stackfile";
import { LAB_SECRETS, labConfigMap } from "./lab";

export type ConfigMap = Record<string, any>;

/**
 * `config` (the committed lab's by default) with `key` set to `value`, or deleted when `value` is
 * undefined. `key` is a namespaced dotted path as an error names it: `citadel:ladon.dataDir`.
 */
export function withKey(key: string, value: unknown, config: ConfigMap = labConfigMap()): ConfigMap {
  const [top, ...rest] = key.split(".") as [string, ...string[]];
  if (rest.length === 0) {
    if (value === undefined) delete config[top];
    else config[top] = value;
    return config;
  }
  let node = (config[top] ??= {});
  for (const p of rest.slice(0, -1)) node = node[p] ??= {};
  const last = rest[rest.length - 1] as string;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return config;
}

/** The lab the stack's config map parses to, through the same path `pulumi up` takes. */
export const loadLab = (config: ConfigMap, secrets: string[] = LAB_SECRETS) =>
  parseLabConfig(stackConfigSource(fromConfigMap(config), secrets), "Pulumi.citadel.yaml");

/** Every problem the loader reports for the config, as the operator reads it (key, message, example), or `accepted`. */
export function problemsOf(config: ConfigMap, secrets: string[] = LAB_SECRETS): ConfigProblem[] | "accepted" {
  try {
    loadLab(config, secrets);
    return "accepted";
  } catch (err) {
    if (err instanceof LabConfigError) return err.problems;
    throw err;
  }
}

/** `path: message` of every problem the config has, or `accepted`. */
export function verdict(config: ConfigMap, secrets: string[] = LAB_SECRETS): string[] | "accepted" {
  const problems = problemsOf(config, secrets);
  return problems === "accepted" ? problems : problems.map((p) => `${p.path}: ${p.message}`);
}

/** The messages of the problems at `key` or below it. */
export function messagesAt(problems: string[] | "accepted", key: string): string[] {
  if (problems === "accepted") return [];
  return problems
    .filter((p) => p.startsWith(`${key}:`) || p.startsWith(`${key}.`) || p.startsWith(`${key}[`))
    .map((p) => p.slice(p.indexOf(": ") + 2));
}

/** The messages at `key` once it is set to `value`; throws when the config is accepted. */
export function refusals(key: string, value: unknown, config?: ConfigMap): string[] {
  const problems = verdict(withKey(key, value, config));
  if (problems === "accepted") throw new Error(`${key}: ${JSON.stringify(value)} was accepted`);
  return messagesAt(problems, key);
}
