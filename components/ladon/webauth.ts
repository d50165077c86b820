/**
 * Basic auth for Prometheus and Alertmanager, through their own `--web.config.file` (the
 * Prometheus exporter-toolkit's web config). Pure: passwords in, file contents out.
 *
 * Upstream facts, read at the pinned versions:
 * - Both take `--web.config.file`: cmd/prometheus/main.go@v3.16.0 (module v0.316.0) declares it;
 *   Alertmanager's cmd/alertmanager/main.go@v0.35.0 adds it through exporter-toolkit's
 *   web/kingpinflag.AddFlags. Both build against exporter-toolkit v0.20.0 (their go.mod).
 * - exporter-toolkit web/tls_config.go@v0.20.0: the file is YAML read with yaml.UnmarshalStrict;
 *   `basic_auth_users` maps a user name to a bcrypt hash. web/handler.go@v0.20.0: every request,
 *   on every path (/-/ready and /metrics too), re-reads the file and needs a matching user and
 *   password (bcrypt.CompareHashAndPassword, results cached), otherwise 401. A changed file
 *   applies to the next request: no reload.
 * - Clients: promtool's `check ready` and amtool take `--http.config.file`
 *   (cmd/promtool/main.go@v3.16.0, cli/root.go@v0.35.0), a prometheus/common HTTPClientConfig
 *   whose `basic_auth` has `username` and `password_file` (config/http_config.go@v0.72.1).
 *   Prometheus's own scrape and alerting configs take the same `basic_auth` block.
 */
import { createHash, scryptSync } from "node:crypto";
import bcrypt from "bcryptjs";
import { stringify } from "yaml";
import { BASIC_AUTH_RULES, secretValueProblem } from "../config/secrets";

/** The user every client logs in as. */
export const WEB_USER = "citadel";

/** bcrypt's cost: 2^10 rounds, exporter-toolkit's own example's cost. */
const COST = 10;

/**
 * The secret that protects a service as a bcrypt hash, the same for the same secret on every run,
 * so the step that writes it stays unchanged and `pulumi up` stays quiet.
 *
 * bcrypt needs 16 bytes of salt. A random one would change the hash, and the file, on every run.
 * The salt is derived from the password instead, with scrypt (N=2^14, r=8, p=1: 16 MiB and tens of
 * milliseconds, about what one bcrypt check at cost 10 costs) and the service's name as scrypt's
 * own salt. The salt is public in the hash, so it must not be a cheap function of the password:
 * from a fast hash such as SHA-256 anyone holding the file could test guesses at SHA-256 speed and
 * skip bcrypt's cost. scrypt keeps every guess at least as dear as bcrypt makes it; the service
 * name gives Prometheus and Alertmanager different hashes for the same password.
 */
export function webPasswordHash(password: string, service: string): string {
  // The loader refuses such a value before anything runs (config/secret-checks.ts); this is for
  // callers that hash a password of their own (the conformance tier).
  const problem = passwordProblem(password);
  if (problem)
    throw new Error(
      `secret citadel:${service}Password: ${problem}; set another with: pulumi config set --secret citadel:${service}Password "$(openssl rand -hex 24)"`,
    );
  // The hash is a pure function of its inputs and costs tens of milliseconds by design: a process
  // that plans the lab several times (the tests, npm run bench, npm run diff) computes it once.
  const key = createHash("sha256").update(service).update("\0").update(password).digest("hex");
  const known = hashes.get(key);
  if (known !== undefined) return known;
  const bytes = scryptSync(password, `citadel:${service}:web-config`, 16, { N: 2 ** 14, r: 8, p: 1 });
  const salt = `$2b$${COST}$${bcrypt.encodeBase64(bytes, 16)}`;
  const hash = bcrypt.hashSync(password, salt);
  hashes.set(key, hash);
  return hash;
}

const hashes = new Map<string, string>();

/**
 * Why a password cannot protect a service, without ever quoting it: the rules of the basic-auth
 * secrets (config/secrets.ts `BASIC_AUTH_RULES`, where each one's source is cited): bcrypt reads
 * only 72 bytes, and a netrc file (how host steps log in) ends a password at whitespace.
 */
export function passwordProblem(password: string): string | undefined {
  return secretValueProblem({ rules: BASIC_AUTH_RULES }, password);
}

/** The web config file: one line of JSON, which is YAML, so that it travels as one secret line. */
export function renderWebConfig(hash: string): string {
  return JSON.stringify({ basic_auth_users: { [WEB_USER]: hash } });
}

/** An HTTPClientConfig for promtool or amtool: the user and the file holding the password. */
export function renderClientConfig(passwordFile: string): string {
  return stringify({ basic_auth: { password_file: passwordFile, username: WEB_USER } });
}

/** A curl netrc for steps on the host that call a service on 127.0.0.1. */
export function renderNetrc(password: string): string {
  return `machine 127.0.0.1 login ${WEB_USER} password ${password}`;
}
