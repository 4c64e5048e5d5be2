#!/usr/bin/env python3
"""Prove the template checks bite: remove or break one property at a time and
require the test named for it in test_templates.py to fail on each mutant.

    python deploy/checks/mutate.py [-j N]   (scripts/check-deploy --mutations runs it)

Each mutation is a plain text replacement in a copy of one template; the
original files are never touched. Prints one line per mutation and a closing
'N passed, N failed' line; exits non-zero if the named tests fail on the
original templates, or any mutant survived (the test named for it passed on
the broken template), or no test has that name, or a replacement no longer
matches the template.

Fast enough to run in every suite: the heavy imports (pytest, cfn-lint,
aws-sam-translator) happen once, in this process; each mutant then runs in a
process forked from it (so test_templates.py is imported afresh with the
mutant's path), on as many cores as there are (-j), and runs only the tests
named for it (the SAM template is translated once per mutant, not per test).
The first run is of those same tests on the original templates: a test that
fails there would "catch" every mutant and prove nothing.
"""

import argparse
import contextlib
import io
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

# Imported here, once, so every forked child starts with them loaded; each
# would otherwise spend most of its time importing.
import pytest
import cfnlint.decode  # noqa: F401  (test_templates.py's parser)
import samtranslator.parser.parser  # noqa: F401  (its `cfn` fixture)
import samtranslator.translator.transform  # noqa: F401

HERE = Path(__file__).resolve().parent
DEPLOY = HERE.parent
SAM = DEPLOY / "aws" / "template.yaml"
ARM = DEPLOY / "azure" / "main.json"
BICEP = DEPLOY / "azure" / "main.bicep"
ENV_OF = {SAM: "TVAULT_SAM_TEMPLATE", ARM: "TVAULT_ARM_TEMPLATE", BICEP: "TVAULT_BICEP_TEMPLATE"}

