/**
 * The stack's secrets checked against the secrets table (secrets.ts): each secret key stored as a
 * secret and nothing else, and every secret the lab needs set.
 */
import type { LabConfig } from "./schema";
import { describeSecret, gatedServers, SECRETS, setSecretCommand, type SecretSpec } from "./secrets";
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
