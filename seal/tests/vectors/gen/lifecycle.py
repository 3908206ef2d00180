# Regenerates lifecycle/ (run from seal/tests/vectors/). Python 3 standard library and pyca/cryptography (as log.py).
# A log of 16 records about two archives, covering every archive record kind, and the signed elimination certificate
# of the order that eliminated both (lifecycle.json); then two scrub runs appended to the same log, the appliance's
# chain (appliance.json), a time-stamp of a checkpoint (timestamp.json) and a change of the log's signing key
# (key-rotation.json). The metadata, elimination-order and scrub-report JSON shapes are illustrative only:
# the format fixes what the digests commit to, not the schema of that JSON.
import hashlib, json, base64
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
H = lambda b: hashlib.sha256(b).hexdigest()
def canon(v): return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
def enc(r):
    return ("minutier/record/v1\n"
        f"kind {r['kind']}\narchive {r['archive']}\ntime {r['time']}\nactor {r['actor']}\n"
        f"content-sha256 {r['content_sha256']}\nsize {r['size']}\nmetadata-sha256 {r['metadata_sha256']}\n"
        f"previous {r['previous']}\n").encode()
def leaf(b): return H(b"\x00" + b)

A, B = "FRAD075-2027-000031", "FRAD075-2027-000032"
INGEST = "svc-ingest@archives.mairie-exemple.fr"
ARCHIVIST = "cn=Émilie Dupré,ou=Archives,o=Mairie d'Exemple"
DIRECTOR = "cn=Jean Martin,ou=Direction des Archives,o=Mairie d'Exemple"
EXECUTOR = "svc-elimination@archives.mairie-exemple.fr"
READER = "cn=Lecteur 0042,ou=Salle de lecture"
content = {A: "Registre des arrêtés de voirie 2016\n".encode(), B: "Registre des permissions de stationnement 2016\n".encode()}
meta = {
    A: {"descriptive": {"title": "Registre des arrêtés de voirie 2016", "producer": "Mairie d'Exemple",
                        "date": "2016-12-31", "classification": "1O"},
        "rules": {"retention": "P10Y", "retention_start": "2016-12-31", "final_disposition": "review"},
        "holds": []},
    B: {"descriptive": {"title": "Registre des permissions de stationnement 2016", "producer": "Mairie d'Exemple",
                        "date": "2016-12-31", "classification": "1O"},
        "rules": {"retention": "P10Y", "retention_start": "2016-12-31", "final_disposition": "destroy"},
        "holds": []},
}
REASON_1 = "Durée d'utilité administrative échue ; sort final : destruction"
REASON_2 = "Durée d'utilité administrative échue (10 ans) ; sort final : destruction (tableau de gestion, ligne 1O-12)"
orders = {}
def deep(v): return json.loads(json.dumps(v))

log = []            # (fields, metadata value)
last = {}           # archive -> leaf hash of its last record
def event(kind, archive, time, actor, state):
    r = dict(kind=kind, archive=archive, time=time, actor=actor, content_sha256=H(content[archive]),
             size=len(content[archive]), metadata_sha256=H(canon(state)), previous=last.get(archive, "none"))
    b = enc(r)
    last[archive] = leaf(b)
    log.append((r, deep(state)))

event("ingest", A, "2027-01-04T09:00:00.000Z", INGEST, meta[A])
event("ingest", B, "2027-01-04T09:00:00.000Z", INGEST, meta[B])
meta[A]["descriptive"]["title"] = "Registre des arrêtés de voirie et de circulation 2016"
event("metadata-correction", A, "2027-01-11T14:20:31.250Z", ARCHIVIST, meta[A])
meta[A]["rules"]["final_disposition"] = "destroy"
event("rules-change", A, "2027-01-12T08:01:02.003Z", ARCHIVIST, meta[A])
meta[A]["holds"].append({"id": "HOLD-2027-004", "reason": "Contentieux en cours (TA Paris n° 2700123)",
                         "placed": "2027-02-01T10:00:00.000Z", "by": DIRECTOR})
