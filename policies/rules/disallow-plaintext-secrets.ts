import type { ResourceValidationPolicy } from "@pulumi/policy";
import { scriptParams, serviceOf, TYPES } from "../lib/resources";

const SECRET_LOOKING = /(PASSWORD|PASSWD|TOKEN|SECRET|API_?KEY|PRIVATE_?KEY|CREDENTIAL)/i;
/** `*_FILE`, `*_PATH` and `*_DIR` name where a secret is kept, not the secret itself. */
const isSecretName = (name: string) => SECRET_LOOKING.test(name) && !/_(FILE|PATH|DIR)$/i.test(name);
const SECRET_FLAG = /^--?[a-z0-9-]*(password|token|secret|api-key|apikey)[a-z0-9-]*(=.+)?$/i;

/**
 * The engine hands policies secret values already unwrapped, so a policy cannot tell a secret
 * from a literal by its value. It can tell where a value travels: only a container's environment
 * (a secret input) and a script's stdin keep a secret out of previews, logs and `ps`.
 */
export const disallowPlaintextSecrets: ResourceValidationPolicy = {
  name: "disallow-plaintext-secrets",
  description:
    "Settings that look like secrets (passwords, tokens, API keys) travel only where Pulumi keeps them secret, a container's environment or a script's stdin, because a command line, a script's text, a command's environment, a label or plain datasource JSON is stored and shown in clear.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    const p = args.props;
    if (args.type === TYPES.container) {
      const name = serviceOf(p);
      const flags = (Array.isArray(p.command) ? p.command : [])
        .map(String)
        .filter((a: string) => SECRET_FLAG.test(a));
      if (flags.length > 0)
        report(
          `container ${name} passes ${flags.map((f: string) => f.split("=")[0]).join(", ")} on its command line, where ps and docker inspect show it; use an environment variable.`,
        );
      const labels = (Array.isArray(p.labels) ? p.labels : [])
        .map((l: { label?: string }) => String(l.label))
        .filter(isSecretName);
      if (labels.length > 0)
        report(`container ${name} carries ${labels.join(", ")} in its labels, which are never secret.`);
      return;
    }
    if (args.type === TYPES.remoteCommand) {
      const leaked = Object.keys(scriptParams(p.create)).filter(isSecretName);
      if (leaked.length > 0)
        report(
          `command ${args.name} puts ${leaked.join(", ")} in its command text, which a failing command prints; pass secrets on stdin (hostScript's secrets).`,
        );
      const env =
        p.environment && typeof p.environment === "object"
          ? Object.keys(p.environment).filter(isSecretName)
          : [];
      if (env.length > 0)
        report(
          `command ${args.name} sets ${env.join(", ")} in its environment, which the command provider does not keep secret.`,
        );
      return;
    }
    if (args.type === "grafana:oss/dataSource:DataSource" && typeof p.jsonDataEncoded === "string") {
      const keys = Object.keys(JSON.parse(p.jsonDataEncoded) as object).filter(isSecretName);
      if (keys.length > 0)
        report(
          `datasource ${args.name} keeps ${keys.join(", ")} in jsonDataEncoded; move it to secureJsonDataEncoded.`,
        );
    }
  },
};
