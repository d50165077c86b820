/** Shell rendering that every host script goes through. Pure functions, tested without mocks. */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";

export type ParamValue = string | number | boolean;

/** Single-quotes a value for POSIX shells: `it's` becomes `'it'\''s'`. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const PARAM_NAME = /^[A-Z][A-Z0-9_]*$/;
const HEADER = /^#!\/usr\/bin\/env bash\n(?:#.*\n)*set -euo pipefail\n/;

/** Root of the script files; paths given to `renderScript` are relative to `components/`. */
export const COMPONENTS_DIR = path.resolve(__dirname, "..");

export function readScript(relativePath: string): string {
  const body = readFileSync(path.join(COMPONENTS_DIR, relativePath), "utf8");
  if (!HEADER.test(body)) {
    throw new Error(`${relativePath} must start with "#!/usr/bin/env bash" and "set -euo pipefail"`);
  }
  return body;
}

/**
 * The script exactly as it runs on the host: parameters first as `export NAME='value'`, then the
 * names of secrets read from stdin (their values never enter the text), then the script itself.
 */
export function renderScript(
  relativePath: string,
  params: Readonly<Record<string, ParamValue>>,
  secretNames: readonly string[] = [],
): string {
  const body = readScript(relativePath);
  const names = [...Object.keys(params), ...secretNames];
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null)
      throw new Error(`parameter ${name} of ${relativePath} has no value`);
  }
  for (const name of names) {
    if (!PARAM_NAME.test(name))
      throw new Error(`parameter ${name} of ${relativePath} must be UPPER_SNAKE_CASE`);
  }
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) throw new Error(`parameter ${duplicate} of ${relativePath} is given twice`);
  const exportLines = Object.keys(params)
    .sort()
    .map((name) => `export ${name}=${shellQuote(String(params[name]))}`);
  const reads = [...secretNames].sort().map((name) => `IFS= read -r ${name} || true; export ${name}`);
  const [shebang, ...rest] = body.split("\n");
  const prelude = readScript(PRELUDE).split("\n").slice(1);
  return [
    shebang,
    `# citadel script: ${relativePath}`,
    UNUSED_HELPERS,
    ...exportLines,
    ...reads,
    ...prelude,
    ...rest,
  ].join("\n");
}

/**
 * A script that runs on its own on the host (e.g. from a systemd timer): its parameters as
 * exports, then the script, without the convergence prelude.
 */
export function renderStandalone(relativePath: string, params: Readonly<Record<string, ParamValue>>): string {
  const [shebang, ...rest] = readScript(relativePath).split("\n");
  const exportLines = Object.keys(params)
    .sort()
    .map((name) => {
      if (!PARAM_NAME.test(name))
        throw new Error(`parameter ${name} of ${relativePath} must be UPPER_SNAKE_CASE`);
      return `export ${name}=${shellQuote(String(params[name]))}`;
    });
  return [shebang, `# citadel script: ${relativePath}`, LITERAL_PARAMS, ...exportLines, ...rest].join("\n");
}

/** Parameters are literal text: a `$` in a config file must not expand. The body is checked on its own. */
const LITERAL_PARAMS = "# shellcheck disable=SC2016 # parameters are literal text";

/** File-wide: the prelude is a library, and no script calls every helper in it. */
const UNUSED_HELPERS =
  "# shellcheck disable=SC2317,SC2016 # prelude helpers this script does not call; parameters are literal text";

/** Shared helpers (say, die, changed, write_file, ...) included in every rendered script. */
export const PRELUDE = "remote/prelude.sh";

const DELIMITER = "CITADEL_SCRIPT_EOF";

/**
 * Wraps a rendered script in the command line that runs it (over SSH, or locally). The quoted heredoc keeps the text
 * verbatim, and `bash -c` gets the whole script before it runs, so nothing in it can eat stdin.
 */
export function wrapScript(script: string, sudo: boolean): string {
  if (script.split("\n").includes(DELIMITER))
    throw new Error(`a script may not contain the line ${DELIMITER}`);
  const runner = sudo ? "sudo -n bash" : "bash";
  return `${runner} -c "$(cat <<'${DELIMITER}'\n${script}\n${DELIMITER}\n)" citadel-script`;
}

/** Content hash used as a command's trigger; stable across machines and runs. */
export function contentHash(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
