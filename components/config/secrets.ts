/**
 * Every secret the lab reads. Secrets are top-level keys of the `citadel:` namespace, set with
 * `pulumi config set --secret`, never committed in plaintext. `required` says when the lab needs one,
 * and `rules` what its value must be, each rule with where it comes from.
 */
import { isGated, MODEL_CATALOG } from "../shared/models";
import type { LabConfig } from "./schema";

export interface SecretSpec {
  /** Config key without the namespace, e.g. `sshPrivateKey`. */
  key: string;
  /** What it is for, shown in the README and in errors (with its `rules`, see `describeSecret`). */
  description: string;
  /** Whether this lab needs it. Optional secrets are used only when set. */
  required: (lab: LabConfig) => boolean;
  /** When the lab needs it, in words, for the README: what `required` checks. */
  neededWhen: string;
  /** The value placeholder shown in the `pulumi config set --secret` hint. */
  setHint: string;
  /**
   * The rules its value must keep, each with where it comes from. The loader checks them before
   * anything is registered (secret-checks.ts `secretValueProblems`). @default none
   */
  rules?: readonly SecretRule[];
}

/**
 * A rule for a secret's value, as data: what the README and errors state, why it holds, and the
 * check. The check is pure, and nothing here ever quotes or measures out the value in words.
 */
export interface SecretRule {
  /** The rule, e.g. `at least 32 characters`. */
  text: string;
  /** Who refuses or mangles a value that breaks it, in a few words. */
  why: string;
  /** Whether `value` keeps the rule. */
  holds: (value: string) => boolean;
}

/**
 * PHOENIX_SECRET, as Phoenix 20.26.1 checks it: phoenix/config.py `get_env_phoenix_secret` runs
 * phoenix/auth.py `REQUIREMENTS_FOR_PHOENIX_SECRET.validate` (`_PasswordRequirements` with
 * `length=DEFAULT_SECRET_LENGTH` (32), `digits=True`, `lower_case=True`), whose `validate` also
 * refuses any whitespace (`str.isspace`) and any character outside ASCII (`str.isascii`).
 * `get_env_auth_settings` reads it at start-up, so a secret that breaks one stops Phoenix.
 * Python's `len` counts code points, as `[...value]` does; within ASCII, `isdigit` is 0-9,
 * `islower` a-z, and `isspace` is \t-\r, \x1c-\x1f and the space.
 */
const PHOENIX_REFUSES = "Phoenix 20.26.1 does not start otherwise";
const PHOENIX_SECRET_RULES: readonly SecretRule[] = [
  { text: "at least 32 characters", why: PHOENIX_REFUSES, holds: (v) => [...v].length >= 32 },
  { text: "a digit", why: PHOENIX_REFUSES, holds: (v) => /[0-9]/.test(v) },
  { text: "a lowercase letter", why: PHOENIX_REFUSES, holds: (v) => /[a-z]/.test(v) },
  { text: "ASCII only", why: PHOENIX_REFUSES, holds: (v) => [...v].every((c) => c < "\u0080") },
  { text: "no whitespace", why: PHOENIX_REFUSES, holds: (v) => ![...v].some(isPythonSpace) },
];

/** Python's `str.isspace` for one character: JavaScript's `\s` plus \x1c-\x1f (and \x85). */
function isPythonSpace(c: string): boolean {
  return /\s/.test(c) || (c >= "\u001c" && c <= "\u001f") || c === "\u0085";
}

/**
 * The admin passwords of Grafana and Phoenix: 12 characters is our own rule, the policy pack's
 * (policies/rules/require-admin-auth.ts `minPasswordLength`, default 12, mandatory), which refuses
 * a shorter one at preview. Neither upstream asks as much:
 * - Phoenix 20.26.1 takes any initial admin password: phoenix/config.py
 *   `get_env_default_admin_initial_password` returns it unchecked (an empty one means "admin"),
 *   and phoenix/db/facilitator.py hashes it into the admin user as it is.
 * - Grafana: pkg/services/user/password.go `ValidatePassword` refuses fewer than 4 characters,
 *   and asks 12 (with upper and lower case, a digit and a symbol) only under its strong password
 *   policy (`[auth.basic] password_policy`), which the lab leaves off. Read in a recent Grafana
 *   source, not at 13.2.3: Grafana's Go module is not on the module proxy (components/pins.ts).
 */
