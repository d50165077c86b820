/**
 * The conformance tier's record: one line per check as it finishes, `N passed, M failed` at the
 * end, and out/conformance.json with tool, version, check, result and seconds for each.
 */
export interface CheckRecord {
  tool: string;
  version: string;
  check: string;
  result: "passed" | "failed";
  seconds: number;
  /** What failed, in the upstream program's own words where it gave any. */
  detail?: string;
}

export class CheckRun {
  readonly records: CheckRecord[] = [];

  constructor(private readonly print: (line: string) => void = (l) => console.log(l)) {}

  /** Runs one check; a thrown error fails it with the error's message. Never throws. */
  async check(
    tool: string,
    version: string,
    check: string,
    fn: () => Promise<void> | void,
  ): Promise<boolean> {
    const started = Date.now();
    let detail: string | undefined;
    try {
      await fn();
    } catch (e) {
      detail = (e instanceof Error ? e.message : String(e)).trim() || "failed without a message";
    }
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    const result = detail === undefined ? "passed" : "failed";
    this.records.push({ tool, version, check, result, seconds, ...(detail ? { detail } : {}) });
    const head = `${result === "passed" ? "ok  " : "FAIL"}  ${tool} ${version}  ${check}  (${seconds} s)`;
    this.print(detail ? `${head}\n${indent(detail)}` : head);
    return detail === undefined;
  }

  /** Records a check that could not run because its tool is missing: a failure, never a skip. */
  missing(tool: string, version: string, check: string, why: string): void {
    this.records.push({ tool, version, check, result: "failed", seconds: 0, detail: why });
    this.print(`FAIL  ${tool} ${version}  ${check}\n${indent(why)}`);
  }

  get passed(): number {
    return this.records.filter((r) => r.result === "passed").length;
  }

  get failed(): number {
    return this.records.filter((r) => r.result === "failed").length;
  }

  summary(): string {
    return `${this.passed} passed, ${this.failed} failed`;
  }
}

function indent(text: string): string {
  const lines = text.split("\n");
  const shown = lines.length > 40 ? [...lines.slice(0, 40), `… ${lines.length - 40} more lines`] : lines;
  return shown.map((l) => `      ${l}`).join("\n");
}
