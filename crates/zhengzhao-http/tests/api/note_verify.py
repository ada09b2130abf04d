"""An independent check of an audit checkpoint, written from the C2SP specs
(c2sp.org/signed-note, c2sp.org/tlog-checkpoint) with Python's
`cryptography`, sharing no code with the library.

    python3 note_verify.py SIGNED_NOTE_FILE VKEY [SM2_SEC1_HEX]

Verifies the note as a note verifier holding only VKEY does (Go's
golang.org/x/mod/sumdb/note `Open`): the text ends at the last blank line;
a signature line whose key name and key ID are the verifier key's must
verify, lines of unknown keys are skipped, and at least one must verify.
Prints a JSON report; exits 0 only when the note verifies.
"""

import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class Rejected(Exception):
    pass


def parse_vkey(vkey):
    # <name>+<hex key ID>+<base64(type || key)>; the base64 may hold a '+'.
    name, key_id, material = vkey.split("+", 2)
    key = base64.b64decode(material, validate=True)
    if len(key_id) != 8 or key[0] != 0x01 or len(key) != 33:
        raise Rejected("not an Ed25519 vkey")
    if hashlib.sha256(name.encode() + b"\n" + key).digest()[:4].hex() != key_id:
        raise Rejected("the vkey's key ID does not match its key")
    return name, bytes.fromhex(key_id), key[1:]


def open_note(note, vkey):
    name, key_id, public = parse_vkey(vkey)
    if any(c < " " and c != "\n" for c in note):
        raise Rejected("control character")
    split = note.rfind("\n\n")
    if split < 0:
        raise Rejected("no blank line")
    text, sigs = note[: split + 1], note[split + 2 :]
    if not sigs.endswith("\n"):
        raise Rejected("signatures do not end in a newline")
    verified, unknown = 0, []
    for line in sigs[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise Rejected("signature line without an em dash: " + repr(line))
        signer, _, b64 = line[2:].partition(" ")
        if not signer or " " in signer or "+" in signer:
            raise Rejected("bad key name")
        blob = base64.b64decode(b64, validate=True)
        if len(blob) < 5:
            raise Rejected("short signature")
        if signer == name and blob[:4] == key_id:
            try:
                Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], text.encode())
            except InvalidSignature:
                raise Rejected("the Ed25519 signature does not verify")
            verified += 1
        else:
            unknown.append({"name": signer, "key_id": blob[:4].hex(), "signature": base64.b64encode(blob[4:]).decode()})
    if verified == 0:
        raise Rejected("no signature by the verifier key")
    return text, verified, unknown


def checkpoint(text):
    # origin, tree size, base64 root hash, then extension lines.
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(not l for l in lines):
        raise Rejected("a checkpoint has at least three non-empty lines")
    origin, size, root = lines[0], lines[1], lines[2]
    if not size.isdigit() or (size != "0" and size.startswith("0")):
        raise Rejected("tree size")
    if len(base64.b64decode(root, validate=True)) != 32:
        raise Rejected("root hash")
    return {"origin": origin, "tree_size": int(size), "root_hash": root, "extensions": lines[3:]}


def main():
    note = open(sys.argv[1], encoding="utf-8").read()
    report = {"verified": False}
    try:
        text, verified, unknown = open_note(note, sys.argv[2])
        report.update(checkpoint(text))
        report.update({"verified": True, "text": text, "verified_lines": verified, "unknown_lines": unknown})
        if len(sys.argv) > 3:
            # The SM2 line's key ID as the library documents it.
            sec1 = bytes.fromhex(sys.argv[3])
            digest = hashlib.sha256(
                report["origin"].encode() + b"\n" + b"\xff" + b"1.2.156.10197.1.501" + sec1
            ).digest()
            report["sm2_key_id"] = digest[:4].hex()
    except Rejected as e:
        report["error"] = str(e)
    print(json.dumps(report))
    sys.exit(0 if report["verified"] else 1)


main()
