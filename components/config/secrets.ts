/**
 * Every secret the lab reads. Secrets are top-level keys of the `citadel:` namespace, set with
 * `pulumi config set --secret`, never committed in plaintext. `required` says when the lab needs one.
 */
import { isGated, MODEL_CATALOG } from "../shared/models";
import type { LabConfig } from "./schema";

export interface SecretSpec {
  /** Config key without the namespace, e.g. `sshPrivateKey`. */
  key: string;
  /** What it is for, shown in the README and in errors. */
  description: string;
  /** Whether this lab needs it. Optional secrets are used only when set. */
  required: (lab: LabConfig) => boolean;
  /** The value placeholder shown in the `pulumi config set --secret` hint. */
  setHint: string;
}

export const SECRETS: readonly SecretSpec[] = [
  {
    key: "sshPrivateKey",
    description: "SSH private key for hosts with ssh.auth: privateKey (hosts on the agent do not need it).",
    required: (lab) => Object.values(lab.hosts).some((h) => h.ssh.auth === "privateKey"),
    setHint: "< ~/.ssh/id_ed25519",
  },
  {
    key: "vllmApiKey",
    description: "API key clients send to vLLM's OpenAI API (Authorization: Bearer)",
    required: (lab) => lab.vllm !== undefined,
    setHint: '"$(openssl rand -hex 32)"',
  },
  {
    key: "grafanaAdminPassword",
    description: "Grafana's admin password (at least 12 characters); the Grafana provider logs in with it",
    required: (lab) => lab.ladon !== undefined,
    setHint: '"$(openssl rand -base64 24)"',
  },
  {
    key: "phoenixSecret",
    description:
      "Phoenix's token-signing secret (PHOENIX_SECRET: at least 32 characters, with a digit and a lowercase letter)",
    required: (lab) => lab.ladon !== undefined,
    setHint: '"$(openssl rand -hex 32)"',
  },
  {
    key: "phoenixAdminPassword",
    description: "Phoenix's initial admin password (PHOENIX_DEFAULT_ADMIN_INITIAL_PASSWORD)",
    required: (lab) => lab.ladon !== undefined,
    setHint: '"$(openssl rand -base64 24)"',
  },
  {
    key: "prometheusPassword",
    description:
      "Prometheus's basic-auth password, user citadel (16 to 72 characters, no whitespace or quotes); Grafana, the backup, the probe and npm run assess log in with it",
    required: (lab) => lab.ladon !== undefined,
    setHint: '"$(openssl rand -hex 24)"',
  },
  {
    key: "alertmanagerPassword",
    description:
      "Alertmanager's basic-auth password, user citadel (16 to 72 characters, no whitespace or quotes); Prometheus, Grafana and the probe log in with it",
    required: (lab) => lab.ladon !== undefined,
    setHint: '"$(openssl rand -hex 24)"',
  },
  {
    key: "alertmanagerSmtpPassword",
    description: "SMTP password for e-mail receivers with authUsername",
    required: (lab) => (lab.ladon?.alertmanager.emails ?? []).some((e) => e.authUsername !== undefined),
    setHint: '"<smtp password>"',
  },
  {
    key: "resticPassword",
    description:
      "Password of the restic backup repository; without it the backups cannot be restored, so keep a copy off the lab",
    required: (lab) => lab.ops.backups !== undefined,
    setHint: '"$(openssl rand -base64 32)"',
  },
  {
    key: "huggingfaceToken",
    description: "Hugging Face token for gated models such as Llama; required by a server on a gated model",
    required: (lab) => gatedServers(lab).length > 0,
    setHint: "hf_...",
  },
];

/** The exact command that sets a secret, as quoted in errors and the README. */
export function setSecretCommand(spec: SecretSpec): string {
  return `pulumi config set --secret citadel:${spec.key} ${spec.setHint}`;
}

/** The servers whose model is gated on Hugging Face, as `[name, model]`, in name order. */
export function gatedServers(lab: Pick<LabConfig, "vllm">): [string, string][] {
  return Object.entries(lab.vllm?.servers ?? {})
    .filter(([, s]) => isGated(s.modelFacts ?? MODEL_CATALOG[s.model]))
    .map(([name, s]): [string, string] => [name, s.model])
    .sort(([a], [b]) => (a < b ? -1 : 1));
}
