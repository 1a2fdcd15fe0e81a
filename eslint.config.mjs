import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "state/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
    },
  },
  {
    // The few plain-JavaScript files that run under Node as they are: bin/ (the shim's helper)
    // and scripts/ (the build's bundling step), CommonJS or ES modules.
    files: ["bin/**/*.js", "scripts/**/*.cjs", "scripts/**/*.mjs"],
    languageOptions: {
      globals: { process: "readonly", require: "readonly", module: "writable", __dirname: "readonly", console: "readonly", Buffer: "readonly" },
    },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
