// The web console in Debian's Chromium, driven by Playwright, against the
// real daemon (tests/tests/console.rs starts it and makes the accounts).
// Each page is screenshotted for review and checked with axe-core: no
// serious or critical violation. Prints one JSON line with what it found.
//
// Usage: node tests/browser/console.mjs CONFIG.json
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { createHmac } from "node:crypto";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const here = dirname(fileURLToPath(import.meta.url));
const axeSource = readFileSync(join(here, "node_modules", "axe-core", "axe.min.js"), "utf8");
const { url, shots, downloads } = config;
mkdirSync(shots, { recursive: true });
mkdirSync(downloads, { recursive: true });

const failures = [];
const expect = (cond, what) => {
  if (!cond) failures.push(what);
};

// RFC 6238 (SHA-1, 30 s, 6 digits), computed here independently of the
// appliance.
function totp(base32) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, "0");
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

const errors = [];
async function person(locale = "fr-FR") {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale, acceptDownloads: true });
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    // Refusals the test provokes are logged by Chromium as failed loads.
    if (m.type() === "error" && !/status of 40[0-9]/.test(m.text())) errors.push(m.text());
  });
  return { context, page };
}

async function axe(page, label) {
  // Evaluated through the debugging protocol, which the console's
  // Content-Security-Policy (rightly) does not let a script tag do.
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] }));
  for (const v of result.violations) {
    if (v.impact === "serious" || v.impact === "critical") {
      failures.push(`axe (${label}): ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target).join(", ")}`);
    }
  }
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  await axe(page, name);
}

async function signIn(page, who, code) {
  await page.goto(`${url}/signin`);
  await page.fill("#login", who.login);
  await page.fill("#password", who.password);
  if (code) await page.fill("#totp", code);
  await Promise.all([page.waitForNavigation(), page.click("form[action='/signin'] button[type=submit]")]);
}

