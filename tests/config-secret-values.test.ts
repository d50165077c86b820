/**
 * The rules a secret's value must keep (components/config/secrets.ts `rules`), as an operator meets
 * them: each broken rule refused at the secret's key, with the rule, why, and the command that sets
 * a good one, before anything is registered; never with the value in the message. First the rules
 * alone (pure), then the loader as the engine runs it (components/config/engine.ts, with the
 * config set through `pulumi.runtime.setAllConfig`, as tests/config-engine.test.ts does).
 */
import { randomBytes } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import bcrypt from "bcryptjs";
import fc from "fast-check";
import { loadLabConfig } from "../components/config/engine";
import { LabConfigError } from "../components/config/errors";
import {
  BASIC_AUTH_RULES,
  describeSecret,
  SECRETS,
  secretValueProblem,
  setSecretCommand,
  type SecretSpec,
} from "../components/config/secrets";
import { missingSecret } from "../components/config/secret-checks";
import { CONFIG_SOURCE_ENV } from "../components/config/source";
import { passwordProblem } from "../components/ladon/webauth";
import { PlanChecker } from "../components/plan";
import { fromConfigMap, placeholderValue } from "../lib/synth/stackfile";
import { goodSecretValue, LAB_SECRETS, labConfigMap } from "./support/lab";
import { SynthError } from "../lib/synth/harness";
import { synthLab } from "./support/synth";
import { verdict } from "./support/verdict";

const spec = (key: string): SecretSpec => {
  const found = SECRETS.find((s) => s.key === key);
  if (!found) throw new Error(`no secret ${key}`);
  return found;
};

const HEX32 = "0123456789abcdef0123456789abcdef";
const PHOENIX = "Phoenix 20.26.1 does not start otherwise";
const POLICY = "the policy pack's require-admin-auth refuses a shorter admin password";
const STDIN = "a host step reads it as one line of its stdin";
const EMPTY = "the host step that takes it refuses an empty one";
const FLOOR = "the lab's own floor for basic auth";
const BCRYPT = "bcrypt reads no further, so the rest would not count";
const NETRC =
  "the host's steps log in with a netrc file, which ends a password at a space or a non-ASCII byte";
const QUOTE =
  'curl reads a netrc word that starts with " as a quoted string and one that starts with # as a comment';

/** For each secret with rules: a value that breaks exactly one rule, that rule, and why. */
const ONE_BROKEN: [key: string, value: string, rule: string, why: string][] = [
  ["phoenixSecret", HEX32.slice(1), "at least 32 characters", PHOENIX],
  ["phoenixSecret", "abcdefghijklmnopqrstuvwxyzabcdef", "a digit", PHOENIX],
  ["phoenixSecret", HEX32.toUpperCase(), "a lowercase letter", PHOENIX],
  ["phoenixSecret", `${HEX32}é`, "ASCII only", PHOENIX],
  ["phoenixSecret", `${HEX32} `, "no whitespace", PHOENIX],
  // Python's isspace, not only JavaScript's \s: the information separators too.
  ["phoenixSecret", `${HEX32}\u001f`, "no whitespace", PHOENIX],
  ["grafanaAdminPassword", "eleven-char", "at least 12 characters", POLICY],
  ["grafanaAdminPassword", "twelve-chars\nand-more", "one line", STDIN],
  ["phoenixAdminPassword", "eleven-char", "at least 12 characters", POLICY],
  ["phoenixAdminPassword", "twelve-chars\n", "one line", STDIN],
  ["prometheusPassword", "0123456789abcde", "at least 16 characters", FLOOR],
  ["prometheusPassword", "x".repeat(73), "at most 72 bytes", BCRYPT],
  ["prometheusPassword", "0123456789 abcdef", "printable ASCII without spaces", NETRC],
  ["prometheusPassword", "0123456789abcdef\t", "printable ASCII without spaces", NETRC],
  ["prometheusPassword", `"${HEX32}`, 'not starting with " or #', QUOTE],
  ["alertmanagerPassword", `#${HEX32}`, 'not starting with " or #', QUOTE],
  ["alertmanagerPassword", "0123456789abcdef\n", "printable ASCII without spaces", NETRC],
  ["resticPassword", "", "not empty", EMPTY],
  ["resticPassword", "first line\nsecond line", "one line", STDIN],
  ["alertmanagerSmtpPassword", "", "not empty", EMPTY],
  ["alertmanagerSmtpPassword", "smtp\n", "one line", STDIN],
];

