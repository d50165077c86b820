/**
 * Reads the stack's `citadel:` config through the one schema. On bad input it reports every
 * problem at once, each with its key path, what is wrong and a valid example, and throws before
 * the program registers a single resource. The jobs are in their own modules: where config comes
 * from (source.ts), the problems and their error (errors.ts), the secrets' checks
 * (secret-checks.ts), the one-server vLLM migration (legacy.ts), zod's issues as problems with
 * typo detection (issues.ts), and the namespace checks and warnings (warnings.ts).
 */
import { labSchemaWith, type LabConfig, type PlanChecks } from "./schema";
import { formatPath, LabConfigError, type ConfigProblem } from "./errors";
import { issueToProblems } from "./issues";
import { legacyVllmProblem } from "./legacy";
import { missingSecrets, secretValueProblems, sortSecrets } from "./secret-checks";
import { NAMESPACE, type ConfigSource } from "./source";
import { labWarnings, namespaceFindings } from "./warnings";

export interface LoadedConfig {
  lab: LabConfig;
  /** The secrets this lab needs and the stack has, plus optional ones that are set. */
  secretKeys: string[];
  /** Settings that are legal but probably not meant; they never stop a run. */
  warnings: ConfigProblem[];
}

/**
 * Validates the whole namespace, with the plan's cross-field rules handed in. Pure: it never
 * touches the engine. The plan layer's `parseLabConfig` (components/plan) is the one to call.
 */
export function parseConfig(
  source: ConfigSource,
  sourceName: string,
  /** The plan's cross-field rules (components/plan PlanChecker). */
  plan: PlanChecks,
): LoadedConfig {
  const problems: ConfigProblem[] = [];
  const namespaces = namespaceFindings(source.foreignKeys?.() ?? [], NAMESPACE);
  problems.push(...namespaces.problems);
  const { raw, secretKeys: secretKeysSet, problems: secretProblems } = sortSecrets(source);
  problems.push(...secretProblems);
  // Before the schema: a bad value is reported with every other problem, not after they are fixed.
  problems.push(...secretValueProblems(source, secretKeysSet));

  const legacy = legacyVllmProblem(raw.vllm);
  if (legacy) {
    problems.push(legacy);
    delete raw.vllm;
  }
  const parsed = labSchemaWith(plan).safeParse(raw);
  if (!parsed.success) {
    // One mistake, one message: a value that breaks its pattern also breaks the rules after it
    // (a subnet that is not one has no host bits to report), so each key keeps its first problem.
    const seen = new Set<string>();
    for (const p of parsed.error.issues.flatMap(issueToProblems)) {
      if (seen.has(p.path)) continue;
      seen.add(p.path);
      problems.push(p);
    }
  }

  if (parsed.success) problems.push(...missingSecrets(source, parsed.data, secretKeysSet));
  if (problems.length > 0 || !parsed.success) throw new LabConfigError(problems, sourceName);
  const warnings: ConfigProblem[] = [
    ...namespaces.warnings,
    ...labWarnings(parsed.data).map((w) => ({ path: formatPath(w.path), message: w.message })),
  ];
  return { lab: parsed.data, secretKeys: secretKeysSet, warnings };
}
