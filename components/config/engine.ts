/**
 * The config as the Pulumi engine hands it over: the one part of config that needs
 * @pulumi/pulumi at run time, kept apart so that the command-line tools, which read stack files
 * themselves, do not load it.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseConfig } from "./load";
import { CONFIG_SOURCE_ENV, NAMESPACE, type ConfigSource, type LabSecrets } from "./source";
import type { LabConfig, PlanChecks } from "./schema";

/** Adapts the engine's config to a `ConfigSource`. */
export function pulumiConfigSource(): ConfigSource {
  const prefix = `${NAMESPACE}:`;
  const all = pulumi.runtime.allConfig();
  const config = new pulumi.Config(NAMESPACE);
  return {
    keys: () =>
      Object.keys(all)
        .filter((k) => k.startsWith(prefix))
        .map((k) => k.slice(prefix.length)),
    foreignKeys: () => Object.keys(all).filter((k) => !k.startsWith(prefix)),
    value: (key) => {
      const text = config.get(key);
      if (text === undefined) return undefined;
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    },
    isSecret: (key) => engineSecretKeys().includes(`${prefix}${key}`),
    // The engine hands the program every secret decrypted, in the map `requireSecret` reads too
    // (config.js at 3.276.0: requireSecret -> requireImpl -> getImpl -> runtime getConfig), for
    // the value checks, which ask only for keys stored as secrets. Not through `Config.get`, whose
    // "use getSecret" warning on a secret is only commented out at this version (pulumi/pulumi#7127),
    // nor `requireSecret`'s own `opts` (minLength, pattern): their errors quote the value.
    secretValue: (key) => all[`${prefix}${key}`],
  };
}

/**
 * The keys the engine marked secret, by @pulumi/pulumi's own `runtime.isConfigSecret` (internal,
 * untyped: runtime/config.js at 3.276.0, which reads the engine's PULUMI_CONFIG_SECRET_KEYS from
 * its store). No fallback of our own: should a later version drop it, loading fails loudly here
 * instead of quietly taking every secret for plain text.
 */
function engineSecretKeys(): string[] {
  const runtime = pulumi.runtime as unknown as { isConfigSecret: (k: string) => boolean };
  return Object.keys(pulumi.runtime.allConfig()).filter((k) => runtime.isConfigSecret(k));
}

/**
 * Loads the lab once: validates everything, each secret's value against its rules included, then
 * reads each set secret with `requireSecret`. Throws `LabConfigError` (no resource registered)
 * when anything is wrong; no message quotes a secret.
 */
export function loadLabConfig(
  /** The plan's cross-field rules (components/plan PlanChecker). */
  plan: PlanChecks,
  source: ConfigSource = pulumiConfigSource(),
): {
  lab: LabConfig;
  secrets: LabSecrets;
} {
  const name = process.env[CONFIG_SOURCE_ENV] ?? `Pulumi.${pulumi.getStack()}.yaml`;
  const { lab, secretKeys, warnings } = parseConfig(source, name, plan);
  // Under the engine they show in preview and up; npm start and npm run diff print their own.
  if (pulumi.runtime.hasEngine())
    for (const w of warnings) void pulumi.log.warn(`${name}: ${w.path}: ${w.message}`);
  const config = new pulumi.Config(NAMESPACE);
  const values: Record<string, pulumi.Output<string>> = {};
  for (const key of secretKeys) values[key] = config.requireSecret(key);
  return { lab, secrets: { values } };
}
