"""scripts/bench-peak's independent reader and report (issue 16, items 6 and 7).

    bench_peak.py create --cs CONNECTION_STRING --container NAME
    bench_peak.py check  --cs CONNECTION_STRING --container NAME --out DIR --dlq URL ...

`check` reads the vault straight from Azurite with Microsoft's Python SDK
(not through our code, not through the fault proxy), the dead-letter queue
with boto3 (moto), and the samples the fakes and the workers left in DIR;
it writes DIR/bench-peak.json, DIR/report.md and, when matplotlib is in the
venv, DIR/bench-peak.png. Exit 1 when a conversation is lost, duplicated or
damaged, an attachment differs, or the DLQ is not exactly the poison.
"""

import argparse
import collections
import hashlib
import json
import os
import sys

from azure.storage.blob import BlobServiceClient

# Azurite knows an older API version than the SDK sends (docs/azure.md).
API_VERSION = "2021-12-02"


def container_client(cs, name):
    return BlobServiceClient.from_connection_string(cs, api_version=API_VERSION).get_container_client(name)


def create(a):
    c = container_client(a.cs, a.container)
    if not c.exists():
        c.create_container()


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path) if line.strip()]


def dlq_bodies(url):
    import boto3

    sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "eu-west-1"))
    bodies = []
    while True:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=600)
        msgs = r.get("Messages", [])
        if not msgs:
            return bodies
        bodies.extend(m["Body"] for m in msgs)


def explain_dlq(out, dlq, poison, workers):
    """For each good message in the DLQ, the worker log lines about its
    conversation, into DIR/dlq-good.txt: why its receives were spent."""
    with open(os.path.join(out, "dlq-good.txt"), "w") as f:
        for body in dlq:
            if body in poison:
                continue
            try:
                conv = json.loads(body)["detail"]["eventBody"]["conversationId"]
            except (ValueError, KeyError, TypeError):
                conv = None
            f.write(f"== {conv or body[:80]}\n")
            for k in range(workers):
                for name in (f"worker-{k}.log", f"lambda-{k}.log"):
                    path = os.path.join(out, name)
                    if conv and os.path.exists(path):
                        for line in open(path, errors="replace"):
                            if conv in line:
                                f.write(f"{name}: {line}")


def lambda_gb_s(out, n):
    """Lambda GB-seconds per 1,000 conversations at 128 and 512 MB, from the
    emulator's measured durations (invocations, killed ones included, plus
    every cold start's init, which Lambda bills too). Measured on this
    machine's cores: a 128 MB function gets about a fourteenth of a vCPU,
    so its CPU-bound share would run longer there."""
    path = os.path.join(out, "lambda.jsonl")
    lines = [json.loads(l) for l in open(path) if l.strip()] if os.path.exists(path) else []
    invoked = sum(l.get("duration_ms") or 0 for l in lines)
    init = sum(l.get("init_ms") or 0 for l in lines)
    seconds = (invoked + init) / 1000
    outcomes = collections.Counter(l["outcome"] for l in lines if "outcome" in l)
    return {
        "128": round(seconds * 128 / 1024 / max(1, n) * 1000, 2),
        "512": round(seconds * 512 / 1024 / max(1, n) * 1000, 2),
        "billed_seconds": round(seconds, 1),
        "init_seconds": round(init / 1000, 2),
        "cold_starts": sum(1 for l in lines if "init_ms" in l),
        "invocations": dict(outcomes),
        "records_per_invocation": round(sum(l.get("records", 0) for l in lines) / max(1, sum(outcomes.values())), 2),
    }


def rusage(out, workers):
    """Per worker process run: (elapsed, user, sys, maxrss KiB), SIGKILLed runs included."""
    runs = []
    for k in range(workers):
        path = os.path.join(out, f"rusage-{k}.txt")
        if not os.path.exists(path):
            continue
        for line in open(path):
            parts = line.split()
            # GNU time writes "Command terminated by signal 9" before the figures.
            if len(parts) == 4 and all(p.replace(".", "", 1).isdigit() for p in parts):
                runs.append(tuple(float(p) for p in parts))
    return runs


