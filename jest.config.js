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
};
