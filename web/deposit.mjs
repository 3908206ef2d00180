// The deposit page: files (chosen, or dropped, folders included) are sent
// one request each, with a progress bar, then their seals are offered for
// download; a SEDA package is sent whole. The description comes from the
// form; the session's CSRF token goes in a header.

const form = document.getElementById("depot");
const zone = document.getElementById("depot-zone");
const list = document.getElementById("fichiers-envoyes");
const csrf = form.dataset.csrf;
const fr = document.documentElement.lang !== "en";
const T = fr
  ? { sending: "envoi", sealed: "scellé", failed: "refusé", seal: "Télécharger le scellement", open: "Voir l'archive", none: "Choisissez d'abord des fichiers ou un paquet.", archives: "archive(s) scellée(s)" }
  : { sending: "sending", sealed: "sealed", failed: "refused", seal: "Download the seal", open: "See the archive", none: "Choose files or a package first.", archives: "archive(s) sealed" };

let dropped = [];

function field(name) {
  return document.getElementById(name).value;
}

function describe(file) {
  const params = new URLSearchParams();
  const path = file.webkitRelativePath || file.relativePath || file.name;
  params.set("file_name", path.split("/").pop());
  for (const name of ["title", "agency", "description", "keywords", "start", "end", "rule", "years", "final", "access_years"]) {
    params.set(name, field(name));
  }
  if (!field("title") && path !== file.name) params.set("title", path);
  if (file.type) params.set("media_type", file.type);
  return params;
}

function row(label) {
  const li = document.createElement("li");
  const name = document.createElement("span");
  name.textContent = label;
  const bar = document.createElement("progress");
  bar.max = 100;
  bar.value = 0;
  bar.setAttribute("aria-label", label);
  const state = document.createElement("span");
  state.className = "state";
  state.textContent = ` ${T.sending}`;
  li.append(name, " ", bar, state);
  list.append(li);
  return { li, bar, state };
}

function upload(url, file, shown) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) shown.bar.value = Math.round((100 * e.loaded) / e.total);
    };
    xhr.onload = () => {
      let answer = {};
      try {
        answer = JSON.parse(xhr.responseText);
      } catch {
        answer = { error: xhr.statusText };
      }
      resolve({ ok: xhr.status === 200, answer });
    };
    xhr.onerror = () => resolve({ ok: false, answer: { error: "network error" } });
    xhr.send(file);
  });
}

function sealLink(archiveId, seal) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([seal], { type: "text/plain" }));
  a.download = `${archiveId}.tlog-proof`;
  a.textContent = T.seal;
  a.className = "seal";
  return a;
}

function archiveLink(archiveId) {
  const a = document.createElement("a");
  a.href = `/archives/${archiveId}`;
  a.textContent = T.open;
  return a;
}

async function sendFile(file) {
  const shown = row(file.webkitRelativePath || file.relativePath || file.name);
  const { ok, answer } = await upload(`/api/deposit?${describe(file)}`, file, shown);
  shown.li.dataset.result = ok ? "sealed" : "refused";
  if (ok) {
    shown.bar.value = 100;
    shown.state.textContent = ` ${T.sealed} — ${answer.archive_id} `;
    shown.li.dataset.archive = answer.archive_id;
    shown.li.append(sealLink(answer.archive_id, answer.seal), " · ", archiveLink(answer.archive_id));
  } else {
    shown.state.textContent = ` ${T.failed} : ${answer.error}`;
    shown.state.className = "state bad";
  }
}

async function sendPackage(file) {
  const shown = row(file.name);
  const { ok, answer } = await upload(`/api/transfer?file_name=${encodeURIComponent(file.name)}`, file, shown);
  shown.li.dataset.result = ok ? "sealed" : "refused";
  if (!ok) {
    shown.state.textContent = ` ${T.failed} : ${answer.error ?? `${answer.code} ${answer.message}`}`;
    shown.state.className = "state bad";
    return;
  }
  shown.bar.value = 100;
  shown.state.textContent = ` ${T.sealed} — ${answer.archives.length} ${T.archives}`;
  const inner = document.createElement("ul");
  for (const a of answer.archives) {
    const li = document.createElement("li");
    li.dataset.archive = a.archive_id;
    li.append(`${a.title} (${a.archive_id}) `, sealLink(a.archive_id, a.seal), " · ", archiveLink(a.archive_id));
    inner.append(li);
  }
  shown.li.append(inner);
}

// A dropped folder is walked; its files keep their relative path.
async function entries(entry, prefix = "") {
  if (entry.isFile) {
    const file = await new Promise((ok, ko) => entry.file(ok, ko));
    file.relativePath = prefix + file.name;
    return [file];
  }
  const reader = entry.createReader();
  const out = [];
  for (;;) {
    const batch = await new Promise((ok, ko) => reader.readEntries(ok, ko));
    if (batch.length === 0) return out;
    for (const child of batch) out.push(...(await entries(child, `${prefix}${entry.name}/`)));
  }
}

zone.addEventListener("dragover", (e) => {
  e.preventDefault();
  zone.classList.add("over");
});
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", async (e) => {
  e.preventDefault();
  zone.classList.remove("over");
  const found = [];
  for (const item of e.dataTransfer.items) {
    const entry = item.webkitGetAsEntry?.();
    if (entry) found.push(...(await entries(entry)));
    else if (item.kind === "file") found.push(item.getAsFile());
  }
  dropped = found;
  form.requestSubmit();
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const files = [
    ...dropped,
    ...document.getElementById("fichiers").files,
    ...document.getElementById("dossier").files,
  ];
  const pkg = document.getElementById("paquet").files[0];
  dropped = [];
  if (files.length === 0 && !pkg) {
    const li = document.createElement("li");
    li.textContent = T.none;
    list.append(li);
    return;
  }
  const button = document.getElementById("verser");
  button.disabled = true;
  try {
    if (pkg) await sendPackage(pkg);
    // Four at a time: the appliance seals them in the same batches.
    const queue = [...files];
    await Promise.all(
      Array.from({ length: Math.min(4, queue.length) }, async () => {
        while (queue.length) await sendFile(queue.shift());
      }),
    );
  } finally {
    button.disabled = false;
    for (const id of ["fichiers", "dossier", "paquet"]) document.getElementById(id).value = "";
  }
});