# (what is broken, the test that must notice it (a substring of its id), file,
#  text to find, replacement)
MUTATIONS = [
    ("FunctionResponseTypes typo", "partial_batch_failures", SAM, "- ReportBatchItemFailures", "- ReportBatchFailures"),
    ("MaximumConcurrency fixed", "caps_concurrency", SAM, "MaximumConcurrency: !Ref MaxConcurrency", "MaximumConcurrency: 1"),
    ("MaxConcurrency may be 1", "caps_concurrency", SAM, "    Default: 50\n    MinValue: 2", "    Default: 50\n    MinValue: 1"),
    ("visibility < 6 x timeout", "six_times", SAM, "QueueVisibilityTimeout: 1860", "QueueVisibilityTimeout: 1500"),
    ("timeout without visibility entry", "six_times", SAM, "AllowedValues: [60, 120, 300, 600, 900]", "AllowedValues: [60, 120, 300, 600, 900, 890]"),
    ("maxReceiveCount may be 3", "five_receives", SAM, "    Default: 10\n    MinValue: 5", "    Default: 10\n    MinValue: 3"),
    ("DLQ retention 4 days", "dead_letter_queue_keeps", SAM, "MessageRetentionPeriod: 1209600\n\n  # Events EventBridge", "MessageRetentionPeriod: 345600\n\n  # Events EventBridge"),
    ("source queue retention 4 days", "source_queue_keeps", SAM, "MessageRetentionPeriod: 1209600\n      VisibilityTimeout", "MessageRetentionPeriod: 345600\n      VisibilityTimeout"),
    ("source prefix changed", "source_prefix", SAM, "- prefix: aws.partner/genesys.com", "- prefix: aws.partner"),
    ("acw topic dropped", "classifiers_lifecycle_topics", SAM, "          - v2.detail.events.conversation.{id}.acw\n", ""),
    ("user.end topic back", "classifiers_lifecycle_topics", SAM, "          - v2.detail.events.conversation.{id}.acw\n", "          - v2.detail.events.conversation.{id}.acw\n          - v2.detail.events.conversation.{id}.user.end\n"),
    ("CHAT dropped", "classifiers_digital_media", SAM, "              - equals-ignore-case: CHAT\n", ""),
    ("media without mediaType dropped", "classifiers_digital_media", SAM, "              - exists: false\n", ""),
    ("media case-sensitive", "classifiers_digital_media", SAM, "              - equals-ignore-case: MESSAGE\n", "              - MESSAGE\n"),
    ("rule without target DLQ", "dead_letter_queue_and_retry", SAM, "          DeadLetterConfig:\n            Arn: !GetAtt DeliveryDeadLetterQueue.Arn\n", ""),
    ("queue policy without SourceArn", "from_that_rule_only", SAM, "            Condition:\n              ArnEquals:\n                aws:SourceArn: !GetAtt GenesysLifecycleRule.Arn\n", ""),
    ("sqs:* in role", "no_wildcard", SAM, "                  - sqs:ReceiveMessage\n", "                  - sqs:*\n"),
    ("Action * in role", "no_wildcard", SAM, "                Action: secretsmanager:GetSecretValue", "                Action: \"*\""),
    ("secret wildcard resource", "only_the_one_secret", SAM, "                Resource: !Ref SecretArn", "                Resource: \"*\""),
    ("EIP output removed", "elastic_ips_are_outputs", SAM, "      - !Join [\",\", [!Ref NatEipA, !Ref NatEipB]]\n      - !Ref NatEipA", "      - !Ref NatEipA\n      - !Ref NatEipA"),
    ("runtime provided.al2", "provided_al2023", SAM, "Runtime: provided.al2023", "Runtime: provided.al2"),
    ("architecture fixed", "architecture_is_a_parameter", SAM, "        - !Ref Architecture", "        - arm64"),
    ("queue unencrypted", "every_queue_is_encrypted", SAM, "      SqsManagedSseEnabled: true\n      MessageRetentionPeriod: 1209600\n      VisibilityTimeout", "      MessageRetentionPeriod: 1209600\n      VisibilityTimeout"),
    ("failed records alarm on another metric", "failed_records", SAM, "      MetricName: Failed\n", "      MetricName: Errors\n"),
    ("failed records alarm threshold fixed", "failed_records", SAM, "      Threshold: !Ref FailedRecordsAlarmThreshold", "      Threshold: 5"),
    ("missing attachments alarm in AWS/Lambda", "missing_attachment", SAM, "      Namespace: TranscriptVault\n      MetricName: MissingAttachments", "      Namespace: AWS/Lambda\n      MetricName: MissingAttachments"),
    ("missing attachments alarm threshold 10", "missing_attachment", SAM, "      MetricName: MissingAttachments\n      Dimensions:\n        - Name: FunctionName\n          Value: !Ref ArchiveFunction\n      Statistic: Sum\n      Period: 300\n      EvaluationPeriods: 1\n      Threshold: 0", "      MetricName: MissingAttachments\n      Dimensions:\n        - Name: FunctionName\n          Value: !Ref ArchiveFunction\n      Statistic: Sum\n      Period: 300\n      EvaluationPeriods: 1\n      Threshold: 10"),
    ("runbook section misnamed", "runbook_section", SAM, '"Missing attachments".', '"Lost attachments".'),
    ("throttles alarm removed", "Throttles", SAM, "      MetricName: Throttles", "      MetricName: Invocations"),
    ("seal payload not the router's", "seal_schedule_invokes", SAM, "Input: '{\"tvault\": \"seal\"", "Input: '{\"tvault\": \"sealed\""),
    ("seal schedule hourly", "seal_schedule_invokes", SAM, "cron(0 ${SealGraceHours} * * ? *)", "cron(0 * * * ? *)"),
    ("seal grace past a day", "seal_schedule_invokes", SAM, "    MinValue: 0\n    MaxValue: 23", "    MinValue: 0\n    MaxValue: 30"),
    ("schedule role may invoke anything", "seal_schedule_role", SAM, "                Action: lambda:InvokeFunction\n                Resource: !GetAtt ArchiveFunction.Arn", "                Action: lambda:InvokeFunction\n                Resource: \"*\""),
    ("witness may be overwritten", "witness_parameter_is_create_only", SAM, 'ssm:Overwrite: "true"', 'ssm:Overwrite: "false"'),
    ("ARM TLS 1.0", "tls12", ARM, '"minimumTlsVersion": "TLS1_2"', '"minimumTlsVersion": "TLS1_0"'),
    ("ARM http allowed", "tls12_and_https", ARM, '"supportsHttpsTrafficOnly": true', '"supportsHttpsTrafficOnly": false'),
    ("ARM public blobs", "no_public_blob", ARM, '"allowBlobPublicAccess": false', '"allowBlobPublicAccess": true'),
    ("ARM firewall allow", "denies_by_default", ARM, '"defaultAction": "Deny"', '"defaultAction": "Allow"'),
    ("ARM ip rules not from parameter", "ip_parameter", ARM, "\"value\": \"[parameters('allowedIpAddresses')[copyIndex('ipRules')]]\"", '"value": "203.0.113.7"'),
    ("ARM versioning off", "versions_and_soft_deletes", ARM, '"isVersioningEnabled": true', '"isVersioningEnabled": false'),
    ("ARM no immutability policy", "retention_policy", ARM, "containers/immutabilityPolicies\"", "containers/notAPolicy\""),
    ("ARM retention not x365", "retention_policy_in_years", ARM, "[mul(parameters('retentionYears'), 365)]", "[mul(parameters('retentionYears'), 36)]"),
    ("Bicep TLS 1.0", "TLS 1.2", BICEP, "minimumTlsVersion: 'TLS1_2'", "minimumTlsVersion: 'TLS1_0'"),
    ("Bicep firewall allow", "default deny", BICEP, "defaultAction: 'Deny'", "defaultAction: 'Allow'"),
    ("Bicep no versioning", "versioning", BICEP, "isVersioningEnabled: true", "isVersioningEnabled: false"),
    ("ARM writer may overwrite", "writer_policy_creates_but_cannot_overwrite", ARM, "tvault-writer --permissions rcl", "tvault-writer --permissions rcwl"),
    ("Bicep writer may delete", "writer_policy_creates_but_cannot_overwrite", BICEP, "tvault-writer --permissions rcl", "tvault-writer --permissions rcdl"),
    ("Bicep default drift", "same_parameters_and_defaults", BICEP, "param retentionYears int = 7", "param retentionYears int = 5"),
]