event("hold-placed", A, "2027-02-01T10:00:00.000Z", DIRECTOR, meta[A])
o1 = {"id": "ELIM-2027-001", "reason": REASON_1, "archives": [A],
      "proposed": {"time": "2027-03-01T09:30:00.000Z", "by": ARCHIVIST}, "status": "proposed"}
event("elimination-proposed", A, "2027-03-01T09:30:00.000Z", ARCHIVIST, o1)
o1["status"] = "refused"
o1["refused"] = {"time": "2027-03-02T16:45:10.500Z", "by": DIRECTOR, "reason": "Archive sous gel (HOLD-2027-004)"}
event("elimination-refused", A, "2027-03-02T16:45:10.500Z", DIRECTOR, o1)
meta[A]["holds"] = []
event("hold-lifted", A, "2027-06-30T11:11:11.111Z", DIRECTOR, meta[A])
event("read-content", A, "2027-07-01T08:30:00.000Z", READER, meta[A])
o2 = {"id": "ELIM-2027-002", "reason": REASON_2, "archives": [A, B],
      "proposed": {"time": "2027-09-01T09:00:00.000Z", "by": ARCHIVIST}, "status": "proposed"}
event("elimination-proposed", A, "2027-09-01T09:00:00.000Z", ARCHIVIST, o2)
event("elimination-proposed", B, "2027-09-01T09:00:00.000Z", ARCHIVIST, o2)
o2["status"] = "approved"
o2["approved"] = {"time": "2027-09-15T17:02:03.004Z", "by": DIRECTOR}
event("elimination-approved", A, "2027-09-15T17:02:03.004Z", DIRECTOR, o2)
event("elimination-approved", B, "2027-09-15T17:02:03.004Z", DIRECTOR, o2)
o2["status"] = "executed"
o2["executed"] = {"time": "2027-10-01T06:00:00.000Z", "by": EXECUTOR}
event("elimination-executed", A, "2027-10-01T06:00:00.000Z", EXECUTOR, o2)
event("elimination-executed", B, "2027-10-01T06:00:00.000Z", EXECUTOR, o2)
event("read-metadata", A, "2028-01-10T13:37:00.000Z", READER, meta[A])

entries = []
for i, (r, state) in enumerate(log):
    b = enc(r)
    name = f"{i:02d}-{r['kind']}.txt"
    open("lifecycle/" + name, "wb").write(b)
    entries.append({"index": i, "file": name, "fields": r, "leaf_hash": leaf(b),
                    "metadata": state, "metadata_canonical": canon(state).decode()})
assert sorted({e["fields"]["kind"] for e in entries}) == sorted([
    "ingest", "metadata-correction", "rules-change", "hold-placed", "hold-lifted", "read-content", "read-metadata",
    "elimination-proposed", "elimination-approved", "elimination-refused", "elimination-executed"])

# The elimination certificate of ELIM-2027-002, issued once both tombstones (13, 14) were appended: log size 15.
seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
sk = Ed25519PrivateKey.from_private_bytes(seed)
pk = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
origin = "archives.mairie-exemple.fr/minutier"
kid = hashlib.sha256(origin.encode() + b"\n\x01" + pk).digest()[:4]
tombstones = [e for e in entries if e["fields"]["kind"] == "elimination-executed"]
cert = {"origin": origin, "elimination": o2["id"], "reason": REASON_2,
        "proposed": [o2["proposed"]["time"], o2["proposed"]["by"]],
        "approved": [o2["approved"]["time"], o2["approved"]["by"]],
        "executed": [o2["executed"]["time"], o2["executed"]["by"]],
        "log_size": max(t["index"] for t in tombstones) + 1,
        "archives": [{"archive": t["fields"]["archive"], "content_sha256": t["fields"]["content_sha256"],
                      "size": t["fields"]["size"], "tombstone_index": t["index"], "tombstone_hash": t["leaf_hash"]}
                     for t in tombstones]}
