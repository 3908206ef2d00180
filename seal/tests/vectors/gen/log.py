# Regenerates log/ from records/ (run from seal/tests/vectors/ after records.py). Needs pyca/cryptography.
import hashlib, json, base64
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
H=lambda b: hashlib.sha256(b).digest()
def leaf(b): return H(b'\0'+b)
def node(l,r): return H(b'\1'+l+r)
def mth(ls):
    n=len(ls)
    if n==0: return H(b'')
    if n==1: return leaf(ls[0])
    k=1
    while k*2<n: k*=2
    return node(mth(ls[:k]),mth(ls[k:]))
def path(m,ls):
    n=len(ls)
    if n<=1: return []
    k=1
    while k*2<n: k*=2
    if m<k: return path(m,ls[:k])+[mth(ls[k:])]
    return path(m-k,ls[k:])+[mth(ls[:k])]
def subproof(m,ls,b):
    n=len(ls)
    if m==n: return [] if b else [mth(ls)]
    k=1
    while k*2<n: k*=2
    if m<=k: return subproof(m,ls[:k],b)+[mth(ls[k:])]
    return subproof(m-k,ls[k:],False)+[mth(ls[:k])]
b64=lambda b: base64.b64encode(b).decode()
seed=bytes.fromhex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')
sk=Ed25519PrivateKey.from_private_bytes(seed)
pk=sk.public_key().public_bytes(serialization.Encoding.Raw,serialization.PublicFormat.Raw)
name='archives.mairie-exemple.fr/minutier'
kid=H(name.encode()+b'\n\x01'+pk)[:4]
def checkpoint(ls):
    body=f"{name}\n{len(ls)}\n{b64(mth(ls))}\n"
    sig=sk.sign(body.encode())
    return body+"\n\u2014 "+name+" "+b64(kid+sig)+"\n"
files=["ingest-first.txt","ingest-chained.txt","ingest-minimal.txt","ingest-limits.txt"]
recs=[open("records/"+f,"rb").read() for f in files]
cp2=checkpoint(recs[:2]); cp4=checkpoint(recs)
open("log/checkpoint-2.txt","w").write(cp2)
open("log/checkpoint-4.txt","w").write(cp4)
for i in range(4):
    s="c2sp.org/tlog-proof@v1\nextra "+b64(recs[i])+f"\nindex {i}\n"+"".join(b64(h)+"\n" for h in path(i,recs))+"\n"+cp4
    open(f"log/seal-{i}.tlog-proof","w").write(s)
doc={"description":"A Minutier log of the four records in ../records (in the order of 'entries'), checkpoints at sizes 2 and 4 signed with the RFC 8032 test-1 key (verifier.key), a seal for each entry under checkpoint-4.txt, and the consistency proof from size 2 to 4. Generated with Python hashlib and pyca/cryptography, independently of the Rust code.",
     "entries":files,
     "leaf_hashes":[leaf(r).hex() for r in recs],
     "roots":{str(n):mth(recs[:n]).hex() for n in range(0,5)},
     "consistency":[{"old_size":o,"new_size":4,"proof":[h.hex() for h in subproof(o,recs,True)]} for o in range(1,5)],
     "inclusion":[{"index":i,"size":4,"path":[h.hex() for h in path(i,recs)]} for i in range(4)]}
json.dump(doc,open("log/log.json","w"),indent=1); open("log/log.json","a").write("\n")
print(open("log/seal-0.tlog-proof").read())
