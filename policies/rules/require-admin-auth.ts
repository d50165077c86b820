import type { ResourceValidationPolicy } from "@pulumi/policy";
import { envMap, flagValue, scriptParams, serviceOf, TYPES } from "../lib/resources";

interface Config {
  minPasswordLength: number;
  weakPasswords: string[];
}

function weakness(value: string | undefined, cfg: Config): string | undefined {
  if (!value) return "is not set";
  if (cfg.weakPasswords.includes(value.toLowerCase())) return "is a default or well-known password";
  if (value.length < cfg.minPasswordLength) return `is shorter than ${cfg.minPasswordLength} characters`;
  return undefined;
}

/**
 * What Phoenix 20.26.1 rejects in PHOENIX_SECRET (src/phoenix/config.py and auth.py of the sdist:
 * at least 32 characters, at least one digit and one lowercase letter), or undefined.
 */
export function phoenixSecretProblem(secret: string): string | undefined {
  if (secret.length < 32) return "is missing or shorter than 32 characters";
  if (!/[0-9]/.test(secret)) return "has no digit";
  if (!/[a-z]/.test(secret)) return "has no lowercase letter";
  return undefined;
}

export const requireAdminAuth: ResourceValidationPolicy = {
  name: "require-admin-auth",
  description:
    "Grafana, Phoenix and the vLLM API require authentication with strong credentials, because the lab network is shared and these UIs expose logs, traces, prompts and GPU time.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      minPasswordLength: { type: "integer", default: 12 },
      weakPasswords: {
        type: "array",
        items: { type: "string" },
        default: ["admin", "password", "changeme", "grafana", "phoenix", "secret"],
      },
    },
  },
  validateResource: (args, report) => {
    const cfg = args.getConfig<Config>();
    if (args.type === TYPES.remoteCommand) {
      // Grafana's admin password reaches it as a file written by a step that reads it from stdin.
      const params = scriptParams(args.props.create);
      if (/grafana\/secrets\/admin_password$/.test(params.SECRET_PATH ?? "")) {
        const password =
          typeof args.props.stdin === "string" ? args.props.stdin.replace(/\n$/, "") : undefined;
        const weak = weakness(password, cfg);
        if (weak)
          report(
            `Grafana's admin password ${weak}; set a strong one with pulumi config set --secret citadel:grafanaAdminPassword.`,
          );
      }
      return;
    }
    if (args.type !== TYPES.container) return;
    const env = envMap(args.props.envs);
    switch (serviceOf(args.props)) {
      case "grafana": {
        if (env.GF_AUTH_ANONYMOUS_ENABLED !== "false")
          report("Grafana allows anonymous access; set GF_AUTH_ANONYMOUS_ENABLED=false.");
        if (env.GF_USERS_ALLOW_SIGN_UP !== "false")
          report("Grafana allows sign-up; set GF_USERS_ALLOW_SIGN_UP=false.");
        if (env.GF_SECURITY_ADMIN_PASSWORD !== undefined) {
          const weak = weakness(env.GF_SECURITY_ADMIN_PASSWORD, cfg);
          if (weak) report(`Grafana's admin password ${weak}.`);
        } else if (!env.GF_SECURITY_ADMIN_PASSWORD__FILE) {
          report("Grafana's admin password is not set, so it is the default admin/admin.");
        }
        return;
      }
      case "phoenix": {
        if ((env.PHOENIX_ENABLE_AUTH ?? "").toLowerCase() !== "true")
          report("Phoenix runs without auth; set PHOENIX_ENABLE_AUTH=True.");
        {
          const problem = phoenixSecretProblem(env.PHOENIX_SECRET ?? "");
          if (problem) report(`PHOENIX_SECRET ${problem}, so Phoenix refuses to start.`);
        }
        const weak = weakness(env.PHOENIX_DEFAULT_ADMIN_INITIAL_PASSWORD, cfg);
        if (weak) report(`Phoenix's initial admin password ${weak} (the default is "admin").`);
        return;
      }
      case "vllm": {
        if (!env.VLLM_API_KEY && !flagValue(args.props.command, "--api-key")) {
          report("vLLM's OpenAI API has no API key; set VLLM_API_KEY from the secret citadel:vllmApiKey.");
        }
        return;
      }
    }
  },
};
