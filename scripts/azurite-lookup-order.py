#!/usr/bin/env python3
"""Make Azurite's blob lookups use their most selective index (idempotent).

Azurite keeps blob metadata in LokiJS and finds a blob with an equality query
such as {accountName, containerName, name, snapshot}. LokiJS turns it into an
$and and uses a binary index for the first clause only: accountName, which
every blob of the account shares, so each request scans the whole account
(docs/azure.md: ~675 requests/s at 2,000 blobs, ~90/s at 8,000). This puts
the clause on `blobName` (blocks) or `name` (blobs, containers) first when
that property is indexed. An $and of equalities is the same set in any
order, so answers do not change, only the time: the peak benchmark's
hundreds of thousands of blobs would otherwise make every request a scan.

    scripts/azurite-lookup-order.py .tools/azurite/node_modules/lokijs/src/lokijs.js
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

path = sys.argv[1]
text = open(path).read()
if MARK in text:
    sys.exit(0)
if text.count(ANCHOR) != 1:
    sys.exit(f"azurite-lookup-order: {path}: the place to patch is not there once (lokijs changed?)")
open(path, "w").write(text.replace(ANCHOR, PATCH))
print(f"azurite-lookup-order: patched {path}", file=sys.stderr)
