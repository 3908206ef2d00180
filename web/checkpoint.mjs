// The consistency check's form: a checkpoint file chosen from the
// auditor's disk is read here into the text field, which is what is sent.
const file = document.getElementById("checkpoint-file");
file.addEventListener("change", async () => {
  const chosen = file.files[0];
  if (chosen) document.getElementById("checkpoint").value = await chosen.text();
});
