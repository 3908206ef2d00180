// The verification page: reads the three inputs, runs the WebAssembly
// verifier on this machine and shows each check in French.
import { loadVerifier, fileSlices } from "./verifier.mjs";

const CHECKS = {
  key: "Clé du registre",
  seal: "Scellement lisible",
  signature: "Signature du point de contrôle",
  inclusion: "Inclusion dans le registre (preuve de Merkle)",
  record: "Enregistrement scellé",
  document: "Document",
};
const RESULTS = { pass: "conforme", fail: "non conforme", "not-checked": "non vérifié" };
const FIELDS = {
  archive_id: "Archive",
  kind: "Événement",
  time: "Date du scellement",
  actor: "Auteur",
  content_sha256: "Empreinte SHA-256",
  size: "Taille (octets)",
  index: "Position dans le registre",
  origin: "Registre",
};

const verifier = fetch("minutier_verifier_wasm.wasm")
  .then((r) => r.arrayBuffer())
  .then(loadVerifier);

function show(report) {
  const section = document.getElementById("resultat");
  document.getElementById("verdict").textContent = report.ok
    ? "Le scellement est valide : ce document est celui qui a été scellé."
    : "Le scellement n'est pas valide pour ce document.";
  const list = document.getElementById("controles");
  list.replaceChildren(
    ...report.checks.map((c) => {
      const li = document.createElement("li");
      li.className = c.result;
      li.dataset.check = c.check;
      li.dataset.result = c.result;
      const what = document.createElement("strong");
      what.textContent = `${CHECKS[c.check] ?? c.check} : ${RESULTS[c.result] ?? c.result}`;
      const detail = document.createElement("span");
      detail.className = "detail";
      detail.textContent = c.detail;
      li.append(what, detail);
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
          ? new Date(value).toLocaleString("fr-FR", { dateStyle: "long", timeStyle: "medium", timeZone: "Europe/Paris" })
          : typeof value === "number"
            ? value.toLocaleString("fr-FR")
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