body = ("minutier/elimination-certificate/v1\n"
        f"origin {cert['origin']}\nelimination {cert['elimination']}\nreason {cert['reason']}\n"
        f"proposed {cert['proposed'][0]} {cert['proposed'][1]}\n"
        f"approved {cert['approved'][0]} {cert['approved'][1]}\n"
        f"executed {cert['executed'][0]} {cert['executed'][1]}\n"
        f"log-size {cert['log_size']}\n"
        + "".join(f"archive {a['archive']} {a['content_sha256']} {a['size']} {a['tombstone_index']} {a['tombstone_hash']}\n"
                  for a in cert["archives"]))
note = body + "\n\u2014 " + origin + " " + base64.b64encode(kid + sk.sign(body.encode())).decode() + "\n"
open("lifecycle/elimination-certificate.txt", "w", encoding="utf-8", newline="\n").write(note)

doc = {
  "description": "A Minutier log of 16 minutier/record/v1 records (entries, in log order, index = position) about two archives, covering every record kind, and the elimination certificate of the order ELIM-2027-002 that eliminated both, signed with the RFC 8032 test-1 key (verifier.key). metadata is the JSON value whose canonical form metadata-sha256 commits to: for elimination kinds the elimination order, for every other kind the archive's full metadata, as it stands after the event; the JSON shapes are illustrative. Generated with Python hashlib and pyca/cryptography, independently of the Rust code.",
  "entries": entries,
  "chains": {a: [e["index"] for e in entries if e["fields"]["archive"] == a] for a in (A, B)},
  "documents": {a: {"text": content[a].decode(), "sha256": H(content[a]), "size": len(content[a])} for a in (A, B)},
  "certificate": {"file": "elimination-certificate.txt", "fields": cert, "body": body},
}
json.dump(doc, open("lifecycle/lifecycle.json", "w", encoding="utf-8"), ensure_ascii=False, indent=1)
open("lifecycle/lifecycle.json", "a").write("\n")

# Appliance events: two monthly scrub runs, appended to the same log after the 16 records above (indices 16 and 17).
# They name the reserved archive "appliance" and form its chain: the first has previous none, the second links to it.
# A scrub record commits to its report, as canonical JSON: content-sha256 and size are the report's SHA-256 and
# length, and metadata-sha256 is that same SHA-256. Both archives were eliminated before the first run, so the runs
# found no stored document and no replica to check: only the counts of the eliminated archives are not zero.
APPLIANCE = "appliance"
SCRUBBER = "svc-scrub@archives.mairie-exemple.fr"
def scrub_report(run_id, started, finished, log_size):
    zero = {"checked": 0, "intact": 0, "corrupt": 0, "missing": 0}
    return {"id": run_id, "started": started, "finished": finished, "log_size": log_size,
            "archives": {"live": 0, "eliminated": 2}, "documents": dict(zero), "replicas": dict(zero)}
reports = [scrub_report("SCRUB-2028-02", "2028-02-01T02:00:00.000Z", "2028-02-01T02:00:00.418Z", len(log)),
           scrub_report("SCRUB-2028-03", "2028-03-01T02:00:00.000Z", "2028-03-01T02:00:00.397Z", len(log) + 1)]
appliance_entries = []
previous = "none"
for report in reports:
    index = len(log) + len(appliance_entries)
    body_bytes = canon(report)
    r = dict(kind="scrub", archive=APPLIANCE, time=report["finished"], actor=SCRUBBER, content_sha256=H(body_bytes),
             size=len(body_bytes), metadata_sha256=H(body_bytes), previous=previous)
    b = enc(r)
    previous = leaf(b)
    name = f"{index:02d}-scrub.txt"
    report_name = f"{index:02d}-scrub-report.json"
    open("lifecycle/" + name, "wb").write(b)
    open("lifecycle/" + report_name, "wb").write(body_bytes)
    appliance_entries.append({"index": index, "file": name, "fields": r, "leaf_hash": leaf(b),
                              "report": report, "report_file": report_name, "report_canonical": body_bytes.decode()})
