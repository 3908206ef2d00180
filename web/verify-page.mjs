// The verification page: reads the three inputs, runs the WebAssembly
// verifier on this machine and shows each check in the page's language
// (French unless the page says English).
import { loadVerifier, fileSlices } from "./verifier.mjs";

const TEXTS = {
  fr: {
    checks: {
      key: "Clé du registre",
      seal: "Scellement lisible",
      signature: "Signature du point de contrôle",
      inclusion: "Inclusion dans le registre (preuve de Merkle)",
      record: "Enregistrement scellé",
      document: "Document",
    },
    results: { pass: "conforme", fail: "non conforme", "not-checked": "non vérifié" },
    fields: {
      archive_id: "Archive",
      kind: "Événement",
      time: "Date du scellement",
      actor: "Auteur",
      content_sha256: "Empreinte SHA-256",
      size: "Taille (octets)",
      index: "Position dans le registre",
      origin: "Registre",
    },
    // What each outcome means, in French; the verifier's own wording
    // (English, with the figures) follows as the technical detail.
    explain: {
      key: { pass: "La clé de vérification est lisible et utilisable.", fail: "La clé de vérification donnée ne peut être ni lue ni utilisée." },
      seal: { pass: "Le scellement est bien formé.", fail: "Le scellement est illisible ou mal formé." },
      signature: { pass: "Le point de contrôle est signé par la clé du registre.", fail: "La signature du point de contrôle ne correspond pas à cette clé." },
      inclusion: { pass: "L'enregistrement figure dans le registre sous ce point de contrôle.", fail: "La preuve d'inclusion ne correspond pas au point de contrôle." },
      record: { pass: "L'enregistrement scellé est valide.", fail: "L'enregistrement scellé n'est pas valide." },
      document: { pass: "L'empreinte et la taille du fichier sont celles scellées.", fail: "L'empreinte ou la taille du fichier n'est pas celle scellée : ce n'est pas le document scellé, ou il a été modifié." },
    },
    notChecked: "Non vérifié, car un contrôle précédent a échoué.",
    technical: "Détail technique",
    valid: "Le scellement est valide : ce document est celui qui a été scellé.",
    invalid: "Le scellement n'est pas valide pour ce document.",
    locale: "fr-FR",
  },
  en: {
    checks: {
      key: "Log key",
      seal: "Seal readable",
      signature: "Checkpoint signature",
      inclusion: "Inclusion in the log (Merkle proof)",
      record: "Sealed record",
      document: "Document",
    },
    results: { pass: "holds", fail: "fails", "not-checked": "not checked" },
    fields: {
      archive_id: "Archive",
      kind: "Event",
      time: "Sealed on",
      actor: "By",
      content_sha256: "SHA-256 digest",
      size: "Size (bytes)",
      index: "Position in the log",
      origin: "Log",
    },
    valid: "The seal is valid: this document is the one that was sealed.",
    invalid: "The seal is not valid for this document.",
    locale: "en-GB",
  },
};
const T = TEXTS[document.documentElement.lang] ?? TEXTS.fr;
const CHECKS = T.checks;
const RESULTS = T.results;
const FIELDS = T.fields;

// The console names the verifier's address; the static page finds it
// next to itself.
const wasmUrl =
  document.querySelector("[data-verifier]")?.dataset.verifier ?? "minutier_verifier_wasm.wasm";
const verifier = fetch(wasmUrl)
  .then((r) => r.arrayBuffer())
  .then(loadVerifier);

function show(report) {
  const section = document.getElementById("resultat");
  document.getElementById("verdict").textContent = report.ok
    ? T.valid
    : T.invalid;
  const list = document.getElementById("controles");
  list.replaceChildren(
    ...report.checks.map((c) => {
      const li = document.createElement("li");
      li.className = c.result;
      li.dataset.check = c.check;
      li.dataset.result = c.result;
      const what = document.createElement("strong");
      what.textContent = `${CHECKS[c.check] ?? c.check} : ${RESULTS[c.result] ?? c.result}`;
      li.append(what);
      const said = c.result === "not-checked" ? T.notChecked : T.explain?.[c.check]?.[c.result];
      if (said) {
        const meaning = document.createElement("span");
        meaning.className = "detail";
        meaning.textContent = said;
        li.append(meaning);
      }
      const detail = document.createElement("span");
      detail.className = "detail";
      if (said) detail.append(`${T.technical} : `);
      const words = document.createElement("span");
      words.lang = "en";
      words.textContent = c.detail;
      detail.append(words);
      li.append(detail);
      return li;
    }),
  );
  const record = document.getElementById("enregistrement");
  record.replaceChildren();
  if (report.record) {
    for (const [key, label] of Object.entries(FIELDS)) {
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      const value = report.record[key];
      dd.textContent =
        key === "time"
          ? new Date(value).toLocaleString(T.locale, { dateStyle: "long", timeStyle: "medium", timeZone: "Europe/Paris" })
          : typeof value === "number"
            ? value.toLocaleString(T.locale)
            : String(value);
      record.append(dt, dd);
    }
  }
  section.hidden = false;
  document.getElementById("verdict").focus?.();
}

document.getElementById("verification").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = document.getElementById("document").files[0];
  const seal = document.getElementById("scellement").files[0];
  const keys = document.getElementById("cle").value;
  const report = await (await verifier).verify(fileSlices(file), await seal.text(), keys);
  show(report);
});
