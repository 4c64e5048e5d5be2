#!/usr/bin/env python3
"""Make Azurite's blob lookups use their most selective index, and let its
metadata autosave interval be set (idempotent).

Azurite keeps blob metadata in LokiJS and finds a blob with an equality query
such as {accountName, containerName, name, snapshot}. LokiJS turns it into an
$and and uses a binary index for the first clause only: accountName, which
every blob of the account shares, so each request scans the whole account
(docs/azure.md: ~675 requests/s at 2,000 blobs, ~90/s at 8,000). This puts
the clause on `blobName` (blocks) or `name` (blobs, containers) first when
that property is indexed. An $and of equalities is the same set in any
order, so answers do not change, only the time: the peak benchmark's
hundreds of thousands of blobs would otherwise make every request a scan.

On disk (`--location`), Azurite saves its whole LokiJS metadata database
every 5 s, blocking its one thread while it serialises every blob's record:
measured in the peak benchmark, about 3 s of every 5 answered nothing at
80,000 blobs, and the stall grows with the store. The blob and extent
stores' interval becomes `TVAULT_AZURITE_AUTOSAVE_MS` when set (5 s
otherwise); `scripts/services` sets it for on-disk runs, which keep data
for one run and are saved when Azurite stops.

    scripts/patch-azurite.py .tools/azurite/node_modules
"""
import sys

MARK = "/* tvault: most selective index first */"
ANCHOR = "        if (filters.length > 1) {\n"
PATCH = ANCHOR + """          """ + MARK + """
          var coll = this.collection;
          var rank = function (f) {
            var k = Object.keys(f)[0];
            var v = f[k];
            if (!coll.binaryIndices[k] || (v !== null && typeof v === 'object')) { return 2; }
            return k === 'blobName' ? 0 : k === 'name' ? 1 : 2;
          };
          filters.sort(function (a, b) { return rank(a) - rank(b); });
"""

AUTOSAVE = "autosaveInterval: 5000"
AUTOSAVE_PATCH = "autosaveInterval: Number(process.env.TVAULT_AZURITE_AUTOSAVE_MS) || 5000 /* tvault */"


def patch(path, anchor, replacement, mark):
    text = open(path).read()
    if mark in text:
        return
    if text.count(anchor) != 1:
        sys.exit(f"patch-azurite: {path}: the place to patch is not there once (the package changed?)")
    open(path, "w").write(text.replace(anchor, replacement))
    print(f"patch-azurite: patched {path}", file=sys.stderr)


modules = sys.argv[1]
patch(f"{modules}/lokijs/src/lokijs.js", ANCHOR, PATCH, MARK)
for store in ("blob/persistence/LokiBlobMetadataStore.js", "common/persistence/LokiExtentMetadataStore.js"):
    patch(f"{modules}/azurite/dist/src/{store}", AUTOSAVE, AUTOSAVE_PATCH, "/* tvault */")
