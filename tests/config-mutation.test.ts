/**
 * Mutates the lab's own stack file one valid-looking edit at a time (a number nudged out of range,
 * a unit changed, a subnet with host bits, a key removed, a model swapped...). Whatever the edit:
 * the loader either refuses with problems that each name a key, or accepts a plan that passes
 * every mandatory citadel-guard policy, so nothing the loader lets through is stopped later by the
 * policy pack (or by the program itself with a stack trace).
 */
import fc from "fast-check";
import { LabConfigError } from "../components/config";
import { parseLabConfig } from "../components/plan";
import { runPolicies } from "../lib/synth/policies";
import { fromConfigMap, stackConfigSource } from "../lib/synth/stackfile";
import { LAB_SECRETS, labConfigMap } from "./support/lab";
import { synthLab } from "./support/synth";

type Path = (string | number)[];

/** Every leaf (scalar or array) of the stack's config map, by path. */
function leaves(value: unknown, at: Path = []): Path[] {
  if (value !== null && typeof value === "object" && !Array.isArray(value))
    return Object.entries(value).flatMap(([k, v]) => leaves(v, [...at, k]));
  if (Array.isArray(value) && value.some((v) => v !== null && typeof v === "object"))
    return [at, ...value.flatMap((v, i) => leaves(v, [...at, i]))];
  return [at];
}

const BASE = labConfigMap();
const PATHS = leaves(BASE).filter((p) => p.length > 1);

function get(config: unknown, path: Path): unknown {
  return path.reduce<unknown>((node, k) => (node as Record<string | number, unknown>)?.[k], config);
}

/** Values an operator could plausibly type, by the kind of value the key holds now. */
function candidates(current: unknown): unknown[] {
  const DELETE = undefined;
  if (typeof current === "number")
    return [0, -1, 1, 0.5, 1.5, 2, 3, 100, 65536, current * 2, current / 2, String(current), DELETE];
  if (typeof current === "boolean") return [!current, "yes", DELETE];
  if (Array.isArray(current)) return [[], [2], [0, 0], DELETE];
  const s = String(current);
  return [
    "",
    s.toUpperCase(),
    `${s}x`,
    s.slice(0, -1),
    `${s} `,
    "0d",
    "0h",
    "0s",
    "5m",
    "1y",
    "744h",
    "192.168.10.29/24",
    "0.0.0.0/0",
    "10.0.0.0/8",
    "192.168.10.29",
    "/srv/data/x",
    "/opt/x",
    "/srv/backup/x",
    "*-*-* 25:00",
    "every day at 3",
    "daily",
    "Sat..Mon 03:00",
    "off",
    "all-free",
    "1TiB",
    "10GiB",
    "64GiB",
    "Qwen/Qwen2.5-7B-Instruct",
    "meta-llama/Llama-3.1-8B-Instruct",
    "acme/unknown-7b",
    "citadel",
    "pi",
    DELETE,
  ];
}

const edit = fc
  .integer({ min: 0, max: PATHS.length - 1 })
  .chain((i) => {
    const path = PATHS[i] as Path;
    return fc.tuple(fc.constant(path), fc.constantFrom(...candidates(get(BASE, path))));
  })
  .filter(([path, value]) => JSON.stringify(get(BASE, path)) !== JSON.stringify(value));

function apply(path: Path, value: unknown): Record<string, unknown> {
  const config = labConfigMap();
  const parent = get(config, path.slice(0, -1)) as Record<string | number, unknown>;
  const key = path[path.length - 1] as string | number;
  if (value === undefined) delete parent[key];
  else parent[key] = value;
  return config;
}

describe("one edit to the lab's stack file", () => {
  it("is refused naming a key, or planned so that every mandatory policy passes", async () => {
    await fc.assert(
      fc.asyncProperty(edit, async ([path, value]) => {
        const config = apply(path, value);
        let refused: LabConfigError | undefined;
        try {
          parseLabConfig(stackConfigSource(fromConfigMap(config), LAB_SECRETS), "Pulumi.citadel.yaml");
        } catch (err) {
          if (!(err instanceof LabConfigError)) throw err;
          refused = err;
        }
        if (refused) {
          expect(refused.problems.length).toBeGreaterThan(0);
          for (const p of refused.problems) {
            expect(p.path).toMatch(/^citadel:[A-Za-z]/);
            expect(p.message.length).toBeGreaterThan(10);
          }
          return;
        }
        const result = await synthLab(config);
        const mandatory = (await runPolicies(result)).filter((v) => v.enforcementLevel === "mandatory");
        expect({ edit: [path.join("."), value], mandatory }).toEqual({
          edit: [path.join("."), value],
          mandatory: [],
        });
      }),
      // Bounded: each accepted edit synthesises the whole lab. Seeded, so that CI runs the same
      // edits every time and a red run always names a change of ours; explore other edits with
      // CITADEL_MUTATION_SEED=random (and more of them with CITADEL_MUTATION_RUNS).
      {
        numRuns: Number(process.env.CITADEL_MUTATION_RUNS ?? 25),
        ...(process.env.CITADEL_MUTATION_SEED === "random"
          ? {}
          : { seed: Number(process.env.CITADEL_MUTATION_SEED ?? 20261206) }),
      },
    );
  }, 120_000);
});
