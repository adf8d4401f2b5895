#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ from the test vectors and the committed vault
fixture (crates/chartsafe-core/tests/vectors, tests/fixtures). Run once when a
target is added; `make fuzz` then grows and `cargo fuzz cmin` minimises the
corpora, which are committed."""
import glob, hashlib, json, os, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
vectors = os.path.join(root, "crates/chartsafe-core/tests/vectors")
corpus = os.path.join(root, "fuzz/corpus")


def seed(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


for path in sorted(glob.glob(os.path.join(vectors, "*.json"))):
    v = json.load(open(path))
    kind = v.get("kind")
    if kind == "header":
        seed("header", v["bytes"])
    elif kind == "record":
        seed("record", v["plaintext"])
    elif kind == "audit":
        seed("audit_batch", v["plaintext"])
    elif kind == "join_request":
        seed("join_request", v["plaintext"])
        seed("invitation", v["invite"])
        seed("invitation", v["code"])
    elif kind == "team_log":
        for e in v["entries"]:
            seed("team_entry", e)
    elif kind == "recovery_identity":
        seed("phrase", v["phrase"])
        seed("phrase", v["phrase"].upper().replace(" ", "  "))

slot = {
    "chartsafe_keyslot": 1,
    "vault": "a" * 26,
    "member": "m" * 26,
    "collections": [{"id": "c" * 26, "created": 1,
                     "identity": "AGE-SECRET-KEY-1CZFCEUQNXL3YFNYUAL8UEW3HTLUTAYE7QTLMXUM0VHW7M2TDP9PQ0CT00L"}],
    "mac_key": "07" * 32,
    "recovery_recipient": "age1ehwvyz7tauhr2um4apa682cux90qhs6lk59z9z9auwnfvv2vp4ls7j4gvq",
    "signing_key": "01" * 32,
}
seed("keyslot", json.dumps(slot))
for name in ["Lab results.pdf", "José lab results.pdf", "Jose\u0301.pdf", "a/b/c.txt",
             "CON.txt", "..", "name\u202eFDP.exe", "x\u200b y", " trailing. ", "dir\\file"]:
    seed("names", name)
for name in ["0000000012", "0000000012 (1)", "0000000012 (Jane's conflicted copy 2026-01-31)",
             "abcdefghijklmnopqrstuvwxyz-FRONTDESK-PC",
             "abcdefghijklmnopqrstuvwxyz.sync-conflict-20260131-101010-ABCDEFG",
             "abcdefghijklmnopqrstuvwxyz (conflict_on_2026-01-31)", ".cs-tmp-abc", "desktop.ini"]:
    seed("sync_names", name)
fixture = os.path.join(root, "tests/fixtures/vault-before-issue12/vault")
for sub in ["k", "r", "a", "t", "b"]:
    files = sorted(p for p in glob.glob(os.path.join(fixture, sub, "**"), recursive=True)
                   if os.path.isfile(p))
    for p in files[:2]:
        data = open(p, "rb").read()
        seed("age_envelope", data[:4096])
for target in ["tree", "signed"]:
    for n in [64, 512, 4096]:
        seed(target, bytes((i * 7 + n) % 251 for i in range(n)))
