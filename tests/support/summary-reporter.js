// Writes jest's totals to out/test-summary.json and prints them as the plain line CI reads:
// "<N> passed, <M> failed".
const fs = require("node:fs");
const path = require("node:path");

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const summary = {
      passed: results.numPassedTests,
      failed,
      skipped: results.numPendingTests + results.numTodoTests,
    };
    const out = path.join(__dirname, "..", "..", "out");
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, "test-summary.json"), JSON.stringify(summary) + "\n");
    process.stdout.write(`\n${summary.passed} passed, ${summary.failed} failed\n`);
  }
}

module.exports = SummaryReporter;