const ADMIN_PASSWORD_LENGTH: SecretRule = {
  text: "at least 12 characters",
  why: "the policy pack's require-admin-auth refuses a shorter admin password",
  holds: (v) => v.length >= 12,
};

/**
 * A secret a host step reads from its stdin (components/remote/command.ts `hostScript`): one line
 * per secret, read with `IFS= read -r`, so `secretStdin` refuses a value with a line break when
 * the step runs; and the scripts refuse an empty one (`: "${SECRET:?}"` in
 * components/ladon/scripts/secret-file.sh, `${ADMIN_PASSWORD:?}` in phoenix-api-key.sh).
 */
const ONE_LINE: SecretRule = {
  text: "one line",
  why: "a host step reads it as one line of its stdin",
  holds: (v) => !v.includes("\n"),
};
const NOT_EMPTY: SecretRule = {
  text: "not empty",
  why: "the host step that takes it refuses an empty one",
  holds: (v) => v.length > 0,
};

/**
 * The basic-auth passwords of Prometheus and Alertmanager (components/ladon/webauth.ts), which
 * every client sends as user citadel:
 * - at least 16 characters: our own floor, since basic auth came in (webauth.ts); neither service
 *   sets one (exporter-toolkit web/tls_config.go@v0.20.0 takes any bcrypt hash).
 * - at most 72 bytes: bcrypt reads no further. golang.org/x/crypto bcrypt/bcrypt.go@v0.58.0 (the
 *   version both services build with) `GenerateFromPassword` refuses more, and
 *   `CompareHashAndPassword`, which exporter-toolkit web/handler.go@v0.20.0 checks every request
 *   with, ignores the rest; bcryptjs 3.0.3 (`truncates`), which hashes it here, the same.
 * - printable ASCII without spaces: the host's steps (backup, probe, drift, reloads) log in with
 *   a netrc file (webauth.ts `renderNetrc`), and curl's netrc parser (lib/netrc.c `parsenetrc`)
 *   ends a password at whitespace; at 8.14.1 it ends it at any byte up to ' ' as a signed char,
 *   which on x86-64 is every byte of a non-ASCII character. Prometheus and Alertmanager read
 *   their own password file with prometheus/common config/http_config.go@v0.72.1
 *   `FileSecret.Fetch`, which trims surrounding whitespace.
 * - not starting with `"` or `#`: curl reads a netrc word that starts with `"` as a quoted
 *   string with backslash escapes (7.88.1 and 8.14.1), and at 7.88.1 (Debian 12) one that
 *   starts with `#` as a comment to the end of the line. Elsewhere in the word both, and `'`
 *   and `\`, are read as written.
 */
