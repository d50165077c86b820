/**
 * The stack's secrets checked against the secrets table (secrets.ts): each secret key stored as a
 * secret and nothing else, every secret the lab needs set, and every value that is there keeping
 * its rules.
 */
import type { LabConfig } from "./schema";
import {
  describeSecret,
  gatedServers,
  SECRETS,
  secretValueProblem,
  setSecretCommand,
  type SecretSpec,
} from "./secrets";
import type { ConfigProblem } from "./errors";
import { NAMESPACE, type ConfigSource } from "./source";

/**
 * The stack's keys split into plain values and set secrets, with a problem for a secret stored in
 * plaintext and for a plain key stored as a secret.
 */
export function sortSecrets(source: ConfigSource): {
  raw: Record<string, unknown>;
  secretKeys: string[];
  problems: ConfigProblem[];
} {
  const problems: ConfigProblem[] = [];
  const raw: Record<string, unknown> = {};
  const secretKeysSet: string[] = [];
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
  return { raw, secretKeys: secretKeysSet, problems };
}

/**
 * A problem for each set secret whose value breaks a rule of its own (secrets.ts `rules`), naming
 * the rules and the command that sets a good one. Values come from `source.secretValue`, which
 * only the engine has (under `npm start` they are its placeholders); without it nothing is checked.
 * No message holds the value or any part of it: only the rules' fixed texts.
 */
export function secretValueProblems(source: ConfigSource, secretKeys: readonly string[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const spec of SECRETS) {
    if (!secretKeys.includes(spec.key)) continue;
    const value = source.secretValue?.(spec.key);
    if (value === undefined) continue;
    const problem = secretValueProblem(spec, value);
    if (problem)
      problems.push({
        path: `${NAMESPACE}:${spec.key}`,
        message: `${problem}; set another with \`${setSecretCommand(spec)}\``,
      });
  }
  return problems;
}

/** Every secret the parsed lab needs that the stack does not set (one in plaintext is already reported). */
export function missingSecrets(source: ConfigSource, lab: LabConfig, secretKeys: string[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const spec of SECRETS) {
    // A plaintext one is already reported, with how to set it as a secret.
    const inPlaintext = source.keys().includes(spec.key);
    if (spec.required(lab) && !secretKeys.includes(spec.key) && !inPlaintext) {
      problems.push(missingSecret(spec, lab));
    }
  }
  return problems;
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
    message: `required secret is not set (${describeSecret(spec)}); run \`${setSecretCommand(spec)}\``,
  };
}
