/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  // tests/tiers/conformance/jest/ needs the upstream builds (npm run upstream): the conformance
  // tier runs it (`npm run conformance -- --only jest`), so npm test stays runnable on a fresh machine.
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/tests/tiers/"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  testTimeout: 60000,
  // One worker per core. Jest's default is cores - 1, which on the 2-core CI machine means one
  // worker: the suite ran serially while the other core idled (npm run bench, "npm test").
  maxWorkers: "100%",
  reporters: ["default", ["<rootDir>/tests/support/summary-reporter.js", {}]],
  // A temp dir of the run's own as every test's TMPDIR, which must be empty at the end: a test that
  // leaves something in it fails the run, which names it (tests/support/tmp-setup.ts).
  globalSetup: "<rootDir>/tests/support/tmp-setup.ts",
  globalTeardown: "<rootDir>/tests/support/tmp-teardown.ts",
};
