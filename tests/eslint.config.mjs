// eslint for the browser code (static/*.js, embed.js): plain scripts, no build step, no
// imports here so the file works from tests/node_modules. Run by scripts/test.
const browser = Object.fromEntries(
  [
    "window", "document", "location", "history", "parent", "navigator", "fetch", "console",
    "setTimeout", "clearTimeout", "setInterval", "clearInterval", "addEventListener",
    "removeEventListener", "postMessage", "getComputedStyle", "scrollTo", "scrollY",
    "localStorage", "sessionStorage", "crypto", "btoa", "atob", "confirm", "alert", "URL",
    "URLSearchParams", "Blob", "TextEncoder", "Intl", "ResizeObserver", "EventSource",
    "MessageEvent", "HTMLElement", "Node", "Promise", "matchMedia",
  ].map((name) => [name, "readonly"]),
);

export default [
  {
    files: ["**/*.js"],
    languageOptions: { ecmaVersion: 2020, sourceType: "script", globals: browser },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "no-undef": "error",
      "no-unused-vars": ["error", { caughtErrors: "none" }],
      "no-redeclare": "error",
      "no-use-before-define": ["error", { functions: false, variables: true }],
      "no-shadow": "error",
      "no-var": "off",
      "no-implied-eval": "error",
      "no-eval": "error",
      "no-new-func": "error",
      "no-unreachable": "error",
      "no-dupe-keys": "error",
      "no-self-assign": "error",
      "no-constant-condition": "error",
      "no-fallthrough": "error",
    },
  },
];