class Selected:
    """A pytest plugin: keep only the tests whose id contains one of `names`,
    and remember which of them failed."""

    def __init__(self, names):
        self.names = names
        self.ran = []
        self.failed = []

    def pytest_collection_modifyitems(self, config, items):
        keep = [i for i in items if any(n in i.nodeid for n in self.names)]
        drop = [i for i in items if i not in keep]
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep

    def pytest_runtest_logreport(self, report):
        test = report.nodeid.split("::")[-1]
        if report.when == "call" or report.outcome == "failed":
            if test not in self.ran:
                self.ran.append(test)
            if report.outcome == "failed" and test not in self.failed:
                self.failed.append(test)


def run_tests(names, env):
    """In a fresh (forked) process: run the tests named by `names` with `env`
    set; returns (ran, failed, pytest's output)."""
    os.environ.update(env)
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    plugin = Selected(names)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        pytest.main(
            ["-q", "-p", "no:cacheprovider", "-p", "no:randomly", str(HERE / "test_templates.py")],
            plugins=[plugin],
        )
    return plugin.ran, plugin.failed, out.getvalue()


def run_one(job):
    name, expected, path, old, new, workdir = job
    text = path.read_text()
    if text.count(old) < 1:
        return name, "stale", f"text to replace not found in {path.name}"
    mutant = Path(workdir) / path.name
    mutant.write_text(text.replace(old, new, 1))
    ran, failed, output = run_tests([expected], {ENV_OF[path]: str(mutant)})
    if not ran:
        return name, "stale", f"no test named *{expected}*: {output[-300:]}"
    if not failed:
        return name, "survived", f"{', '.join(ran)} passed on the broken template"
    return name, "caught", ", ".join(failed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                    help="mutants run at once (default: the number of cores)")
    args = ap.parse_args()
    start = time.monotonic()
    # Forked children share the imports above; each task gets a new child
    # (maxtasksperchild=1) so test_templates.py reads its mutant's path.
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1, maxtasksperchild=1) as pool:
        ran, failed, output = pool.apply(run_tests, ([m[1] for m in MUTATIONS], {}))
    if failed or not ran:
        print(output[-2000:])
        print(f"mutations: the named tests must pass on the original templates; failed: {failed}")
        print("0 passed, 1 failed")
        return 1
    print(f"  original  {len(ran)} named tests pass on the unchanged templates")
    caught = bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for i, (name, expected, path, old, new) in enumerate(MUTATIONS):
            workdir = Path(tmp) / str(i)
            workdir.mkdir()
            jobs.append((name, expected, path, old, new, str(workdir)))
        with ctx.Pool(max(1, args.jobs), maxtasksperchild=1) as pool:
            for name, verdict, detail in pool.imap(run_one, jobs):
                print(f"  {verdict:8} {name}: {detail}", flush=True)
                if verdict == "caught":
                    caught += 1
                else:
                    bad += 1
    print(f"mutations: {time.monotonic() - start:.1f}s ({args.jobs} at once)")
    print(f"{caught} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
