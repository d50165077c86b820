/**
 * citadel:phoenixSecret's rules (components/config/secrets.ts) against Phoenix 20.26.1's own check
 * of PHOENIX_SECRET, from the pinned build in the upstream cache: phoenix/auth.py
 * `REQUIREMENTS_FOR_PHOENIX_SECRET.validate`, which phoenix/config.py `get_env_phoenix_secret` runs
 * when Phoenix starts. The loader must refuse exactly the values Phoenix refuses, or it either lets
 * a Phoenix that cannot start through, or refuses a secret that works. Part of the conformance tier
 * (`npm run conformance -- --only jest`): `npm test` runs on a machine without the build.
 */
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { SECRETS, secretValueProblem } from "../../../../components/config/secrets";
import { venvPython } from "../../../../lib/upstream/pypi";
import { cachedUpstream } from "../../../support/upstream";

const spec = SECRETS.find((s) => s.key === "phoenixSecret")!;

/** Phoenix's verdict on each value: its error message, or null when it takes the value. */
function phoenixVerdicts(values: string[]): (string | null)[] {
  const r = spawnSync(
    venvPython(cachedUpstream("phoenix")),
    [
      "-c",
      "import json, sys\n" +
        "from phoenix.auth import REQUIREMENTS_FOR_PHOENIX_SECRET as R\n" +
        "out = []\n" +
        "for v in json.load(sys.stdin):\n" +
        "    try:\n" +
        "        R.validate(v, 'Phoenix secret'); out.append(None)\n" +
        "    except ValueError as e:\n" +
        "        out.append(str(e))\n" +
        "print(json.dumps(out))",
    ],
    { input: JSON.stringify(values), encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`Phoenix's check did not run: ${r.stderr}`);
  return JSON.parse(r.stdout) as (string | null)[];
}

it("refuses exactly the PHOENIX_SECRET values Phoenix 20.26.1 refuses", () => {
  const base = "0123456789abcdef0123456789abcdef";
  const edges = [
    "",
    base,
    base.slice(1),
    base.toUpperCase(),
    base.replace(/[0-9]/g, "x"),
    `${base} `,
    `${base}\t`,
    `${base}\u001c`,
    `${base}\u00a0`,
    `${base}é`,
    `${base}\u{1f511}`,
    "\u{1f511}".repeat(31) + "a0",
    `${"é".repeat(30)}a0`,
    `"${base}'\\#`,
  ];
  // Mostly characters Phoenix takes, now and then one it refuses, around the 32 it asks for.
  const chars = fc.oneof(
    { weight: 30, arbitrary: fc.constantFrom(..."az09AZ-_\"'\\#") },
    { weight: 1, arbitrary: fc.constantFrom(" ", "\t", "\n", "\u001c", "\u00a0", "é", "\u{1f511}") },
  );
  const random = fc.sample(fc.array(chars, { minLength: 0, maxLength: 40, size: "max" }), {
    numRuns: 3000,
    seed: 26,
  });
  const values = [...edges, ...random.map((cs) => cs.join(""))];
  const verdicts = phoenixVerdicts(values);
  const disagree = values.filter(
    (v, i) => (verdicts[i] === null) !== (secretValueProblem(spec, v) === undefined),
  );
  expect(disagree).toEqual([]);
  // Both sides were exercised, well beyond the edges (fast-check's arrays are short unless their
  // size is "max": without it no random value reached 32 characters).
  expect(verdicts.filter((v) => v === null).length).toBeGreaterThan(100);
  expect(verdicts.filter((v) => v !== null).length).toBeGreaterThan(100);
});
