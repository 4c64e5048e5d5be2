#!/usr/bin/env python3
"""Expand a SAM template into plain CloudFormation, offline.

    translate_sam.py SAM_TEMPLATE OUTPUT_JSON

cfn-lint 1.58 no longer expands the AWS::Serverless transform, so on the raw
SAM template it cannot see mistakes inside `Events` (a typo in
FunctionResponseTypes, an out-of-range MaximumConcurrency). This script runs
the same translator `sam deploy` uses (aws-sam-translator), without AWS
credentials or network: managed policy ARNs are resolved from a fixed table
instead of IAM. Needs AWS_DEFAULT_REGION (scripts/check-deploy sets eu-west-1).
"""

import json
import sys
from pathlib import Path

from cfnlint.decode import decode_str
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.transform import transform


class OfflineManagedPolicies:
    """Stands in for the IAM lookup the translator makes for managed policy names.

    The template names its policies inline, so this is only asked for names
    SAM itself adds; answering from a table keeps the translation offline.
    """

    def load(self):
        return {
            name: f"arn:aws:iam::aws:policy/service-role/{name}"
            for name in (
                "AWSLambdaBasicExecutionRole",
                "AWSLambdaVPCAccessExecutionRole",
                "AWSLambdaSQSQueueExecutionRole",
            )
        }


def stand_in_for_sam_package(template):
    """Do what `sam package` does to a local CodeUri: point it at S3.

    The translator only accepts s3:// locations. The local zip need not exist
    here (scripts/package-lambda builds it); the key names the local path.
    """
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        uri = props.get("CodeUri")
        if isinstance(uri, str) and not uri.startswith("s3://"):
            props["CodeUri"] = f"s3://sam-package-stand-in/{name}/{Path(uri).name}"


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = Path(argv[1]), Path(argv[2])
    template, matches = decode_str(source.read_text())
    if matches:
        for m in matches:
            print(f"{source}: {m}", file=sys.stderr)
        return 1
    stand_in_for_sam_package(template)
    try:
        cfn = transform(template, {}, OfflineManagedPolicies(), Parser())
    except InvalidDocumentException as err:
        for cause in err.causes:
            print(f"{source}: SAM: {cause.message}", file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(cfn, indent=2, sort_keys=False, default=str) + "\n")
    print(f"translated {source} -> {target} ({len(cfn.get('Resources', {}))} resources)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