/** Values at the very edge of every rule, each accepted. */
const EDGES: [key: string, value: string][] = [
  ["phoenixSecret", HEX32],
  ["phoenixSecret", `${"z".repeat(31)}0`],
  ["grafanaAdminPassword", "exactly-12ch"],
  ["grafanaAdminPassword", "twelve chars with spaces, quotes \" ' and é"],
  ["phoenixAdminPassword", "exactly-12ch"],
  ["prometheusPassword", "exactly-16-chars"],
  ["prometheusPassword", "x".repeat(72)],
  ["prometheusPassword", randomBytes(36).toString("hex")],
  // Only a leading " or # means something to curl's netrc parser; elsewhere they are characters.
  ["alertmanagerPassword", `a"b'c\\d#e${HEX32}`],
  ["alertmanagerPassword", "!~".repeat(36)],
  ["resticPassword", "x"],
  ["resticPassword", "trailing spaces and a tab\t "],
  ["alertmanagerSmtpPassword", "s"],
];

describe("the rules of each secret's value", () => {
  it.each(ONE_BROKEN)("%s: %j breaks only %s", (key, value, rule, why) => {
    expect(secretValueProblem(spec(key), value)).toBe(`its value breaks a rule: ${rule} (${why})`);
  });

  it.each(EDGES)("%s: %j keeps them all", (key, value) => {
    expect(secretValueProblem(spec(key), value)).toBeUndefined();
  });

  it("lists every rule a value breaks, grouped by why", () => {
    expect(secretValueProblem(spec("phoenixSecret"), "short secret")).toBe(
      `its value breaks 3 rules: at least 32 characters, a digit, no whitespace (${PHOENIX})`,
    );
    // 40 two-byte characters: 80 bytes, none of them ASCII.
    expect(secretValueProblem(spec("prometheusPassword"), "é".repeat(40))).toBe(
      `its value breaks 2 rules: at most 72 bytes (${BCRYPT}) and printable ASCII without spaces (${NETRC})`,
    );
  });

  it("are the ones the README and the missing-secret error state", () => {
    expect(describeSecret(spec("phoenixSecret"))).toBe(
      "Phoenix's token-signing secret (PHOENIX_SECRET); its value: at least 32 characters, a digit, a lowercase letter, ASCII only, no whitespace",
    );
    expect(describeSecret(spec("alertmanagerPassword"))).toBe(
      `Alertmanager's basic-auth password, user citadel; Prometheus, Grafana and the probe log in with it; its value: at least 16 characters, at most 72 bytes, printable ASCII without spaces, not starting with " or #`,
    );
    expect(describeSecret(spec("vllmApiKey"))).toBe(spec("vllmApiKey").description);
    expect(missingSecret(spec("grafanaAdminPassword")).message).toBe(
      `required secret is not set (Grafana's admin password; the Grafana provider logs in with it; its value: at least 12 characters, one line); run \`${setSecretCommand(spec("grafanaAdminPassword"))}\``,
    );
    expect(SECRETS.filter((s) => s.rules).map((s) => s.key)).toEqual([
      "grafanaAdminPassword",
      "phoenixSecret",
      "phoenixAdminPassword",
      "prometheusPassword",
      "alertmanagerPassword",
      "alertmanagerSmtpPassword",
      "resticPassword",
    ]);
  });

  it("are kept by what each secret's own command makes, so the fix in every error works", () => {
    const made: Record<string, (() => string) | undefined> = {
      '"$(openssl rand -hex 32)"': () => randomBytes(32).toString("hex"),
      '"$(openssl rand -hex 24)"': () => randomBytes(24).toString("hex"),
      '"$(openssl rand -base64 24)"': () => randomBytes(24).toString("base64"),
      '"$(openssl rand -base64 32)"': () => randomBytes(32).toString("base64"),
    };
    for (const s of SECRETS.filter((x) => x.rules && x.setHint.includes("openssl"))) {
      const make = made[s.setHint];
      if (!make) throw new Error(`${s.key}: no stand-in for ${s.setHint}`);
      for (let i = 0; i < 200; i++)
        expect([s.key, secretValueProblem(s, make())]).toEqual([s.key, undefined]);
    }
  });

  it("are kept by npm start's placeholders and npm run diff's changed ones, so offline runs plan as before", () => {
    for (const s of SECRETS) {
      expect([s.key, secretValueProblem(s, placeholderValue(s.key))]).toEqual([s.key, undefined]);
      expect([s.key, secretValueProblem(s, `${placeholderValue(s.key)}-changed`)]).toEqual([
        s.key,
        undefined,
      ]);
    }
  });

  it("count bcrypt's 72 bytes as bcryptjs, which hashes the password, does", () => {
    const limit = BASIC_AUTH_RULES.find((r) => r.text === "at most 72 bytes")!;
    const chars = fc.constantFrom("a", "é", "€", "\u{1f511}");
    fc.assert(
      fc.property(fc.array(chars, { minLength: 10, maxLength: 80, size: "max" }), (cs) => {
        const v = cs.join("");
        expect(limit.holds(v)).toBe(!bcrypt.truncates(v));
      }),
      { seed: 72 },
    );
  });

  it("are the ones the basic-auth hash refuses too", () => {
    for (const [key, value] of ONE_BROKEN.filter(([k]) => k === "prometheusPassword"))
      expect(passwordProblem(value)).toBe(secretValueProblem(spec(key), value));
    expect(passwordProblem("exactly-16-chars")).toBeUndefined();
  });

  it("never put the value, or any part of it, in what they say", () => {
    // Characters that spell no stretch of the rules' texts: any 4 in a row of a value that turned
    // up in a message would be the value leaking.
    const chars = fc.constantFrom(..."0123456789#%&*+=~^|<>QXZJé\t\n\u001f".split(""));
    fc.assert(
      fc.property(fc.array(chars, { minLength: 4, maxLength: 90, size: "max" }), (cs) => {
        const value = cs.join("");
        for (const s of SECRETS) {
          const problem = secretValueProblem(s, value) ?? "";
          for (let i = 0; i + 4 <= value.length; i++) expect(problem).not.toContain(value.slice(i, i + 4));
        }
      }),
      { seed: 4, numRuns: 300 },
    );
  });
});