const result = {};
try {
  // ── The archivist ──────────────────────────────────────────────────
  const { page } = await person();
  let response = await page.goto(`${url}/`);
  expect(page.url().includes("/signin?reason=required"), `not signed in, / leads to ${page.url()}`);
  expect(response.headers()["content-security-policy"]?.includes("default-src 'none'"), "strict CSP");
  const cookieFlags = (await response.allHeaders())["set-cookie"] ?? "";
  expect(/Secure/.test(cookieFlags) && /HttpOnly/.test(cookieFlags) && /SameSite=Strict/.test(cookieFlags),
    `sign-in cookie flags: ${cookieFlags}`);
  expect((await page.getAttribute("html", "lang")) === "fr", "French first");
  await shot(page, "signin");

  // Keyboard: the first Tab reaches the skip link, then the form.
  await page.keyboard.press("Tab");
  expect((await page.evaluate(() => document.activeElement?.className)) === "skip", "skip link first");

  await signIn(page, { login: "marie", password: "wrong password!" });
  expect((await page.textContent("#erreur-connexion"))?.includes("incorrect"), "a wrong password is refused");
  await signIn(page, config.archivist);
  expect(page.url() === `${url}/`, `after sign-in: ${page.url()}`);
  expect((await page.textContent("h1")).includes("Tableau de bord"), "dashboard");
  await shot(page, "dashboard");

  // Deposit: two files, then a SEDA package.
  await page.goto(`${url}/deposit`);
  await page.fill("#title", "Délibération du conseil municipal");
  await page.fill("#agency", "MAIRIE-TEST");
  await page.fill("#keywords", "conseil, délibération");
  await page.fill("#start", "2026-11-02");
  await page.fill("#end", "2026-11-02");
  await page.setInputFiles("#fichiers", [config.document]);
  await page.click("#verser");
  await page.waitForSelector("#fichiers-envoyes li[data-result]");
  const first = await page.$eval("#fichiers-envoyes li[data-result]", (li) => [li.dataset.result, li.dataset.archive, li.textContent]);
  expect(first[0] === "sealed", `deposit: ${first[2]}`);
  result.archive_id = first[1];
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.click(`#fichiers-envoyes li[data-archive='${first[1]}'] a.seal`),
  ]);
  const sealPath = join(downloads, `${first[1]}.tlog-proof`);
  await download.saveAs(sealPath);

  // A draft to eliminate: no retention left, final action destroy.
  await page.fill("#title", "");
  await page.fill("#keywords", "");
  await page.fill("#rule", "APP-BROUILLON");
  await page.fill("#years", "0");
  await page.selectOption("#final", "destroy");
  await page.setInputFiles("#fichiers", [config.draft]);
  await page.click("#verser");
  await page.waitForSelector("#fichiers-envoyes li[data-result]:nth-child(2)");
  const draft = await page.$eval("#fichiers-envoyes li[data-result]:nth-child(2)", (li) => [li.dataset.result, li.dataset.archive, li.textContent]);
  expect(draft[0] === "sealed", `draft: ${draft[2]}`);
  result.draft_id = draft[1];

  await page.setInputFiles("#paquet", config.package);
  await page.click("#verser");
  await page.waitForSelector("#fichiers-envoyes li[data-result]:nth-child(3)");
  const pkg = await page.$eval("#fichiers-envoyes li[data-result]:nth-child(3)", (li) => [li.dataset.result, li.querySelectorAll("li[data-archive]").length, li.textContent]);
  expect(pkg[0] === "sealed" && pkg[1] > 0, `SEDA package: ${pkg[2]}`);

  // A folder: each file an archive, titled by its path in the folder.
  await page.fill("#rule", "");
  await page.fill("#years", "");
  await page.selectOption("#final", "keep");
  await page.setInputFiles("#dossier", config.folder);
  await page.click("#verser");
  await page.waitForSelector("#fichiers-envoyes > li[data-result]:nth-child(5)");
  const folder = await page.$$eval("#fichiers-envoyes > li[data-result]", (items) =>
    items.slice(3).map((li) => [li.dataset.result, li.textContent]));
  expect(folder.length === 2 && folder.every(([r]) => r === "sealed"), `folder: ${JSON.stringify(folder)}`);
  expect(folder.some(([, t]) => t.includes("annexes/plan.txt")), `folder paths: ${JSON.stringify(folder)}`);

  // A file dropped on the zone is sent at once.
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(["procès-verbal de la séance\n"], "proces-verbal.txt", { type: "text/plain" }));
    const zone = document.getElementById("depot-zone");
    for (const type of ["dragover", "drop"]) {
      zone.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
    }
  });
  await page.waitForSelector("#fichiers-envoyes > li[data-result]:nth-child(6)");
  const dropped = await page.$eval("#fichiers-envoyes > li[data-result]:nth-child(6)", (li) => [li.dataset.result, li.textContent]);
  expect(dropped[0] === "sealed" && dropped[1].includes("proces-verbal.txt"), `dropped: ${dropped[1]}`);
  await shot(page, "deposit");

  // The checkpoint as it is now, kept for the auditor's consistency check.
  await page.goto(`${url}/audit/checkpoints`);
  const oldCheckpoint = await page.textContent("pre");
  await shot(page, "checkpoints");

  // The language switch, and back.
  await Promise.all([page.waitForNavigation(), page.click("header button[lang=en]")]);
  expect((await page.getAttribute("html", "lang")) === "en" && (await page.textContent("h1")).includes("Checkpoints"),
    `English on the same page: ${await page.textContent("h1")}`);
  await Promise.all([page.waitForNavigation(), page.click("header button[lang=fr]")]);
  expect((await page.getAttribute("html", "lang")) === "fr", "back to French");

  // Search, then the archive's page.
  await page.goto(`${url}/archives?q=${encodeURIComponent("délibération")}`);
  const found = await page.textContent("#resultats");
  expect(found.includes("Délibération du conseil municipal"), "search finds the deposit");
  await page.goto(`${url}/archives?agency=NOWHERE`);
  expect((await page.textContent("main")).includes("Aucune archive"), "a search with no match says so");
  await page.goto(`${url}/archives?q=${encodeURIComponent("délibération")}`);
  await shot(page, "search");
  await page.click(`a[href='/archives/${result.archive_id}']`);
  expect((await page.textContent("#archive-id")) === result.archive_id, "archive page");
  const sha = await page.textContent("#sha256");
  expect(/^[0-9a-f]{64}$/.test(sha), `digest shown: ${sha}`);
  const history = await page.textContent("#historique");
  expect(history.includes("versement") && history.includes("lecture des métadonnées"), `lifecycle: ${history}`);
  await shot(page, "archive");
  const [doc] = await Promise.all([page.waitForEvent("download"), page.click(`a[href='/archives/${result.archive_id}/content']`)]);
  const docPath = join(downloads, "document.pdf");
  await doc.saveAs(docPath);
  expect(readFileSync(docPath).equals(readFileSync(config.document)), "the downloaded document is the deposited one");

  // A legal hold, placed then lifted: both are in the archive's chain.
  await page.goto(`${url}/archives/${result.archive_id}`);
  await page.fill("#hold-reason", "Contentieux en cours devant le tribunal administratif");
  await Promise.all([page.waitForNavigation(), page.click("form[action$='/holds'] button[type=submit]")]);
  const held = await page.$$eval("#gels tr[data-hold]", (rows) => rows.map((r) => r.textContent));
  expect(held.length === 1 && held[0].includes("en vigueur"), `hold placed: ${JSON.stringify(held)}`);
  await shot(page, "hold");
  await Promise.all([page.waitForNavigation(), page.click("form[action$='/lift'] button[type=submit]")]);
  const chain = await page.textContent("#historique");
  expect(chain.includes("gel posé") && chain.includes("gel levé"), `hold in the chain: ${chain}`);
  expect(!(await page.$("form[action$='/lift']")), "no hold left to lift");

  // Corrections: the description, then the rules; a definitive archive's
  // final action cannot change afterwards.
  await Promise.all([page.waitForNavigation(), page.click(`a[href='/archives/${result.archive_id}/edit']`)]);
  await page.fill("#description", "Séance du 2 novembre 2026, budget et voirie");
  await Promise.all([page.waitForNavigation(), page.click("form[action$='/metadata'] button[type=submit]")]);
  expect((await page.textContent("main")).includes("Séance du 2 novembre 2026"), "the description is corrected");
  await page.goto(`${url}/archives/${result.archive_id}/edit`);
  await page.fill("#rule", "APP-DELIBERATIONS");
  await page.fill("#years", "50");
  await page.selectOption("#final", "keep");
  await Promise.all([page.waitForNavigation(), page.click("form[action$='/rules'] button[type=submit]")]);
  const corrected = await page.textContent("#historique");
  expect(corrected.includes("correction de la description") && corrected.includes("changement des règles"), `corrections in the chain: ${corrected}`);
  await page.goto(`${url}/archives/${result.archive_id}/edit`);
  await page.selectOption("#final", "destroy");
  await shot(page, "correction");
  const [refusal] = await Promise.all([page.waitForNavigation(), page.click("form[action$='/rules'] button[type=submit]")]);
  expect(refusal.status() === 409 && (await page.textContent("main")).includes("never be changed"),
    `a definitive archive's final action: ${refusal.status()} ${await page.textContent("main")}`);

  // Verification in the browser: the sealed file holds, a tampered one fails.
  await page.goto(`${url}/verify`);
  async function verify(file, name) {
    await page.setInputFiles("#document", file);
    await page.setInputFiles("#scellement", sealPath);
    await page.click("#verifier");
    await page.waitForSelector("#resultat:not([hidden]) li[data-check=document]");
    await shot(page, name);
    return page.$$eval("#controles li", (items) => Object.fromEntries(items.map((li) => [li.dataset.check, li.dataset.result])));
  }
  let checks = await verify(config.document, "verify-valid");
  expect(Object.values(checks).length === 6 && Object.values(checks).every((r) => r === "pass"), `valid: ${JSON.stringify(checks)}`);
  checks = await verify(config.tampered, "verify-tampered");
  expect(checks.document === "fail" && checks.signature === "pass", `tampered: ${JSON.stringify(checks)}`);

  // Elimination: the archivist proposes.
  await page.goto(`${url}/eliminations`);
  await shot(page, "eliminations");
  await page.check(`input[name=archive][value='${result.draft_id}']`);
  await page.fill("#reason", "Brouillon sans valeur, durée d'utilité échue");
  await Promise.all([page.waitForNavigation(), page.click("form[action='/eliminations'] button[type=submit]")]);
  const eliminationUrl = page.url();
  expect(/\/eliminations\/[A-Z0-9]+$/.test(eliminationUrl), `proposed: ${eliminationUrl}`);
  await shot(page, "elimination-proposed");

  // ── The controller, with a one-time code ──────────────────────────
  const controller = await person();
  await signIn(controller.page, config.controller, "000000");
  expect(controller.page.url().includes("/signin"), "a wrong one-time code is refused");
  const code = totp(config.controller.totp_secret);
  await signIn(controller.page, config.controller, code);
  expect(controller.page.url() === `${url}/`, `controller signed in: ${controller.page.url()}`);
  // The same code again (seen over a shoulder, replayed) is refused.
  const replay = await person();
  await signIn(replay.page, config.controller, code);
  expect(replay.page.url().includes("/signin"), "a one-time code serves once");
  await replay.context.close();
  await controller.page.goto(eliminationUrl);
  await controller.page.fill("#reason", "Visa favorable");
  await Promise.all([controller.page.waitForNavigation(), controller.page.click("button[value=approve]")]);
  await shot(controller.page, "elimination-approved");
  // The controller may not deposit.
  response = await controller.page.goto(`${url}/deposit`);
  expect(response.status() === 403, `controller on /deposit: ${response.status()}`);

  // ── The archivist executes; the certificate ───────────────────────
  await page.goto(eliminationUrl);
  await page.check("#confirm");
  await Promise.all([page.waitForNavigation(), page.click("form[action$='/execute'] button[type=submit]")]);
  const [certificate] = await Promise.all([
    page.waitForEvent("download"),
    page.click("a[href$='/certificate']"),
  ]);
  await certificate.saveAs(join(downloads, "certificate.txt"));
  expect(readFileSync(join(downloads, "certificate.txt"), "utf8").includes(result.draft_id), "the certificate names the archive");
  await shot(page, "elimination-executed");
  response = await page.goto(`${url}/archives/${result.draft_id}`);
  expect((await page.textContent("main")).includes("éliminée"), "the eliminated archive says so");

  // ── The auditor, in English ────────────────────────────────────────
  const auditor = await person("en-GB");
  await signIn(auditor.page, config.auditor);
  expect((await auditor.page.getAttribute("html", "lang")) === "en", "English on request");
  expect((await auditor.page.textContent("h1")).includes("Dashboard"), "English dashboard");
  await auditor.page.goto(`${url}/audit/journal`);
  const journal = await auditor.page.textContent("main");
  expect(journal.includes("Marie Dupont"), "the journal shows the archivist's reads");
  await shot(auditor.page, "journal");
  // The sign-in journal: the archivist's wrong password and the
  // controller's wrong code are there, with their sign-ins.
  await auditor.page.goto(`${url}/audit/sign-ins`);
  const signIns = await auditor.page.$$eval("#connexions tbody tr", (rows) =>
    rows.map((r) => [r.dataset.outcome, r.textContent]));
  const has = (who, outcome) => signIns.some(([o, t]) => o === outcome && t.includes(who));
  expect(has("marie", "failed") && has("marie", "signed-in") && has("paul", "failed") && has("paul", "signed-in"),
    `sign-in journal: ${JSON.stringify(signIns)}`);
  await shot(auditor.page, "sign-ins");
  // The probative value report of the deposited archive.
  await auditor.page.goto(`${url}/archives/${result.archive_id}/report`);
  const report = await auditor.page.$$eval("[data-result]", (rows) => rows.map((r) => r.dataset.result));
  expect(report.includes("pass") && !report.includes("fail"), `report: ${JSON.stringify(report)}`);
  await shot(auditor.page, "report");
  // The checkpoint kept earlier, chosen as a file from the auditor's disk.
  const kept = join(downloads, "checkpoint-kept.txt");
  writeFileSync(kept, oldCheckpoint);
  await auditor.page.goto(`${url}/audit/checkpoints`);
  await auditor.page.setInputFiles("#checkpoint-file", kept);
  await auditor.page.waitForFunction(() => document.getElementById("checkpoint").value.length > 0);
  await Promise.all([auditor.page.waitForNavigation(), auditor.page.click("form[action='/audit/consistency'] button[type=submit]")]);
  const verdict = await auditor.page.getAttribute("#verdict-coherence", "data-result");
  expect(verdict === "pass", `consistency: ${verdict} ${await auditor.page.textContent("main")}`);
  await shot(auditor.page, "consistency");
  // A checkpoint whose root was rewritten does not pass.
  const lines = oldCheckpoint.split("\n");
  const root = Buffer.from(lines[2], "base64");
  root[0] ^= 1;
  lines[2] = root.toString("base64");
  await auditor.page.goto(`${url}/audit/checkpoints`);
  await auditor.page.fill("#checkpoint", lines.join("\n"));
  await Promise.all([auditor.page.waitForNavigation(), auditor.page.click("form[action='/audit/consistency'] button[type=submit]")]);
  const forged = await auditor.page.$("#verdict-coherence[data-result=pass]");
  expect(!forged, "a forged checkpoint does not pass");
  // Wrong role: an auditor may not deposit.
  response = await auditor.page.goto(`${url}/deposit`);
  expect(response.status() === 403, `auditor on /deposit: ${response.status()}`);
  await shot(auditor.page, "refused-role");
  // No CSRF token: refused, and still signed in.
  response = await auditor.context.request.post(`${url}/signout`, { form: { next: "/" }, maxRedirects: 0 });
  expect(response.status() === 403, `sign-out without a token: ${response.status()}`);
  response = await auditor.context.request.post(`${url}/api/deposit?file_name=x`, { data: "x", maxRedirects: 0 });
  expect(response.status() === 403, `upload without a token: ${response.status()}`);
  response = await auditor.page.goto(`${url}/`);
  expect(response.status() === 200 && auditor.page.url() === `${url}/`, "still signed in");
  // Expired session: idle longer than allowed.
  await new Promise((ok) => setTimeout(ok, (config.idle_seconds + 1.5) * 1000));
  await auditor.page.goto(`${url}/audit/journal`);
  expect(auditor.page.url().includes("reason=expired"), `after idling: ${auditor.page.url()}`);
  expect((await auditor.page.textContent("main")).includes("expired"), "the expiry is explained");
  await shot(auditor.page, "expired");

  expect(errors.length === 0, `errors in the pages: ${errors.join("; ")}`);
} catch (e) {
  failures.push(`${e.stack ?? e}`);
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(failures.join("\n"));
  process.exit(1);
}
console.log(JSON.stringify(result));
