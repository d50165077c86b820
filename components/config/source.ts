/**
 * Where the stack's `citadel:` config comes from, and the namespace it lives in: the Pulumi engine
 * in a real run (engine.ts), a parsed stack file in `npm start`; and the secret values it yields.
 */
import type { Output } from "@pulumi/pulumi";

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
  /**
   * The plaintext of a secret the stack sets, where the source has it: the engine decrypts every
   * secret before the program starts (engine.ts). Tools that read a stack file have no values and
   * leave this out, and then no value is checked. Only the value checks (secret-checks.ts) read
   * it, for keys stored as secrets only, and nothing they report quotes it. @default none
   */
  secretValue?(key: string): string | undefined;
}

/** Set by tools that read a stack file themselves (npm start): the file errors should name. */
export const CONFIG_SOURCE_ENV = "CITADEL_CONFIG_SOURCE";

export interface LabSecrets {
  /** Secret values by key; only secrets that are set are present. */
  values: Record<string, Output<string>>;
}