appliance = {
  "description": "The appliance's chain: two minutier/record/v1 scrub records appended to the log of lifecycle.json (entries, in log order, at the given indices), about the reserved archive \"appliance\". The first has previous none and the second links to it. Each commits to its scrub report (report, a JSON value; report_file, its canonical JSON, the exact bytes committed to): content-sha256 and size are the SHA-256 and length of the canonical JSON, and metadata-sha256 is the same SHA-256. The report's JSON shape is illustrative. Generated with Python hashlib, independently of the Rust code.",
  "entries": appliance_entries,
  "chain": [e["index"] for e in appliance_entries],
}
json.dump(appliance, open("lifecycle/appliance.json", "w", encoding="utf-8"), ensure_ascii=False, indent=1)
open("lifecycle/appliance.json", "a").write("\n")
print(note)

# A time-stamp of the checkpoint of those 18 records (indices 0 to 17), recorded as the appliance event at index 18,
# chained after the second scrub: the appliance's timestamp record commits to its timestamp document (canonical JSON:
# the checkpoint's size, exact text and SHA-256, the TSA's URL, the RFC 3161 token in base64, its genTime and
# serial), like a scrub record to its report. The token comes from a throwaway TSA, `openssl ts -reply` with its
# clock set by `faketime` (Debian package faketime), whose CA certificate is tsa-ca.pem; the key is thrown away.
# An existing token is kept as long as `openssl ts -verify` still accepts it for the checkpoint, so that running
# this again changes nothing. Check it by hand:
#   openssl ts -verify -data checkpoint-18.txt -in 18-timestamp.tst -token_in -CAfile tsa-ca.pem
import os, re, subprocess, tempfile, datetime
def mth(ls):
    n = len(ls)
    if n == 0: return hashlib.sha256(b"").digest()
    if n == 1: return hashlib.sha256(b"\x00" + ls[0]).digest()
    k = 1
    while k * 2 < n: k *= 2
    return hashlib.sha256(b"\x01" + mth(ls[:k]) + mth(ls[k:])).digest()
log_bytes = [enc(r) for r, _ in log] + [enc(e["fields"]) for e in appliance_entries]
cp_body = f"{origin}\n{len(log_bytes)}\n{base64.b64encode(mth(log_bytes)).decode()}\n"
checkpoint_18 = cp_body + "\n\u2014 " + origin + " " + base64.b64encode(kid + sk.sign(cp_body.encode())).decode() + "\n"
open("lifecycle/checkpoint-18.txt", "w", encoding="utf-8", newline="\n").write(checkpoint_18)
TSA_TIME = "2028-03-01 02:59:59"
def sh(*args, **kw): return subprocess.run(args, check=True, capture_output=True, **kw)
def token_verifies():
    if not (os.path.exists("lifecycle/18-timestamp.tst") and os.path.exists("lifecycle/tsa-ca.pem")): return False
    return subprocess.run(["openssl", "ts", "-verify", "-data", "lifecycle/checkpoint-18.txt", "-in",
                           "lifecycle/18-timestamp.tst", "-token_in", "-CAfile", "lifecycle/tsa-ca.pem"],
                          capture_output=True).returncode == 0