export const BASIC_AUTH_RULES: readonly SecretRule[] = [
  { text: "at least 16 characters", why: "the lab's own floor for basic auth", holds: (v) => v.length >= 16 },
  {
    text: "at most 72 bytes",
    why: "bcrypt reads no further, so the rest would not count",
    holds: (v) => Buffer.byteLength(v, "utf8") <= 72,
  },
  {
    text: "printable ASCII without spaces",
    why: "the host's steps log in with a netrc file, which ends a password at a space or a non-ASCII byte",
    holds: (v) => /^[\x21-\x7e]*$/.test(v),
  },
  {
    text: 'not starting with " or #',
    why: 'curl reads a netrc word that starts with " as a quoted string and one that starts with # as a comment',
    holds: (v) => !/^["#]/.test(v),
  },
];

export const SECRETS: readonly SecretSpec[] = [
  {
    key: "sshPrivateKey",
    description: "SSH private key for hosts with ssh.auth: privateKey (hosts on the agent do not need it).",
    required: (lab) => Object.values(lab.hosts).some((h) => h.ssh.auth === "privateKey"),
    neededWhen: "a host has `ssh.auth: privateKey` (hosts on the SSH agent, the default, do not)",
    setHint: "< ~/.ssh/id_ed25519",
  },
  {
    key: "vllmApiKey",
    description: "API key clients send to vLLM's OpenAI API (Authorization: Bearer)",
    required: (lab) => lab.vllm !== undefined,
    neededWhen: "`citadel:vllm` is configured (always, for this lab)",
    setHint: '"$(openssl rand -hex 32)"',
  },
  {
    key: "grafanaAdminPassword",
    description: "Grafana's admin password; the Grafana provider logs in with it",
    required: (lab) => lab.ladon !== undefined,
    neededWhen: "`citadel:ladon` is configured",
    setHint: '"$(openssl rand -base64 24)"',
    rules: [ADMIN_PASSWORD_LENGTH, ONE_LINE],
  },
  {
    key: "phoenixSecret",
    description: "Phoenix's token-signing secret (PHOENIX_SECRET)",
    required: (lab) => lab.ladon !== undefined,
    neededWhen: "`citadel:ladon` is configured",
    setHint: '"$(openssl rand -hex 32)"',
    rules: PHOENIX_SECRET_RULES,
  },
  {
    key: "phoenixAdminPassword",
    description:
      "Phoenix's initial admin password (PHOENIX_DEFAULT_ADMIN_INITIAL_PASSWORD); the steps that create Phoenix API keys log in with it",
    required: (lab) => lab.ladon !== undefined,
    neededWhen: "`citadel:ladon` is configured",
    setHint: '"$(openssl rand -base64 24)"',
    rules: [ADMIN_PASSWORD_LENGTH, ONE_LINE],
  },
  {
    key: "prometheusPassword",
    description:
      "Prometheus's basic-auth password, user citadel; Grafana, the backup, the probe and npm run assess log in with it",
    required: (lab) => lab.ladon !== undefined,
    neededWhen: "`citadel:ladon` is configured",
    setHint: '"$(openssl rand -hex 24)"',
    rules: BASIC_AUTH_RULES,
  },
  {
    key: "alertmanagerPassword",
    description:
      "Alertmanager's basic-auth password, user citadel; Prometheus, Grafana and the probe log in with it",
    required: (lab) => lab.ladon !== undefined,
    neededWhen: "`citadel:ladon` is configured",
    setHint: '"$(openssl rand -hex 24)"',
    rules: BASIC_AUTH_RULES,
  },
  {
    key: "alertmanagerSmtpPassword",
    description: "SMTP password for e-mail receivers with authUsername",
    required: (lab) => (lab.ladon?.alertmanager.emails ?? []).some((e) => e.authUsername !== undefined),
    neededWhen: "an e-mail receiver has `authUsername`",
    setHint: '"<smtp password>"',
    rules: [NOT_EMPTY, ONE_LINE],
  },
  {
    key: "resticPassword",
    description:
      "Password of the restic backup repository; without it the backups cannot be restored, so keep a copy off the lab",
    required: (lab) => lab.ops.backups !== undefined,
    neededWhen: "`citadel:ops.backups` is configured",
    setHint: '"$(openssl rand -base64 32)"',
    rules: [NOT_EMPTY, ONE_LINE],
  },
  {
    key: "huggingfaceToken",
    description: "Hugging Face token for gated models such as Llama; required by a server on a gated model",
    required: (lab) => gatedServers(lab).length > 0,
    neededWhen:
      "a server runs a gated model (Llama, Mistral: the catalog in `components/shared/models.ts` knows which, a model's `modelFacts.gated` says so for others); refused without it",
    setHint: "hf_...",
  },
];

/** A secret's description with the rules its value must keep, as the README and errors show it. */
export function describeSecret(spec: SecretSpec): string {
  const rules = spec.rules ?? [];
  return rules.length === 0
    ? spec.description
    : `${spec.description}; its value: ${rules.map((r) => r.text).join(", ")}`;
}

/**
 * What is wrong with a secret's value, as the rules it breaks (grouped by why), or undefined when
 * it keeps them all. Pure; the text is the rules' own, so it never contains the value or its length.
 */
export function secretValueProblem(spec: Pick<SecretSpec, "rules">, value: string): string | undefined {
  const broken = (spec.rules ?? []).filter((r) => !r.holds(value));
  if (broken.length === 0) return undefined;
  const whys = [...new Set(broken.map((r) => r.why))];
  const groups = whys.map((why) => {
    const texts = broken.filter((r) => r.why === why).map((r) => r.text);
    return `${texts.join(", ")} (${why})`;
  });
  const count = broken.length === 1 ? "a rule" : `${broken.length} rules`;
  return `its value breaks ${count}: ${groups.join(" and ")}`;
}

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