/**
 * The committed stack as the engine hands it over, with good secrets and `secrets` on top, and
 * `plain` keys added.
 */
function engineConfig(secrets: Record<string, string> = {}, plain: Record<string, string> = {}): void {
  const file = fromConfigMap(labConfigMap());
  const config: Record<string, string> = { ...plain };
  for (const [key, value] of Object.entries(file.values))
    config[`citadel:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
  const values: Record<string, string> = {
    ...Object.fromEntries(LAB_SECRETS.map((k) => [k, goodSecretValue(k)])),
    ...secrets,
  };
  for (const [key, value] of Object.entries(values)) config[`citadel:${key}`] = value;
  pulumi.runtime.setAllConfig(
    config,
    Object.keys(values).map((k) => `citadel:${k}`),
  );
}

/** The error loading the lab under the engine throws, with `secrets` set over good ones. */
function refusal(secrets: Record<string, string>, plain: Record<string, string> = {}): LabConfigError {
  engineConfig(secrets, plain);
  try {
    loadLabConfig(new PlanChecker());
  } catch (err) {
    if (err instanceof LabConfigError) return err;
    throw err;
  }
  throw new Error(`accepted: ${Object.keys(secrets).join(", ")}`);
}

const lines = (err: LabConfigError) => err.problems.map((p) => `${p.path}: ${p.message}`);
const fix = (key: string) => `; set another with \`${setSecretCommand(spec(key))}\``;
// Two secrets the committed lab does not use until a section asks for them.
const SMTP = { alertmanagerSmtpPassword: "smtp-password" };

describe("the loader under the engine", () => {
  afterEach(() => {
    pulumi.runtime.setAllConfig({}, []);
    delete process.env[CONFIG_SOURCE_ENV];
  });

  it("loads the committed lab with good secrets, each value as set", async () => {
    engineConfig();
    const { secrets } = loadLabConfig(new PlanChecker());
    expect(Object.keys(secrets.values).sort()).toEqual([...LAB_SECRETS].sort());
    const plain = await new Promise<string>((resolve) => secrets.values.phoenixSecret?.apply(resolve));
    expect(plain).toBe(goodSecretValue("phoenixSecret"));
  });

  it.each(ONE_BROKEN)("refuses %s = %j at its key: %s", (key, value, rule, why) => {
    const err = refusal({ ...SMTP, [key]: value });
    expect(lines(err)).toEqual([`citadel:${key}: its value breaks a rule: ${rule} (${why})${fix(key)}`]);
    expect(err.message).toBe(
      `Invalid lab config in Pulumi.${pulumi.getStack()}.yaml (1 problem); nothing was applied:\n  - ${lines(err)[0]}`,
    );
  });

  it("accepts every value at the edge of its rules", () => {
    for (const [key, value] of EDGES) {
      engineConfig({ ...SMTP, [key]: value });
      expect(() => loadLabConfig(new PlanChecker())).not.toThrow();
    }
  });

  it("reports a value that breaks two rules once, with both", () => {
    expect(lines(refusal({ prometheusPassword: `${"é".repeat(40)}` }))).toEqual([
      `citadel:prometheusPassword: its value breaks 2 rules: at most 72 bytes (${BCRYPT}) and printable ASCII without spaces (${NETRC})${fix("prometheusPassword")}`,
    ]);
  });

  it("reports several broken secrets together, with the config's other problems, naming the file", () => {
    process.env[CONFIG_SOURCE_ENV] = "examples/Pulumi.monitoring-pi.yaml";
    const err = refusal(
      {
        phoenixSecret: "too-short-1",
        grafanaAdminPassword: "short",
        alertmanagerPassword: "with a space in it",
      },
      { "citadel:ladonn": "{}" },
    );
    expect(err.message.split("\n")[0]).toBe(
      "Invalid lab config in examples/Pulumi.monitoring-pi.yaml (4 problems); nothing was applied:",
    );
    expect(err.problems.map((p) => p.path)).toEqual([
      "citadel:grafanaAdminPassword",
      "citadel:phoenixSecret",
      "citadel:alertmanagerPassword",
      "citadel:ladonn",
    ]);
  });

  it("never puts the value, or any part of it, in the error", () => {
    // Distinctive, and breaking the rules of each of these secrets.
    const value = "Zq#Xv WjK!";
    const err = refusal({
      phoenixSecret: value,
      grafanaAdminPassword: value,
      prometheusPassword: value,
      alertmanagerPassword: `#${value}`,
    });
    expect(err.problems).toHaveLength(4);
    for (let i = 0; i + 3 <= value.length; i++) expect(err.message).not.toContain(value.slice(i, i + 3));
  });

  it("registers nothing when a value breaks a rule", async () => {
    const failure = await synthLab(labConfigMap(), undefined, { phoenixSecret: "too-short-1" }).catch(
      (err: unknown) => err,
    );
    if (!(failure instanceof SynthError)) throw new Error(`not refused: ${String(failure)}`);
    expect(failure.registered).toBe(0);
    expect(failure.message).toContain(
      "citadel:phoenixSecret: its value breaks a rule: at least 32 characters",
    );
  });

  it("leaves values alone where there are none: tools that read the stack file, and a secret in plaintext", () => {
    // lib/cli's tools count every secret as set without a value: nothing to check.
    expect(verdict(labConfigMap())).toBe("accepted");
    // A secret stored in plaintext is reported as that alone, and its value is not quoted.
    engineConfig({ phoenixSecret: "short" });
    pulumi.runtime.setAllConfig(
      { ...pulumi.runtime.allConfig(), "citadel:phoenixSecret": "short" },
      LAB_SECRETS.filter((k) => k !== "phoenixSecret").map((k) => `citadel:${k}`),
    );
    let message = "";
    try {
      loadLabConfig(new PlanChecker());
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain("citadel:phoenixSecret: is stored in plaintext");
    expect(message).not.toContain("its value");
    expect(message).not.toContain("short");
  });
});
