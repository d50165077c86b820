// Writes jest's totals to out/test-summary.json and prints them as the plain line CI reads:
// "<N> passed, <M> failed". The names of the failed tests go in too: .ci/run repeats them at the
// end of its log, where a log cut to its tail still shows them.
const fs = require("node:fs");
const path = require("node:path");

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const summary = {
      passed: results.numPassedTests,
      failed,
      skipped: results.numPendingTests + results.numTodoTests,
      failures: results.testResults.flatMap((file) => [
        ...(file.testExecError
          ? [{ file: path.relative(process.cwd(), file.testFilePath), test: "(the file did not run)" }]
          : []),
        ...file.testResults
          .filter((t) => t.status === "failed")
          .map((t) => ({ file: path.relative(process.cwd(), file.testFilePath), test: t.fullName })),
      ]),
    };
    const out = path.join(__dirname, "..", "..", "out");
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, "test-summary.json"), JSON.stringify(summary) + "\n");
    process.stdout.write(`\n${summary.passed} passed, ${summary.failed} failed\n`);
  }
}

module.exports = SummaryReporter;