def check(a):
    out = a.out
    expected = json.load(open(os.path.join(out, "expected.json")))
    conversations = expected["conversations"]
    problems = []

    c = container_client(a.cs, a.container)
    manifests = collections.defaultdict(list)
    names = {}
    for b in c.list_blobs():
        names[b.name] = b
        parts = b.name.split("/")
        if len(parts) == 3 and parts[0] == "conversations" and parts[2].startswith("manifest."):
            manifests[parts[1]].append(b)
    lost = sorted(set(conversations) - set(manifests))
    extra = sorted(set(manifests) - set(conversations))
    duplicated = sorted(k for k, v in manifests.items() if len(v) > 1)
    if lost:
        problems.append(f"{len(lost)} conversation(s) lost, e.g. {lost[:5]}")
    if extra:
        problems.append(f"{len(extra)} unexpected conversation(s) in the vault, e.g. {extra[:5]}")
    if duplicated:
        problems.append(f"{len(duplicated)} conversation(s) with more than one generation, e.g. {duplicated[:5]}")

    # Every attachment byte-identical: the manifest names its blob; the
    # blob's bytes hash to what the fake served.
    checked = 0
    incomplete = []
    for conv, blobs in manifests.items():
        m = json.loads(c.download_blob(blobs[0].name).readall())
        if m.get("missing"):
            incomplete.append(conv)
        want = {aid: (sha, size) for aid, sha, size in expected["attachments"].get(conv, [])}
        for o in m.get("objects", []):
            if o.get("role") != "attachment":
                continue
            aid = o.get("attachmentId")
            h = hashlib.sha256()
            for chunk in c.download_blob(o["path"]).chunks():
                h.update(chunk)
            sha = h.hexdigest()
            if aid not in want or want[aid][0] != sha or o.get("sha256") != sha:
                problems.append(f"attachment {o['path']}: sha256 {sha} is not what the fake served")
            checked += 1
            want.pop(aid, None)
        if want:
            problems.append(f"{conv}: attachment(s) {sorted(want)} not in its manifest")
    if incomplete:
        problems.append(f"{len(incomplete)} generation(s) with missing[] attachments, e.g. {incomplete[:5]}")

    dlq = dlq_bodies(a.dlq)
    if collections.Counter(dlq) != collections.Counter(expected["poison"]):
        problems.append(f"DLQ holds {len(dlq)} message(s), expected exactly the {len(expected['poison'])} poison")
        explain_dlq(out, dlq, set(expected["poison"]), a.workers)
    if a.verify_status != 0:
        problems.append("tvault verify or tvault reconcile was not clean (see verify.txt, reconcile.txt)")

    # Figures.
    # The samples up to the end of the run (not reconcile's listing after it).
    timeline = read_jsonl(os.path.join(out, "timeline.run.jsonl"))
    sent = {}
    for s in read_jsonl(os.path.join(out, "sent.jsonl")):
        if s["conversation"] and s["conversation"] not in sent:
            sent[s["conversation"]] = s["ms"]
    # Time to vault: the first event about a conversation on the queue (its
    # end, in this load) to its manifest's Last-Modified (whole seconds).
    ttv = sorted(
        max(0.0, b[0].last_modified.timestamp() - sent[conv] / 1000)
        for conv, b in manifests.items()
        if conv in sent
    )
    wall = max(1, a.drained - a.started)
    n = len(conversations)
    last = timeline[-1] if timeline else {"azure": {}, "genesys": {}}
    genesys_total = sum(last["genesys"].values())
    n_att = sum(len(v) for v in expected["attachments"].values())
    # The fewest Genesys requests the client could make for the events sent:
    # one token per worker process, the recordings for each lifecycle event
    # (an `acw` after `customer.end` pulls again: only the transcript tells
    # whether the content changed), for SMS/WhatsApp also the messages API
    # (conversation and bulk; they are served without a messaging
    # recording), and per attachment its download URL and the signed URL once.
    kills = [line.split() for line in open(os.path.join(out, "kills.txt")) if line.strip()]
    runs = rusage(out, a.workers)
    cpu = sum(r[1] + r[2] for r in runs)
    peak_rss = max((r[3] for r in runs), default=0)
    # expected.json gives each conversation's kind and its lifecycle events.
    genesys_min = (
        a.workers
        + len(kills)
        + sum(c["events"] * (3 if c["kind"] in ("SMS", "WHATSAPP") else 1) for c in conversations.values())
        + 2 * n_att
    )
    report = {
        "n": n,
        "workers": a.workers,
        "kill_every_s": a.kill_every,
        "kills": len(kills),
        "wall_s": wall,
        "throughput_per_s": round(n / wall, 2),
        "time_to_vault_s": {f"p{p}": percentile(ttv, p) for p in (50, 95, 99)},
        "genesys_requests": last["genesys"],
        "genesys_requests_per_conversation": round(genesys_total / max(1, n), 2),
        "genesys_minimum_per_conversation": round(genesys_min / max(1, n), 2),
        "genesys_429": last.get("genesys_429"),
        "azure": last["azure"],
        "azure_requests_per_conversation": round(last["azure"].get("requests", 0) / max(1, n), 2),
        "cpu_s_per_1000_per_worker": round(cpu / max(1, n) * 1000 / max(1, a.workers), 2),
        "cpu_s_per_1000": round(cpu / max(1, n) * 1000, 2),
        "peak_rss_mib": round(peak_rss / 1024, 1),
        "attachments_checked": checked,
        "dlq": len(dlq),
        "poison": len(expected["poison"]),
        "load_average": os.getloadavg(),
        "problems": problems,
        "lambda_gb_s_per_1000": lambda_gb_s(out, n) if a.lambda_ else None,
    }
    json.dump(report, open(os.path.join(out, "bench-peak.json"), "w"), indent=2)

    rows = [
        ("conversations", n),
        ("Lambda environments" if a.lambda_ else "workers", f"{a.workers}, SIGKILL every {a.kill_every} s ({len(kills)} kills)"),
        ("wall (drained)", f"{wall} s"),
        ("throughput", f"{report['throughput_per_s']} conversations/s"),
        ("time to vault p50 / p95 / p99", " / ".join(f"{report['time_to_vault_s'][k]:.0f} s" if report['time_to_vault_s'][k] is not None else "-" for k in ("p50", "p95", "p99"))),
        ("Genesys requests per conversation (minimum)", f"{report['genesys_requests_per_conversation']} ({report['genesys_minimum_per_conversation']})"),
        ("Genesys 429 answers", report["genesys_429"]),
        ("Azure requests per conversation", report["azure_requests_per_conversation"]),
        ("Azure throttled 503 / 429 / answers dropped", f"{last['azure'].get('throttled_503')} / {last['azure'].get('throttled_429')} / {last['azure'].get('dropped_after')}"),
        ("CPU-seconds per 1,000 conversations (all processes)", report["cpu_s_per_1000"]),
        ("peak RSS of a process", f"{report['peak_rss_mib']} MiB"),
        ("attachments checked byte for byte", checked),
        ("DLQ (poison sent)", f"{len(dlq)} ({len(expected['poison'])})"),
        ("load average (1, 5, 15 min)", ", ".join(f"{x:.2f}" for x in report["load_average"])),
        ("Lambda GB-seconds per 1,000 conversations (128 / 512 MB)", "-" if not a.lambda_ else f"{report['lambda_gb_s_per_1000']['128']} / {report['lambda_gb_s_per_1000']['512']}"),
        ("end check", "clean" if not problems else "; ".join(problems)),
    ]
    md = "| figure | value |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in rows)
    open(os.path.join(out, "report.md"), "w").write(md)

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench_peak: matplotlib is not in the venv: no chart", file=sys.stderr)
        return 1 if problems else 0
    t0 = a.started
    done = collections.Counter(int(b[0].last_modified.timestamp()) - t0 for b in manifests.values())
    xs = list(range(0, wall + 1))
    fig, ax1 = plt.subplots(figsize=(10, 4))
    ax1.bar(xs, [done.get(x, 0) for x in xs], width=1.0, color="tab:green", label="archived per second")
    ax1.set_xlabel("seconds since the workers started")
    ax1.set_ylabel("archived per second")
    ax2 = ax1.twinx()
    ax2.plot([s["ms"] / 1000 - t0 for s in timeline], [s["visible"] + s["in_flight"] for s in timeline], color="tab:blue", label="queue depth")
    ax2.set_ylabel("queue depth (visible + in flight)")
    for k in kills:
        ax1.axvline(int(k[0]) / 1000 - t0, color="tab:red", linestyle=":", linewidth=1)
    fig.legend(loc="upper right")
    ax1.set_title(f"bench-peak: {n} conversations, {a.workers} workers, SIGKILL every {a.kill_every} s (red)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "bench-peak.png"), dpi=100)
    return 1 if problems else 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["create", "check"])
    p.add_argument("--cs", required=True)
    p.add_argument("--container", required=True)
    p.add_argument("--out")
    p.add_argument("--dlq")
    p.add_argument("--started", type=int)
    p.add_argument("--drained", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--kill-every", type=int)
    p.add_argument("--verify-status", type=int, default=0)
    p.add_argument("--lambda", dest="lambda_", type=int, default=0)
    a = p.parse_args()
    if a.command == "create":
        create(a)
        return 0
    return check(a)


if __name__ == "__main__":
    sys.exit(main())
