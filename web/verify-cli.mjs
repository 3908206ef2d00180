// Runs the browser's verifier under Node, for tests and for auditors who
// prefer a terminal: node web/verify-cli.mjs VERIFIER.wasm DOCUMENT SEAL KEY
// Prints the JSON report; exits 0 when every check passes, 1 otherwise.
import { createReadStream, readFileSync } from "node:fs";
import { loadVerifier } from "./verifier.mjs";

const [wasm, document, seal, key] = process.argv.slice(2);
if (!key) {
  console.error("usage: node web/verify-cli.mjs VERIFIER.wasm DOCUMENT SEAL KEY");
  process.exit(2);
}
const verifier = await loadVerifier(readFileSync(wasm));
const slices = createReadStream(document, { highWaterMark: 1 << 20 });
const report = await verifier.verify(
  (async function* () {
    for await (const chunk of slices) yield new Uint8Array(chunk);
  })(),
  readFileSync(seal, "utf8"),
  readFileSync(key, "utf8"),
);
console.log(JSON.stringify(report, null, 1));
process.exit(report.ok ? 0 : 1);
