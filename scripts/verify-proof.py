#!/usr/bin/env python3
"""Independent check of an auditrail inclusion proof, using only Python's standard library
and one Ed25519 package (`cryptography`).

    auditrail prove --output json EVENT_ID > proof.jsonl
    python3 scripts/verify-proof.py --verifier-key "$(cat auditrail-data/ledger/verifier.key)" proof.jsonl

Reads one JSON proof per line (or standard input with `-`) and, for each, checks that:
  1. SHA-256(0x00 || record) is the proof's leaf hash (RFC 6962 leaf);
  2. the inclusion path from that leaf, at `index` in a tree of `tree_size`, gives a root
     (RFC 9162 section 2.1.3.2);
  3. the checkpoint (C2SP tlog-checkpoint) states that tree size and that root;
  4. the checkpoint carries a valid Ed25519 signature (C2SP signed-note) by the given
     verifier key (`name+hexkeyid+base64(0x01 || public key)`).
Exit status 0 when every proof checks, 1 otherwise (each failure is printed).
"""

import argparse
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, path: list) -> bytes:
    if index >= size:
        raise ValueError(f"index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ValueError("inclusion path is too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("inclusion path is too short")
    return r


def parse_verifier_key(text: str):
    name, key_id_hex, key_b64 = text.strip().split("+", 2)
    key = base64.b64decode(key_b64)
    if len(key) != 33 or key[0] != 1:
        raise ValueError("not an Ed25519 verifier key")
    expected = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    if expected.hex() != key_id_hex:
        raise ValueError("verifier key id does not match its name and key")
    return name, expected, Ed25519PublicKey.from_public_bytes(key[1:])


def check_note(note: str, verifier) -> list:
    """Verifies the signed note; returns its text lines."""
    name, key_id, public_key = verifier
    text, separator, signatures = note.partition("\n\n")
    if not separator:
        raise ValueError("checkpoint has no signature block")
    text += "\n"
    for line in signatures.splitlines():
        if not line.startswith("\u2014 "):
            raise ValueError(f"malformed signature line {line!r}")
        signer, blob = line[2:].rsplit(" ", 1)
        raw = base64.b64decode(blob)
        if signer == name and raw[:4] == key_id:
            try:
                public_key.verify(raw[4:], text.encode())
            except InvalidSignature:
                raise ValueError("checkpoint signature is invalid")
            return text.splitlines()
    raise ValueError(f"checkpoint is not signed by {name}")


def check(view: dict, verifier) -> None:
    proof = view["proof"]
    record = view["record"].encode()
    leaf = hashlib.sha256(b"\x00" + record).digest()
    if leaf.hex() != proof["leaf_hash"]:
        raise ValueError("record does not hash to the proof's leaf hash")
    path = [base64.b64decode(h) for h in proof["inclusion_proof"]]
    root = root_from_inclusion(proof["index"], proof["tree_size"], leaf, path)
    lines = check_note(proof["checkpoint"], verifier)
    if len(lines) < 3:
        raise ValueError("checkpoint has fewer than three lines")
    if int(lines[1]) != proof["tree_size"]:
        raise ValueError(f"checkpoint is for tree size {lines[1]}, proof for {proof['tree_size']}")
    if base64.b64decode(lines[2]) != root:
        raise ValueError("inclusion path does not lead to the checkpoint's root hash")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verifier-key", required=True, help="verifier key text")
    parser.add_argument("proofs", help="file of JSON proofs, one per line, or -")
    args = parser.parse_args()
    verifier = parse_verifier_key(args.verifier_key)
    stream = sys.stdin if args.proofs == "-" else open(args.proofs, encoding="utf-8")
    failures = checked = 0
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        checked += 1
        try:
            check(json.loads(line), verifier)
            print(f"proof {number}: ok")
        except (ValueError, KeyError, TypeError) as error:
            failures += 1
            print(f"proof {number}: FAILED: {error}")
    if checked == 0:
        print("no proofs given")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