if not token_verifies():
    with tempfile.TemporaryDirectory() as d:
        sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem", "-days", "36500",
           "-subj", "/O=Mairie d'Exemple (test)/CN=Test TSA CA",
           "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", f"{d}/tsa.key", "-out", f"{d}/tsa.csr", "-subj", "/O=Mairie d'Exemple (test)/CN=Test TSA")
        open(f"{d}/ext.cnf", "w").write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                        "extendedKeyUsage=critical,timeStamping\n")
        sh("openssl", "x509", "-req", "-in", f"{d}/tsa.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key",
           "-CAcreateserial", "-CAserial", f"{d}/ca.srl", "-out", f"{d}/tsa.pem", "-days", "36500",
           "-extfile", f"{d}/ext.cnf")
        open(f"{d}/serial", "w").write("2028\n")
        open(f"{d}/ts.cnf", "w").write(f"""[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = {d}/serial
crypto_device = builtin
signer_cert = {d}/tsa.pem
certs = {d}/ca.pem
signer_key = {d}/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.3161.1
digests = sha256
accuracy = secs:1
clock_precision_digits = 3
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
""")
        sh("openssl", "ts", "-query", "-data", "lifecycle/checkpoint-18.txt", "-sha256", "-cert", "-out", f"{d}/q.tsq")
        sh("faketime", TSA_TIME, "openssl", "ts", "-reply", "-config", f"{d}/ts.cnf", "-queryfile", f"{d}/q.tsq",
           "-token_out", "-out", "lifecycle/18-timestamp.tst")
        open("lifecycle/tsa-ca.pem", "w").write(open(f"{d}/ca.pem").read())
    assert token_verifies()
token = open("lifecycle/18-timestamp.tst", "rb").read()
text = sh("openssl", "ts", "-reply", "-in", "lifecycle/18-timestamp.tst", "-token_in", "-text").stdout.decode()
stamp = re.search(r"Time stamp: (\w+ +\d+ \d\d:\d\d:\d\d)(\.\d+)? (\d{4}) GMT", text)
gen = datetime.datetime.strptime(f"{stamp.group(1)} {stamp.group(3)}", "%b %d %H:%M:%S %Y")
gen_time = gen.strftime("%Y-%m-%dT%H:%M:%S") + "." + ((stamp.group(2) or ".")[1:] + "000")[:3] + "Z"
serial = re.search(r"Serial number: 0x([0-9A-Fa-f]+)", text).group(1).lower().lstrip("0") or "0"
TIMESTAMPER = "minutierd (timestamping)"
document = {"checkpoint": checkpoint_18, "checkpoint_sha256": H(checkpoint_18.encode()), "checkpoint_size": 18,
            "gen_time": gen_time, "serial": serial, "token": base64.b64encode(token).decode(),
            "tsa": "https://horodatage.example.fr/tsa"}
document_bytes = canon(document)
r = dict(kind="timestamp", archive=APPLIANCE, time="2028-03-01T03:00:00.250Z", actor=TIMESTAMPER,
         content_sha256=H(document_bytes), size=len(document_bytes), metadata_sha256=H(document_bytes),
         previous=appliance_entries[-1]["leaf_hash"])
assert gen_time < r["time"], "the appliance records the token after the TSA made it"
b = enc(r)
open("lifecycle/18-timestamp.txt", "wb").write(b)
open("lifecycle/18-timestamp-document.json", "wb").write(document_bytes)
timestamp = {
  "description": "The appliance's chain continued: a minutier/record/v1 timestamp record at index 18, after the two scrub records of appliance.json (its previous is the leaf hash of index 17). It commits to its timestamp document (document, a JSON value; document_file, its canonical JSON, the exact bytes committed to) as a scrub record to its report. The document holds the signed checkpoint of the 18 records before it (checkpoint_file, exactly the text time-stamped), its size and SHA-256, the TSA's URL, and the RFC 3161 token (token_file, the DER of its CMS ContentInfo; base64 in the document) whose message imprint is that SHA-256, with the token's genTime and serial. The token was made by a throwaway TSA (openssl ts -reply) whose CA certificate is tsa_ca_file: openssl ts -verify -data checkpoint-18.txt -in 18-timestamp.tst -token_in -CAfile tsa-ca.pem. Generated with Python hashlib, pyca/cryptography and openssl, independently of the Rust code.",
  "entry": {"index": 18, "file": "18-timestamp.txt", "fields": r, "leaf_hash": leaf(b), "document": document,
            "document_file": "18-timestamp-document.json", "document_canonical": document_bytes.decode()},
  "checkpoint_file": "checkpoint-18.txt",
  "token_file": "18-timestamp.tst",
  "tsa_ca_file": "tsa-ca.pem",
  "chain": [e["index"] for e in appliance_entries] + [18],
}
json.dump(timestamp, open("lifecycle/timestamp.json", "w", encoding="utf-8"), ensure_ascii=False, indent=1)
open("lifecycle/timestamp.json", "a").write("\n")

