// Loads the bindings that `wasm-bindgen --target nodejs` generated (a CommonJS module) and prints
// what the retried call answers. `node run.mjs` reads them from ./pkg (README.md);
// `node run.mjs DIR`, from DIR.
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = process.argv[2] ?? fileURLToPath(new URL("./pkg", import.meta.url));
const require = createRequire(import.meta.url);
const { call_flaky } = require(resolve(pkg, "retry_wasm_example.js"));

try {
  console.log(`call_flaky: ${await call_flaky()}`);
} catch (error) {
  console.error(`call_flaky: gave up: ${error}`);
  process.exitCode = 1;
}
