// Lint TypeScript with the recommended rules; prettier owns formatting.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "node_modules/**",
      "policies/node_modules/**",
      "out/**",
      "bin/**",
      "coverage/**",
      "scratch/**",
      ".stryker-tmp/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "prefer-const": "error",
      eqeqeq: ["error", "always"],
    },
  },
  {
    // Plain CommonJS config and reporter files run by jest.
    files: ["**/*.js"],
    languageOptions: {
      sourceType: "commonjs",
      globals: { require: "readonly", module: "writable", __dirname: "readonly", process: "readonly" },
    },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // Tests mutate raw stack-file YAML on purpose, one wrong field at a time; policies read the
    // engine's untyped JSON props.
    files: ["tests/**/*.ts", "policies/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
);
