#!/usr/bin/env python3
"""Check the sealed days of a local copy of a transcript-vault (docs/vault-format.md,
"The ledger"), with nothing but Python's standard library:
    python3 check_ledger.py VAULT_DIR FROM TO [WITNESS_FILE]
One line per problem, `DAY [CONVERSATION]: KIND: DETAIL`; exit 1 if any, else 0."""
import datetime as dt, hashlib, json, os, re, sys
H = lambda b: hashlib.sha256(b).digest()
sha = lambda b: hashlib.sha256(b).hexdigest()
def read(path):  # an object's bytes, or None when it is not there
    p = os.path.join(sys.argv[1], *path.split("/"))
    return open(p, "rb").read() if os.path.isfile(p) else None
def merkle_root(leaves):  # RFC 6962: pair left to right; an odd last node goes up unchanged
    level = [H(b"\0" + leaf) for leaf in leaves] or [H(b"")]
    while len(level) > 1:
        level = [H(b"\1" + level[i] + level[i + 1]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
    return level[0].hex()
day, last, bad = dt.date.fromisoformat(sys.argv[2]), dt.date.fromisoformat(sys.argv[3]), []
witness = dict(l.split() for l in open(sys.argv[4]) if l.strip() and not l.startswith("#")) if len(sys.argv) > 4 else None
for d, h in (witness or {}).items():  # a witness line: YYYY-MM-DD <SHA-256 of that day's main ledger object>
    if sha(read(f"ledger/{d.replace('-', '/')}.json") or b"") != h: bad.append(f"{d}: witness mismatch: {h}")
while day <= last:
    d, ymd, listed = day.isoformat(), day.strftime("%Y/%m/%d"), {}
    month = os.path.join(sys.argv[1], "ledger", ymd[:7])
    seqs = sorted(int(f[3:-5] or 0) for f in (os.listdir(month) if os.path.isdir(month) else []) if re.fullmatch(rf"{day:%d}(\.[1-9][0-9]*)?\.json", f))
    bad += [f"{d}: not sealed: no ledger object"] if not seqs else [f"{d}: witness mismatch: no line"] if witness is not None and 0 in seqs and d not in witness else []
    for n in seqs:  # the main object (n = 0), then its supplements
        path = f"ledger/{ymd}{f'.{n}' if n else ''}.json"
        obj = json.loads(read(path))
        leaves = [f"{e['conversationId']}\n{e['generation']}\n{e['manifest']}\n{e['sha256']}\n{e['size']}".encode() for e in obj["entries"]]
        if merkle_root(leaves) != obj["merkleRoot"] or len(leaves) != obj["count"]: bad.append(f"{d}: bad ledger object: {path}")
        p = obj["previous"]  # the chain: the object it follows must still have the hash it had then
        if p and sha(read(p["path"]) or b"") != p["sha256"]: bad.append(f"{p['path'][7:17].replace('/', '-')}: chain broken: {p['path']}")
        listed.update({(e["conversationId"], e["generation"]): e for e in obj["entries"]})
    for (c, g), e in sorted(listed.items()):
        m = read(e["manifest"])
        if m is None or read(f"index/{ymd}/{c}.{g}") is None: bad.append(f"{d} {c}: removed after sealing: {e['manifest']}")
        elif sha(m) != e["sha256"]: bad.append(f"{d} {c}: changed after sealing: {e['manifest']}")
        else: bad += [f"{d} {c}: verify: {o['path']}" for o in json.loads(m)["objects"] if sha(read(o["path"]) or b"") != o["sha256"]]
    index = os.path.join(sys.argv[1], "index", *ymd.split("/"))
    for c, g in sorted(f.rsplit(".", 1) for f in (os.listdir(index) if os.path.isdir(index) else [])):
        if seqs and (c, g) not in listed and read(f"conversations/{c}/manifest.{g}.json") is not None: bad.append(f"{d} {c}: added after sealing: {g}")
    day += dt.timedelta(days=1)
print("\n".join(bad) or "ok")
sys.exit(1 if bad else 0)
