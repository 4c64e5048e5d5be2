#!/usr/bin/env python3
"""Prove the template checks bite: remove or break one property at a time and
require test_templates.py to fail on each mutant.

    python deploy/checks/mutate.py        (scripts/check-deploy --mutations runs it)

Each mutation is a plain text replacement in a copy of one template; the
original files are never touched. Prints one line per mutation and a closing
'N passed, N failed' line; exits non-zero if any mutant survived (the tests
did not notice), was caught only by an unrelated test, or a replacement no
longer matches the template.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    ("throttles alarm removed", "Throttles", SAM, "      MetricName: Throttles", "      MetricName: Invocations"),
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


def run_one(python, name, expected, path, old, new, workdir):
    text = path.read_text()
    if text.count(old) < 1:
        return "stale", f"text to replace not found in {path.name}"
    mutant = workdir / path.name
    mutant.write_text(text.replace(old, new, 1))
    env = dict(os.environ, **{ENV_OF[path]: str(mutant)})
    env.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    proc = subprocess.run(
        [python, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", str(HERE / "test_templates.py")],
        env=env, capture_output=True, text=True,
    )
    if proc.returncode == 0:
        return "survived", "the tests passed on the broken template"
    failed = [l.split("::")[-1].split(" - ")[0] for l in proc.stdout.splitlines() if l.startswith(("FAILED", "ERROR"))]
    if not any(expected in f for f in failed):
        return "wrong", f"expected a failure of *{expected}*, got {failed or proc.stdout[-300:]}"
    return "caught", ", ".join(failed)


def main():
    start = time.monotonic()
    caught = bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, expected, path, old, new in MUTATIONS:
            workdir = Path(tmp) / str(caught + bad)
            workdir.mkdir()
            verdict, detail = run_one(sys.executable, name, expected, path, old, new, workdir)
            print(f"  {verdict:8} {name}: {detail}")
            if verdict == "caught":
                caught += 1
            else:
                bad += 1
    print(f"mutations: {time.monotonic() - start:.1f}s")
    print(f"{caught} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
