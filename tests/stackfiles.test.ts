/**
 * The corpus of broken stack files (tests/fixtures/stacks/): each holds one operator mistake and
 * says in its header what must come of it, and each is read by the real loader, from the file,
 * the way `npm start` and `pulumi up` read it:
 *  - `expect: refused`: exactly one problem, at the key as written, with the rule and its fix;
 *  - `expect: unreadable`: one message, at the file's line and column;
 *  - `expect: warning`: accepted, with one warning at the key;
 *  - `expect: accepted`: accepted without warnings.
 */
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { LabConfigError } from "../components/config";
import { parseLabConfig } from "../components/plan";
import { placeholderNotes, readStackFile, StackFileError, stackConfigSource } from "../lib/synth/stackfile";
import { LAB_SECRETS } from "./support/lab";

const DIR = path.join(__dirname, "fixtures", "stacks");

interface Case {
  file: string;
  expect: "refused" | "unreadable" | "warning" | "accepted";
  key: string;
  message: string;
  secrets: string[];
  absent?: string;
}

function cases(): Case[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => {
      const file = path.join(DIR, f);
      const header = Object.fromEntries(
        readFileSync(file, "latin1")
          .split("\n")
          .filter((l) => /^# [a-z]+: /.test(l))
          .map((l) => {
            const [, k, v] = /^# ([a-z]+): (.*)$/.exec(l) as RegExpExecArray;
            return [k, v];
          }),
      ) as Record<string, string>;
      return {
        file,
        expect: header.expect as Case["expect"],
        key: header.key ?? "",
        message: header.message ?? "",
        secrets: [...LAB_SECRETS, ...(header.secrets ? header.secrets.split(",") : [])],
        absent: header.absent,
      };
    });
}

type Outcome =
  | { kind: "unreadable"; message: string }
  | { kind: "refused"; error: LabConfigError }
  | { kind: "loaded"; warnings: { path: string; message: string }[] };

function load(c: Case): Outcome {
  try {
    const stack = readStackFile(c.file);
    // A secret is either in the file in plaintext (the mistake) or set as a secret, never both.
    const secrets = c.secrets.filter((k) => !(k in stack.values));
    const { warnings } = parseLabConfig(stackConfigSource(stack, secrets), c.file);
    return { kind: "loaded", warnings };
  } catch (err) {
    if (err instanceof StackFileError) return { kind: "unreadable", message: err.message };
    if (err instanceof LabConfigError) return { kind: "refused", error: err };
    throw err;
  }
}

const all = cases();

describe("the corpus of broken stack files", () => {
  it("holds the cases of issue 22 and more: at least 100 files, each with a known outcome", () => {
    expect(all.length).toBeGreaterThanOrEqual(100);
    for (const c of all) expect(["refused", "unreadable", "warning", "accepted"]).toContain(c.expect);
  });

  it.each(all.map((c) => [path.basename(c.file), c] as const))("%s", (_name, c) => {
    const outcome = load(c);
    switch (c.expect) {
      case "refused": {
        expect(outcome.kind).toBe("refused");
        const error = (outcome as { error: LabConfigError }).error;
        // One mistake, one message: the file, the key as written, the rule and the fix.
        expect(error.problems.map((p) => p.path)).toEqual([c.key]);
        expect(error.problems[0]?.message).toContain(c.message);
        expect(
          error.message.startsWith(`Invalid lab config in ${c.file} (1 problem); nothing was applied:`),
        ).toBe(true);
        if (c.absent) expect(error.message).not.toContain(c.absent);
        break;
      }
      case "unreadable": {
        expect(outcome.kind).toBe("unreadable");
        const message = (outcome as { message: string }).message;
        expect(message.split("\n")).toHaveLength(1);
        expect(message).toContain(c.message);
        expect(message.startsWith(c.key ? `${c.file}:${c.key}: ` : c.file)).toBe(true);
        break;
      }
      case "warning": {
        expect(outcome.kind).toBe("loaded");
        const warnings = (outcome as { warnings: { path: string; message: string }[] }).warnings;
        expect(warnings.map((w) => w.path)).toEqual([c.key]);
        expect(warnings[0]?.message).toContain(c.message);
        break;
      }
      case "accepted":
        expect(outcome).toEqual({ kind: "loaded", warnings: [] });
        break;
    }
  });
});

describe("placeholders pulumi up would refuse", () => {
  it("names the gated model that makes the Hugging Face token required", () => {
    const stack = readStackFile(path.join(DIR, "Pulumi.gated-llama-no-token.yaml"));
    expect(placeholderNotes(stack)).toContain(
      "placeholder: secret citadel:huggingfaceToken is not set in this stack, and vllm.servers.chat.model meta-llama/Llama-3.1-8B-Instruct is gated on Hugging Face (pulumi up would refuse); run `pulumi config set --secret citadel:huggingfaceToken hf_...`",
    );
  });

  it("says nothing of a host whose key is pinned, or of a secret the stack holds", () => {
    const stack = readStackFile(path.join(DIR, "Pulumi.gated-llama-no-token.yaml"));
    const hosts = stack.values.hosts as Record<string, { ssh: { hostKey: string } }>;
    hosts.citadel!.ssh.hostKey =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    stack.secure.push(...LAB_SECRETS, "huggingfaceToken");
    expect(placeholderNotes(stack)).toEqual([]);
  });
});