# A change of the log's signing key, recorded as the appliance event at index 19, chained after the timestamp record:
# the key-rotation record commits to its key rotation document (canonical JSON: the old and the new verifier key,
# C2SP vkey strings, and where the new key is kept, "file" or "pkcs11"), like a scrub record to its report. The old
# key is the RFC 8032 test-1 key (verifier.key), the new one the RFC 8032 test-2 key; both are public test vectors,
# never to be used for anything real. The checkpoint of the 20 records (checkpoint-20.txt), the first to cover the
# rotation, is signed by the old key and then by the new one: an auditor holding only the old key verifies it, finds
# the record naming the new key, and trusts the checkpoints the new key signs from then on.
def vkey(name, public):
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4].hex()
    return name + "+" + key_id + "+" + base64.b64encode(b"\x01" + public).decode()
new_sk = Ed25519PrivateKey.from_private_bytes(bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"))
new_pk = new_sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
new_kid = hashlib.sha256(origin.encode() + b"\n\x01" + new_pk).digest()[:4]
old_key, new_key = vkey(origin, pk), vkey(origin, new_pk)
assert old_key == open("verifier.key").read().strip()
rotation = {"custody": "pkcs11", "new_key": new_key, "old_key": old_key}
rotation_bytes = canon(rotation)
r = dict(kind="key-rotation", archive=APPLIANCE, time="2028-03-15T09:30:00.000Z", actor="minutierd (key rotation)",
         content_sha256=H(rotation_bytes), size=len(rotation_bytes), metadata_sha256=H(rotation_bytes),
         previous=timestamp["entry"]["leaf_hash"])
b = enc(r)
open("lifecycle/19-key-rotation.txt", "wb").write(b)
open("lifecycle/19-key-rotation-document.json", "wb").write(rotation_bytes)
log_bytes_20 = log_bytes + [open("lifecycle/18-timestamp.txt", "rb").read(), b]
cp20_body = f"{origin}\n{len(log_bytes_20)}\n{base64.b64encode(mth(log_bytes_20)).decode()}\n"
checkpoint_20 = (cp20_body + "\n"
                 + "\u2014 " + origin + " " + base64.b64encode(kid + sk.sign(cp20_body.encode())).decode() + "\n"
                 + "\u2014 " + origin + " " + base64.b64encode(new_kid + new_sk.sign(cp20_body.encode())).decode() + "\n")
open("lifecycle/checkpoint-20.txt", "w", encoding="utf-8", newline="\n").write(checkpoint_20)
key_rotation = {
  "description": "The appliance's chain continued: a minutier/record/v1 key-rotation record at index 19, after the timestamp record of timestamp.json (its previous is the leaf hash of index 18). It commits to its key rotation document (document, a JSON value; document_file, its canonical JSON, the exact bytes committed to) as a scrub record to its report: the old verifier key (the RFC 8032 test-1 key of verifier.key), the new one (the RFC 8032 test-2 key) and where the new key is kept. checkpoint_file is the checkpoint of the 20 records, the first to cover the rotation, signed by the old key and then by the new key: it verifies with either. Generated with Python hashlib and pyca/cryptography, independently of the Rust code.",
  "entry": {"index": 19, "file": "19-key-rotation.txt", "fields": r, "leaf_hash": leaf(b), "document": rotation,
            "document_file": "19-key-rotation-document.json", "document_canonical": rotation_bytes.decode()},
  "old_key": old_key,
  "new_key": new_key,
  "checkpoint_file": "checkpoint-20.txt",
  "checkpoint_size": 20,
  "chain": timestamp["chain"] + [19],
}
json.dump(key_rotation, open("lifecycle/key-rotation.json", "w", encoding="utf-8"), ensure_ascii=False, indent=1)
open("lifecycle/key-rotation.json", "a").write("\n")
