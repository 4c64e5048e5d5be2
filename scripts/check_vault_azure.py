#!/usr/bin/env python3
"""Independent reader of a transcript-vault container, using only Microsoft's
official Azure SDK for Python (azure-storage-blob), none of the vault's code.

It lists the container, downloads every blob, and checks:
  * every blob whose service-side Content-MD5 is set matches the MD5 of its bytes;
  * every blob carries metadata `sha256` equal to the SHA-256 of its bytes
    (index markers, empty objects, included);
  * every conversations/*/manifest.*.json parses as transcript-vault/manifest/v1
    (its schema tag, and every required field present with its JSON type),
    and each object it lists exists with the listed sha256 and size;
  * every transcript and source object is listed by some manifest
    (nothing orphaned under conversations/ except attachments being archived).

Usage:
  check_vault_azure.py --connection-string "..." --container NAME [--expect-manifests N] [--require-md5]
  (or AZURE_STORAGE_CONNECTION_STRING in the environment)

Exit status: 0 all good, 1 a problem was found (each printed), 2 usage error.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import sys

from azure.storage.blob import BlobServiceClient

MANIFEST = re.compile(r"^conversations/([^/]+)/manifest\.([0-9a-f]{16})\.json$")

# docs/vault-format.md, "Manifest": the fields every manifest has, with their
# JSON types. Values Genesys may not give (times, topic, event id, media type)
# may be null and are not listed; attachments also carry attachmentId.
REQUIRED = {
    "schema": str, "conversationId": str, "generation": str, "archivedAt": str,
    "trigger": dict, "conversation": dict, "objects": list, "missing": list,
}
REQUIRED_IN = {
    "trigger": {"kind": str},
    "conversation": {"messageCount": int, "attachmentCount": int},
    "objects[]": {"path": str, "role": str, "sha256": str, "size": int, "contentType": str},
    "missing[]": {"attachmentId": str, "reason": str},
}
ROLES = {"transcript", "source", "attachment"}


def schema_problems(doc):
    """What makes `doc` not a transcript-vault/manifest/v1: each missing or
    mistyped required field, by its path."""
    if not isinstance(doc, dict):
        return ["not a JSON object"]
    out = []

    def check(obj, where, fields):
        for field, kind in fields.items():
            if field not in obj:
                out.append(f"missing required field {where}{field}")
            # bool is an int to Python; no field here is a boolean.
            elif not isinstance(obj[field], kind) or isinstance(obj[field], bool):
                out.append(f"{where}{field} is {type(obj[field]).__name__}, not {kind.__name__}")

    check(doc, "", REQUIRED)
    for name in ("trigger", "conversation"):
        if isinstance(doc.get(name), dict):
            check(doc[name], f"{name}.", REQUIRED_IN[name])
    for name in ("objects", "missing"):
        for i, entry in enumerate(doc.get(name) if isinstance(doc.get(name), list) else []):
            if not isinstance(entry, dict):
                out.append(f"{name}[{i}] is not an object")
                continue
            check(entry, f"{name}[{i}].", REQUIRED_IN[f"{name}[]"])
            if name == "objects" and entry.get("role") not in ROLES:
                out.append(f"objects[{i}].role {entry.get('role')!r} is none of {sorted(ROLES)}")
            if name == "objects" and entry.get("role") == "attachment" and "attachmentId" not in entry:
                out.append(f"missing required field objects[{i}].attachmentId (an attachment)")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connection-string", default=os.environ.get("AZURE_STORAGE_CONNECTION_STRING"))
    ap.add_argument("--container", required=True)
    ap.add_argument("--require-md5", action="store_true",
                    help="fail if a blob has no Content-MD5 (this vault sets one on every blob it writes)")
    ap.add_argument("--expect-manifests", type=int, default=None,
                    help="fail unless exactly this many manifests are found")
    args = ap.parse_args()
    if not args.connection_string:
        print("check_vault_azure: set --connection-string or AZURE_STORAGE_CONNECTION_STRING", file=sys.stderr)
        return 2

    service = BlobServiceClient.from_connection_string(args.connection_string)
    container = service.get_container_client(args.container)

    problems = []
    with_md5 = 0
    blobs = {}  # name -> (bytes, properties)
    for props in container.list_blobs(include=["metadata"]):
        data = container.download_blob(props.name).readall()
        blobs[props.name] = (data, props)

    for name, (data, props) in sorted(blobs.items()):
        sha = hashlib.sha256(data).hexdigest()
        meta = (props.metadata or {}).get("sha256")
        if meta != sha:
            problems.append(f"{name}: metadata sha256 {meta!r} != sha256 of its bytes {sha}")
        md5 = props.content_settings.content_md5
        if not md5 and args.require_md5:
            problems.append(f"{name}: no Content-MD5")
        if md5:
            with_md5 += 1
            want = bytes(md5)
            got = hashlib.md5(data).digest()
            if want != got:
                problems.append(
                    f"{name}: Content-MD5 {base64.b64encode(want).decode()} != md5 of its bytes {base64.b64encode(got).decode()}")
        if props.size != len(data):
            problems.append(f"{name}: listed size {props.size} != downloaded {len(data)}")

    manifests = 0
    listed = set()
    for name, (data, _) in sorted(blobs.items()):
        m = MANIFEST.match(name)
        if not m:
            continue
        manifests += 1
        try:
            doc = json.loads(data)
        except ValueError as e:
            problems.append(f"{name}: not JSON: {e}")
            continue
        if not isinstance(doc, dict):
            problems.append(f"{name}: not a JSON object")
            continue
        if doc.get("schema") != "transcript-vault/manifest/v1":
            problems.append(f"{name}: schema {doc.get('schema')!r}")
        problems.extend(f"{name}: {p}" for p in schema_problems(doc))
        if doc.get("conversationId") != m.group(1) or doc.get("generation") != m.group(2):
            problems.append(f"{name}: names conversation {doc.get('conversationId')!r} generation {doc.get('generation')!r}")
        objects = doc.get("objects") if isinstance(doc.get("objects"), list) else []
        for entry in (e for e in objects if isinstance(e, dict)):
            path = entry.get("path")
            listed.add(path)
            if path not in blobs:
                problems.append(f"{name}: lists {path}, which is not in the container")
                continue
            data2 = blobs[path][0]
            if hashlib.sha256(data2).hexdigest() != entry.get("sha256"):
                problems.append(f"{name}: {path} sha256 differs from the manifest")
            if len(data2) != entry.get("size"):
                problems.append(f"{name}: {path} size {len(data2)} != manifest {entry.get('size')}")

    for name in blobs:
        if name.startswith("conversations/") and not MANIFEST.match(name) and name not in listed \
                and "/attachments/" not in name:
            problems.append(f"{name}: not listed by any manifest")

    if args.expect_manifests is not None and manifests != args.expect_manifests:
        problems.append(f"found {manifests} manifests, expected {args.expect_manifests}")

    for p in problems:
        print(f"check_vault_azure: {p}", file=sys.stderr)
    print(f"check_vault_azure: {len(blobs)} blobs ({with_md5} with Content-MD5), {manifests} manifests, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
