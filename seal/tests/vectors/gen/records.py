# Regenerates records/ (run from seal/tests/vectors/). Python 3 standard library only.
import hashlib, json
H = lambda b: hashlib.sha256(b).hexdigest()
def canon(v): return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
def enc(r):
    return ("minutier/record/v1\n"
        f"kind {r['kind']}\narchive {r['archive']}\ntime {r['time']}\nactor {r['actor']}\n"
        f"content-sha256 {r['content_sha256']}\nsize {r['size']}\nmetadata-sha256 {r['metadata_sha256']}\n"
        f"previous {r['previous']}\n").encode()
def leaf(b): return H(b"\x00" + b)

meta = {"title": "Délibération du conseil municipal n° 2026-114",
        "producer": "Mairie d'Exemple", "date": "2026-11-27", "classification": "1D", "pages": 12,
        "keywords": ["urbanisme", "voirie"], "note": "tab\there \"quoted\"\nnew line"}
content = "Délibération n° 2026-114 — texte intégral\n".encode()
content_v2 = "Délibération n° 2026-114 — texte intégral (version rectifiée)\n".encode()
meta_empty = {}

records = []
r1 = dict(kind="ingest", archive="FRAD075-2026-000114", time="2026-11-29T08:52:46.123Z",
          actor="cn=Émilie Dupré,ou=Archives,o=Mairie d'Exemple",
          content_sha256=H(content), size=len(content), metadata_sha256=H(canon(meta)), previous="none")
b1 = enc(r1)
r2 = dict(r1, time="2026-11-30T14:03:09.007Z", actor="svc-ingest@archives.mairie-exemple.fr",
          content_sha256=H(content_v2), size=len(content_v2), previous=leaf(b1))
r3 = dict(kind="ingest", archive="a", time="1970-01-01T00:00:00.000Z", actor="x",
          content_sha256=H(b""), size=0, metadata_sha256=H(canon(meta_empty)), previous="none")
r4 = dict(kind="ingest", archive=("Z9._-" * 26)[:128], time="9999-12-31T23:59:59.999Z",
          actor=("é" * 127) + "ab", content_sha256="ff" * 32, size=2**64 - 1,
          metadata_sha256="00" * 32, previous="0123456789abcdef" * 4)
assert len(r4["actor"].encode()) == 256
out = []
for name, r, note in [("ingest-first.txt", r1, "first record of an archive; non-ASCII actor"),
                      ("ingest-chained.txt", r2, "second record of the same archive; previous = leaf hash of ingest-first.txt"),
                      ("ingest-minimal.txt", r3, "smallest values: epoch, empty document, empty metadata {}"),
                      ("ingest-limits.txt", r4, "largest values: 128-char archive id, 256-byte actor, year 9999, size 2^64-1")]:
    b = enc(r)
    open("records/" + name, "wb").write(b)
    out.append({"file": name, "description": note, "fields": r, "leaf_hash": leaf(b)})
doc = {
  "description": "minutier/record/v1 vectors. leaf_hash = SHA-256(0x00 || file bytes); computed with Python hashlib, independently of the Rust code. fields.size is a JSON number (2^64-1 exceeds float precision: parse as u64).",
  "records": out,
  "metadata": [
    {"description": "metadata of ingest-first.txt", "value": meta, "canonical": canon(meta).decode(), "sha256": H(canon(meta))},
    {"description": "empty metadata, used by ingest-minimal.txt", "value": meta_empty, "canonical": canon(meta_empty).decode(), "sha256": H(canon(meta_empty))},
  ],
  "content": [
    {"description": "document of ingest-first.txt (UTF-8 text)", "text": content.decode(), "sha256": H(content), "size": len(content)},
    {"description": "document of ingest-chained.txt (UTF-8 text)", "text": content_v2.decode(), "sha256": H(content_v2), "size": len(content_v2)},
  ],
}
json.dump(doc, open("records/records.json", "w"), ensure_ascii=False, indent=1)
open("records/records.json", "a").write("\n")
