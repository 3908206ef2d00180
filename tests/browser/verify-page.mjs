// The verification page (web/verify.html) in Debian's Chromium, driven by
// Playwright: a sealed document is declared valid, an altered one is not
// (the document check fails, the others hold); each page is screenshotted
// for review and checked with axe-core (no serious or critical violation).
//
// Usage: node tests/browser/verify-page.mjs WASM DOCUMENT ALTERED SEAL KEY SHOTS_DIR
// (tests/tests/wasm_verifier.rs runs it on seals from the real daemon).
import { createServer } from "node:http";
import { readFileSync, mkdirSync } from "node:fs";
import { extname, join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const [wasm, documentPath, alteredPath, sealPath, keyPath, shots] = process.argv.slice(2);
if (!shots) {
  console.error("usage: node verify-page.mjs WASM DOCUMENT ALTERED SEAL KEY SHOTS_DIR");
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const web = join(here, "..", "..", "web");
const axeSource = readFileSync(join(here, "node_modules", "axe-core", "axe.min.js"), "utf8");
const types = { ".html": "text/html; charset=utf-8", ".mjs": "text/javascript", ".css": "text/css", ".wasm": "application/wasm" };

// The page as the appliance will serve it: static files, a strict policy.
const server = createServer((req, res) => {
  const name = new URL(req.url, "http://x").pathname.slice(1) || "verify.html";
  const file = name === "minutier_verifier_wasm.wasm" ? wasm : join(web, name);
  if (name.includes("..") || name.includes("/")) {
    res.writeHead(404).end();
    return;
  }
  let body;
  try {
    body = readFileSync(file);
  } catch {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, {
    "content-type": types[extname(file)] ?? "application/octet-stream",
    "content-security-policy":
      "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  });
  res.end(body);
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const url = `http://127.0.0.1:${server.address().port}/verify.html`;

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const failures = [];
const expect = (cond, what) => { if (!cond) failures.push(what); };
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  mkdirSync(shots, { recursive: true });
  await page.goto(url);
  await page.screenshot({ path: join(shots, "verification-empty.png"), fullPage: true });

  async function verify(documentFile, shot) {
    await page.setInputFiles("#document", documentFile);
    await page.setInputFiles("#scellement", sealPath);
    await page.fill("#cle", readFileSync(keyPath, "utf8"));
    await page.click("#verifier");
    await page.waitForSelector("#resultat:not([hidden]) li[data-check=document]");
    await page.screenshot({ path: join(shots, shot), fullPage: true });
    return page.$$eval("#controles li", (items) =>
      items.map((li) => [li.dataset.check, li.dataset.result, li.textContent]));
  }

  // Keyboard only: the form is reachable and usable with Tab (RGAA 7.3).
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement?.id);
  expect(focused === "document", `Tab first reaches #${focused}, not the document field`);

  let checks = await verify(documentPath, "verification-valid.png");
  expect(checks.length === 6 && checks.every(([, r]) => r === "pass"),
    `sealed document: ${JSON.stringify(checks)}`);
  const verdict = await page.textContent("#verdict");
  expect(verdict.includes("est valide"), `verdict: ${verdict}`);
  const shown = await page.textContent("#enregistrement");
  expect(shown.includes("Position dans le registre"), "the record's fields are shown");

  const axe = async (label) => {
    // Evaluated through the debugging protocol, which the page's
    // Content-Security-Policy (rightly) does not let a script tag do.
    await page.evaluate(axeSource);
    const result = await page.evaluate(() => window.axe.run(document));
    for (const v of result.violations) {
      if (v.impact === "serious" || v.impact === "critical") {
        failures.push(`axe (${label}): ${v.id} (${v.impact}): ${v.help}`);
      }
    }
    return result.violations.length;
  };
  const minor = await axe("valid result");

  checks = await verify(alteredPath, "verification-altered.png");
  const byCheck = Object.fromEntries(checks.map(([c, r]) => [c, r]));
  expect(byCheck.document === "fail", `altered document: ${JSON.stringify(checks)}`);
  expect(["key", "seal", "signature", "inclusion", "record"].every((c) => byCheck[c] === "pass"),
    `altered document, other checks: ${JSON.stringify(checks)}`);
  const refused = await page.textContent("#verdict");
  expect(refused.includes("n'est pas valide"), `verdict: ${refused}`);
  await axe("failed result");

  expect(errors.length === 0, `errors in the page: ${errors.join("; ")}`);
  console.log(`verification page: valid and altered documents judged, ${minor} minor accessibility notes, screenshots in ${shots}`);
} finally {
  await browser.close();
  server.close();
}
if (failures.length) {
  console.error(failures.join("\n"));
  process.exit(1);
}
