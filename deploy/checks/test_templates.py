"""Properties the deployment templates must keep, asserted on their parsed form.

Run by scripts/check-deploy (pytest, inside the project's .venv). Each test
names the property it protects; removing that property from a template makes
the test fail. The SAM template is checked both as written and as
aws-sam-translator expands it (what CloudFormation really receives).
"""

import json
import os
import re
import sys
from pathlib import Path

import pytest
from cfnlint.decode import decode_str

HERE = Path(__file__).resolve().parent
DEPLOY = HERE.parent
SAM_PATH = Path(os.environ.get("TVAULT_SAM_TEMPLATE", DEPLOY / "aws" / "template.yaml"))
ARM_PATH = Path(os.environ.get("TVAULT_ARM_TEMPLATE", DEPLOY / "azure" / "main.json"))
BICEP_PATH = Path(os.environ.get("TVAULT_BICEP_TEMPLATE", DEPLOY / "azure" / "main.bicep"))

# The router's classifier and the cases it shares with the EventBridge rule.
EVENT_RS = DEPLOY.parent / "crates" / "core" / "src" / "event.rs"
RULE_CASES = HERE / "rule_cases.json"
FIXTURES = DEPLOY.parent / "fixtures" / "genesys"
FOURTEEN_DAYS = 1209600


# --------------------------------------------------------------------- helpers
def load_sam():
    template, matches = decode_str(SAM_PATH.read_text())
    assert not matches, f"{SAM_PATH} does not parse: {matches}"
    return template


@pytest.fixture(scope="module")
def sam():
    return load_sam()


@pytest.fixture(scope="module")
def cfn():
    """The SAM template expanded to plain CloudFormation, offline."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    sys.path.insert(0, str(HERE))
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.transform import transform
    from translate_sam import OfflineManagedPolicies, stand_in_for_sam_package

    template = load_sam()
    stand_in_for_sam_package(template)
    return json.loads(json.dumps(transform(template, {}, OfflineManagedPolicies(), Parser()), default=str))


@pytest.fixture(scope="module")
def arm():
    return json.loads(ARM_PATH.read_text())


@pytest.fixture(scope="module")
def bicep():
    return BICEP_PATH.read_text()


def classifier_strings(name):
    """The strings of `pub const NAME: [&str; N] = [...]` in the classifier's
    source, so the rule is checked against the constants the router uses."""
    m = re.search(rf"pub const {name}: \[&str; (\d+)\] = \[([^\]]*)\];", EVENT_RS.read_text())
    assert m, f"pub const {name} not found in {EVENT_RS}"
    values = re.findall(r'"([^"]*)"', m.group(2))
    assert len(values) == int(m.group(1)), m.group(0)
    return values


MISSING = object()


def pattern_matches(pattern, event):
    """EventBridge pattern matching, for the operators the template uses
    (exact values, prefix, equals-ignore-case, exists); any other operator
    fails the test until it is modelled here. A field must match one of its
    listed values; a missing field matches only `exists: false`, also under a
    missing parent (exists applies to leaves)."""
    for key, want in pattern.items():
        value = event.get(key, MISSING) if isinstance(event, dict) else MISSING
        if isinstance(want, dict):
            if not pattern_matches(want, value if isinstance(value, dict) else {}):
                return False
        elif not any(value_matches(w, value) for w in want):
            return False
    return True


def value_matches(want, value):
    if isinstance(want, dict):
        ((op, arg),) = want.items()
        if op == "exists":
            return (value is not MISSING) == arg
        if not isinstance(value, str):
            return False
        if op == "prefix":
            return value.startswith(arg)
        if op == "equals-ignore-case":
            return value.lower() == arg.lower()
        raise AssertionError(f"operator {op!r} is not modelled by pattern_matches")
    if value is MISSING:
        return False
    if isinstance(value, list):
        return any(value_matches(want, v) for v in value)
    # The template's strings are cfn-lint's str subclasses: compare by kind, not type.
    if want is None or value is None:
        return want is None and value is None
    if isinstance(want, str) or isinstance(value, str):
        return isinstance(want, str) and isinstance(value, str) and want == value
    if isinstance(want, bool) or isinstance(value, bool):
        return isinstance(want, bool) and isinstance(value, bool) and want == value
    return want == value


def rule_case_event(case):
    """The event a case of rule_cases.json describes (the same construction as
    rule_case_event in crates/core/tests/events.rs)."""
    if "fixture" in case:
        return json.loads((FIXTURES / case["fixture"]).read_text())
    topic, conv = case["topic"], "c-rule-case"
    detail = {
        "topicName": f"v2.detail.events.conversation.{conv}.{topic}",
        "version": "2",
        "timestamp": "2026-09-20T09:31:40.412Z",
    }
    if case["eventBody"] is not None:
        detail["eventBody"] = {"conversationId": conv, "eventTime": 1789896700123, **case["eventBody"]}
    return {
        "version": "0",
        "id": "rule-case",
        "detail-type": f"v2.detail.events.conversation.{{id}}.{topic}",
        "source": "aws.partner/genesys.com/cloud/6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/tvault",
        "detail": detail,
    }


def resources_of(template, rtype):
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == rtype}


def only(template, rtype):
    found = resources_of(template, rtype)
    assert len(found) == 1, f"expected one {rtype}, found {sorted(found)}"
    return next(iter(found.items()))


def props(resource):
    return resource.get("Properties", {})


def ref_name(value):
    """'X' for {'Ref': 'X'}, else None."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return value["Ref"]
    return None


def getatt(value):
    """('Res', 'Attr') for {'Fn::GetAtt': ...}, else None."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        v = value["Fn::GetAtt"]
        return tuple(v.split(".", 1)) if isinstance(v, str) else tuple(v)
    return None


def param(template, name):
    assert name in template.get("Parameters", {}), f"parameter {name} is missing"
    return template["Parameters"][name]


def possible_numbers(template, value):
    """Every number `value` can take: a literal, or a Ref to a Number parameter
    (its AllowedValues, else MinValue..MaxValue ends and Default)."""
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        return {int(value)}
    name = ref_name(value)
    assert name, f"expected a number or a Ref to a parameter, got {value!r}"
    p = param(template, name)
    if "AllowedValues" in p:
        return {int(v) for v in p["AllowedValues"]}
    return {int(p[k]) for k in ("MinValue", "MaxValue", "Default") if k in p}


def lowest(template, value):
    return min(possible_numbers(template, value))


def highest(template, value):
    return max(possible_numbers(template, value))


def walk(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield path + (k,), k, v
            yield from walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield path + (i,), i, v
            yield from walk(v, path + (i,))


def iam_actions(template):
    """(path, action) for every Action / NotAction string in the template."""
    for path, key, value in walk(template):
        if key in ("Action", "NotAction"):
            for action in value if isinstance(value, list) else [value]:
                yield path, action


def function(sam):
    return only(sam, "AWS::Serverless::Function")


def queue_of_event_source(sam):
    _, fn = function(sam)
    events = [e for e in props(fn).get("Events", {}).values() if e.get("Type") == "SQS"]
    assert len(events) == 1, "the function must have exactly one SQS event source"
    return events[0]["Properties"]


def source_queue(sam):
    ev = queue_of_event_source(sam)
    res, attr = getatt(ev["Queue"])
    assert attr == "Arn"
    return res, sam["Resources"][res]


def dead_letter_queue(sam):
    _, q = source_queue(sam)
    dlq, attr = getatt(props(q)["RedrivePolicy"]["deadLetterTargetArn"])
    assert attr == "Arn"
    return dlq, sam["Resources"][dlq]


def lifecycle_rule(sam):
    return only(sam, "AWS::Events::Rule")


# ------------------------------------------------------------- AWS: function
def test_function_is_bootstrap_on_provided_al2023(sam):
    _, fn = function(sam)
    p = props(fn)
    assert p["Runtime"] == "provided.al2023"
    assert p["Handler"] == "bootstrap"


def test_function_architecture_is_a_parameter_arm64_by_default_x86_64_allowed(sam):
    p = props(function(sam)[1])
    archs = p["Architectures"]
    assert len(archs) == 1
    name = ref_name(archs[0])
    assert name, "Architectures must come from a parameter"
    ap = param(sam, name)
    assert ap["Default"] == "arm64"
    assert set(ap["AllowedValues"]) == {"arm64", "x86_64"}


def test_function_code_is_the_packaged_bootstrap_zip(sam):
    code = props(function(sam)[1])["CodeUri"]
    assert isinstance(code, str) and code.endswith("bootstrap.zip")
    # Relative to deploy/aws/ (not SAM_PATH: mutate.py checks copies elsewhere).
    resolved = (DEPLOY / "aws" / code).resolve()
    assert resolved == (DEPLOY.parent / "target" / "lambda" / "bootstrap.zip").resolve(), (
        "CodeUri must point at the zip scripts/package-lambda writes"
    )


def test_function_environment_names_the_secret_and_the_vault_and_logs_json(sam):
    p = props(function(sam)[1])
    env = p["Environment"]["Variables"]
    assert ref_name(env["TVAULT_SECRET_ID"]) == "SecretArn"
    assert ref_name(env["TVAULT_VAULT"]) == "VaultUrl"
    assert "RUST_LOG" in env
    assert p["LoggingConfig"]["LogFormat"] == "JSON"
    assert "AllowedPattern" in param(sam, "VaultUrl")


def test_queue_visibility_timeout_is_at_least_six_times_the_function_timeout(sam):
    p = props(function(sam)[1])
    q = props(source_queue(sam)[1])
    window = highest(sam, queue_of_event_source(sam)["MaximumBatchingWindowInSeconds"])
    timeouts = possible_numbers(sam, p["Timeout"])
    vis = q["VisibilityTimeout"]
    for t in timeouts:
        if isinstance(vis, dict) and "Fn::FindInMap" in vis:
            mapping, key, attr = vis["Fn::FindInMap"]
            assert ref_name(key) == ref_name(p["Timeout"]), "the mapping must be keyed by the function timeout"
            table = sam["Mappings"][mapping]
            assert str(t) in table, f"no visibility timeout for FunctionTimeout {t}"
            v = int(table[str(t)][attr])
        else:
            v = lowest(sam, vis)
        assert v >= 6 * t + window, f"visibility {v} < 6 x {t} + batching window {window}"
        assert v <= 43200, "SQS allows at most 12 h"


def test_sqs_event_source_reports_partial_batch_failures(sam):
    ev = queue_of_event_source(sam)
    assert ev["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_sqs_event_source_caps_concurrency_with_a_parameter(sam):
    ev = queue_of_event_source(sam)
    name = ref_name(ev["ScalingConfig"]["MaximumConcurrency"])
    assert name, "MaximumConcurrency must be a parameter"
    p = param(sam, name)
    assert int(p["Default"]) == 50
    assert int(p["MinValue"]) >= 2, "Lambda refuses MaximumConcurrency below 2"
    assert int(p["MaxValue"]) <= 1000


def test_sqs_event_source_batching_is_parameterised(sam):
    ev = queue_of_event_source(sam)
    assert ref_name(ev["BatchSize"])
    assert ref_name(ev["MaximumBatchingWindowInSeconds"])
    # Above 10 records per batch Lambda requires a batching window of >= 1 s.
    if highest(sam, ev["BatchSize"]) > 10:
        assert lowest(sam, ev["MaximumBatchingWindowInSeconds"]) >= 1


def test_function_runs_in_private_subnets_that_route_through_nat(sam):
    vpc = props(function(sam)[1])["VpcConfig"]
    subnets = vpc["SubnetIds"]["Fn::If"][1]
    assert subnets, "the created-VPC branch must list subnets"
    routes = resources_of(sam, "AWS::EC2::Route")
    assocs = resources_of(sam, "AWS::EC2::SubnetRouteTableAssociation")
    for s in subnets:
        subnet = ref_name(s)
        assert not props(sam["Resources"][subnet]).get("MapPublicIpOnLaunch", False)
        tables = {ref_name(props(a)["RouteTableId"]) for a in assocs.values() if ref_name(props(a)["SubnetId"]) == subnet}
        assert len(tables) == 1, f"{subnet} must have one route table"
        defaults = [props(r) for r in routes.values() if ref_name(props(r)["RouteTableId"]) in tables]
        assert defaults and all("NatGatewayId" in r and "GatewayId" not in r for r in defaults), (
            f"{subnet}'s default route must go to a NAT gateway"
        )
    for _, nat in resources_of(sam, "AWS::EC2::NatGateway").items():
        eip, attr = getatt(props(nat)["AllocationId"])
        assert sam["Resources"][eip]["Type"] == "AWS::EC2::EIP"


def test_nat_elastic_ips_are_outputs_for_the_azure_firewall(sam):
    eips = set(resources_of(sam, "AWS::EC2::EIP"))
    assert eips, "the NAT gateways need Elastic IPs"
    referenced = set()
    for _, _, v in walk(sam.get("Outputs", {})):
        if isinstance(v, dict) and ref_name(v) in eips:
            referenced.add(ref_name(v))
    assert referenced == eips, f"every EIP must be in an output; missing {sorted(eips - referenced)}"


# ---------------------------------------------------------------- AWS: queues
def test_redrive_to_a_dlq_after_at_least_five_receives(sam):
    q = props(source_queue(sam)[1])
    assert lowest(sam, q["RedrivePolicy"]["maxReceiveCount"]) >= 5


def test_dead_letter_queue_keeps_messages_fourteen_days(sam):
    assert props(dead_letter_queue(sam)[1])["MessageRetentionPeriod"] == FOURTEEN_DAYS


def test_source_queue_keeps_messages_fourteen_days(sam):
    # How long an Azure outage can last before anything is lost (docs/operations.md).
    assert props(source_queue(sam)[1])["MessageRetentionPeriod"] == FOURTEEN_DAYS


def test_every_queue_is_encrypted(sam):
    for name, q in resources_of(sam, "AWS::SQS::Queue").items():
        p = props(q)
        assert p.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in p, f"{name} is not encrypted"


# ----------------------------------------------------------- AWS: EventBridge
def test_rule_listens_on_the_partner_bus_given_as_parameter(sam):
    _, rule = lifecycle_rule(sam)
    assert ref_name(props(rule)["EventBusName"])


def test_rule_matches_genesys_source_prefix(sam):
    pattern = props(lifecycle_rule(sam)[1])["EventPattern"]
    assert pattern["source"] == [{"prefix": "aws.partner/genesys.com"}]


def test_rule_topics_are_the_classifiers_lifecycle_topics(sam):
    pattern = props(lifecycle_rule(sam)[1])["EventPattern"]
    suffixes = classifier_strings("LIFECYCLE_SUFFIXES")
    assert sorted(pattern["detail-type"]) == sorted(f"v2.detail.events.conversation.{{id}}.{s}" for s in suffixes)
    # user.end fires per agent session (transfers too) while the conversation goes on.
    assert not any(t.endswith(".user.end") for t in pattern["detail-type"])


def test_rule_media_are_the_classifiers_digital_media_in_any_case_or_none(sam):
    pattern = props(lifecycle_rule(sam)[1])["EventPattern"]
    media = pattern["detail"]["eventBody"]["mediaType"]
    want = [{"equals-ignore-case": m} for m in classifier_strings("DIGITAL_MEDIA")] + [{"exists": False}]
    key = lambda v: json.dumps(v, sort_keys=True)  # noqa: E731
    assert sorted(media, key=key) == sorted(want, key=key)


def test_rule_delivers_exactly_the_events_the_classifier_archives(sam):
    # crates/core/tests/events.rs holds the classifier to the same cases.
    pattern = props(lifecycle_rule(sam)[1])["EventPattern"]
    cases = json.loads(RULE_CASES.read_text())["cases"]
    assert len(cases) >= 10
    wrong = [c for c in cases if pattern_matches(pattern, rule_case_event(c)) != c["archive"]]
    assert not wrong, f"the rule disagrees with the classifier on {wrong}"


def test_rule_targets_the_queue_with_a_dead_letter_queue_and_retry_policy(sam):
    targets = props(lifecycle_rule(sam)[1])["Targets"]
    assert len(targets) == 1
    t = targets[0]
    assert getatt(t["Arn"]) == (source_queue(sam)[0], "Arn")
    dlq, attr = getatt(t["DeadLetterConfig"]["Arn"])
    assert sam["Resources"][dlq]["Type"] == "AWS::SQS::Queue"
    assert t["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert t["RetryPolicy"]["MaximumEventAgeInSeconds"] >= 3600


def test_queue_policy_admits_eventbridge_from_that_rule_only(sam):
    rule_name, _ = lifecycle_rule(sam)
    queue_name, _ = source_queue(sam)
    policies = resources_of(sam, "AWS::SQS::QueuePolicy")
    covering = [p for p in policies.values() if {"Ref": queue_name} in props(p)["Queues"]]
    assert len(covering) == 1, "one queue policy must cover the source queue"
    statements = props(covering[0])["PolicyDocument"]["Statement"]
    for s in statements:
        assert s["Effect"] == "Allow"
        assert s["Principal"] == {"Service": "events.amazonaws.com"}
        assert s["Action"] in ("sqs:SendMessage", ["sqs:SendMessage"])
        assert getatt(s["Condition"]["ArnEquals"]["aws:SourceArn"]) == (rule_name, "Arn")


# ------------------------------------------------------------------ AWS: IAM
@pytest.mark.parametrize("which", ["sam", "cfn"])
def test_no_wildcard_iam_actions_anywhere(which, sam, cfn):
    template = sam if which == "sam" else cfn
    bad = [(path, a) for path, a in iam_actions(template) if not isinstance(a, str) or "*" in a]
    assert not bad, f"wildcard actions: {bad}"
    assert list(iam_actions(template)), "no IAM actions found at all: is the walker broken?"


def test_generated_template_attaches_no_managed_policies_to_the_function_role(cfn):
    # SAM adds AWSLambdaSQSQueueExecutionRole (sqs actions on "*") when it
    # makes the role itself; the explicit role keeps consumption to one queue.
    for name, role in resources_of(cfn, "AWS::IAM::Role").items():
        assert not props(role).get("ManagedPolicyArns"), f"{name} has managed policies"


def role_statements(sam):
    _, fn = function(sam)
    role_name, _ = getatt(props(fn)["Role"])
    stmts = []
    policies = []
    for policy in props(sam["Resources"][role_name])["Policies"]:
        if "Fn::If" in policy:  # a policy that exists only under a condition
            policies += [b for b in policy["Fn::If"][1:] if isinstance(b, dict) and "PolicyDocument" in b]
        else:
            policies.append(policy)
    for policy in policies:
        for s in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in s:
                stmts += [b for b in s["Fn::If"][1:] if isinstance(b, dict) and "Effect" in b]
            else:
                stmts.append(s)
    return stmts


def test_role_reads_only_the_one_secret(sam):
    stmts = [s for s in role_statements(sam) if "secretsmanager:GetSecretValue" in str(s["Action"])]
    assert len(stmts) == 1
    assert stmts[0]["Action"] in ("secretsmanager:GetSecretValue", ["secretsmanager:GetSecretValue"])
    assert ref_name(stmts[0]["Resource"]) == "SecretArn"


def test_role_consumes_only_the_one_queue(sam):
    queue_name, _ = source_queue(sam)
    sqs = [s for s in role_statements(sam) if "sqs:" in str(s["Action"])]
    assert len(sqs) == 1
    assert set(sqs[0]["Action"]) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    }
    assert getatt(sqs[0]["Resource"]) == (queue_name, "Arn")


# ---------------------------------------------------------------- AWS: ledger
SEAL_FIXTURE = DEPLOY.parent / "crates" / "lambda" / "fixtures" / "scheduler_seal.json"


def test_seal_schedule_invokes_the_function_daily_after_a_grace_with_a_seal_payload(sam):
    name, schedule = only(sam, "AWS::Scheduler::Schedule")
    p = props(schedule)
    fn_name, _ = function(sam)
    assert getatt(p["Target"]["Arn"]) == (fn_name, "Arn")
    assert p["ScheduleExpressionTimezone"] == "UTC"
    assert p["FlexibleTimeWindow"]["Mode"] == "OFF"
    # Once a day, at the grace hour: cron(minute hour * * ? *).
    expr = p["ScheduleExpression"]["Fn::Sub"]
    assert expr == "cron(0 ${SealGraceHours} * * ? *)", expr
    grace = param(sam, "SealGraceHours")
    assert grace["MinValue"] == 0 and grace["MaxValue"] == 23 and 0 < grace["Default"] <= 6
    # The payload the router takes (the handler's test fixture is this Input,
    # with the scheduler's context attribute substituted).
    payload = json.loads(p["Target"]["Input"])
    fixture = json.loads(SEAL_FIXTURE.read_text())
    assert payload == {"tvault": "seal", "scheduledTime": "<aws.scheduler.scheduled-time>"}
    assert set(payload) == set(fixture) and fixture["tvault"] == "seal"
    assert p["Target"]["RetryPolicy"]["MaximumRetryAttempts"] >= 3


def test_seal_schedule_role_may_only_invoke_the_function(sam):
    _, schedule = only(sam, "AWS::Scheduler::Schedule")
    role_name, _ = getatt(props(schedule)["Target"]["RoleArn"])
    role = props(sam["Resources"][role_name])
    principals = [s["Principal"]["Service"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
    assert principals == ["scheduler.amazonaws.com"]
    fn_name, _ = function(sam)
    actions = {}
    for policy in role["Policies"]:
        for s in policy["PolicyDocument"]["Statement"]:
            actions[s["Action"]] = s["Resource"]
    assert getatt(actions.pop("lambda:InvokeFunction")) == (fn_name, "Arn")
    assert set(actions) <= {"sqs:SendMessage"}, actions


def test_witness_parameter_is_create_only_under_its_prefix(sam):
    stmts = [s for s in role_statements(sam) if "ssm:PutParameter" in str(s["Action"])]
    allow = [s for s in stmts if s["Effect"] == "Allow"]
    deny = [s for s in stmts if s["Effect"] == "Deny"]
    assert len(allow) == 1 and len(deny) == 1, stmts
    for s in allow + deny:
        assert s["Resource"]["Fn::Sub"].endswith(":parameter${LedgerWitnessParameterPrefix}/*"), s
    assert deny[0]["Condition"]["StringEquals"]["ssm:Overwrite"] == "true"
    _, fn = function(sam)
    env = props(fn)["Environment"]["Variables"]["TVAULT_WITNESS_SSM_PREFIX"]["Fn::If"]
    assert env[0] == "HasWitnessPrefix" and ref_name(env[1]) == "LedgerWitnessParameterPrefix"


def test_generated_template_keeps_the_seal_schedule(cfn):
    assert len(resources_of(cfn, "AWS::Scheduler::Schedule")) == 1


def test_no_secret_value_in_the_template():
    text = SAM_PATH.read_text()
    for marker in ("AccountKey=", "SharedAccessSignature=", "sig=", "client_secret", "-----BEGIN"):
        assert marker not in text, f"{marker!r} in {SAM_PATH}"


# ---------------------------------------------------------------- AWS: alarms
def alarms(sam):
    return list(resources_of(sam, "AWS::CloudWatch::Alarm").values())


def test_alarm_when_the_dead_letter_queue_is_not_empty(sam):
    dlq, _ = dead_letter_queue(sam)
    found = [
        a for a in alarms(sam)
        if props(a)["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and getatt(props(a)["Dimensions"][0]["Value"]) == (dlq, "QueueName")
    ]
    assert found, "no DLQ depth alarm"
    p = props(found[0])
    assert p["Threshold"] == 0 and p["ComparisonOperator"] == "GreaterThanThreshold"


def test_alarm_on_age_of_oldest_message_uses_a_threshold_parameter(sam):
    q, _ = source_queue(sam)
    found = [
        a for a in alarms(sam)
        if props(a)["MetricName"] == "ApproximateAgeOfOldestMessage"
        and getatt(props(a)["Dimensions"][0]["Value"]) == (q, "QueueName")
    ]
    assert found
    assert ref_name(props(found[0])["Threshold"])


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_alarm_on_function_metric(sam, metric):
    fn_name, _ = function(sam)
    found = [
        a for a in alarms(sam)
        if props(a)["Namespace"] == "AWS/Lambda" and props(a)["MetricName"] == metric
        and ref_name(props(a)["Dimensions"][0]["Value"]) == fn_name
    ]
    assert found, f"no {metric} alarm"


# The metric names of the router's EMF line (crates/router/src/telemetry/emf.rs).
EMF_RS = DEPLOY.parent / "crates" / "router" / "src" / "telemetry" / "emf.rs"
EMF_NAMESPACE = re.search(r'pub const NAMESPACE: &str = "([^"]+)"', EMF_RS.read_text()).group(1)


def own_metric_alarm(sam, metric):
    fn_name, _ = function(sam)
    found = [
        a for a in alarms(sam)
        if props(a)["Namespace"] == EMF_NAMESPACE and props(a)["MetricName"] == metric
        and props(a)["Dimensions"][0]["Name"] == "FunctionName"
        and ref_name(props(a)["Dimensions"][0]["Value"]) == fn_name
    ]
    assert found, f"no alarm on the function's own {metric} metric"
    p = props(found[0])
    assert f'"{metric}"' in EMF_RS.read_text(), f"the router writes no {metric}"
    assert p["Statistic"] == "Sum" and p["ComparisonOperator"] == "GreaterThanThreshold"
    return p


def test_alarm_on_failed_records_uses_a_threshold_parameter(sam):
    p = own_metric_alarm(sam, "Failed")
    assert ref_name(p["Threshold"]) == "FailedRecordsAlarmThreshold"


def test_alarm_on_any_missing_attachment(sam):
    p = own_metric_alarm(sam, "MissingAttachments")
    assert p["Threshold"] == 0


def test_every_alarm_names_a_runbook_section_that_exists(sam):
    headings = {
        line.lstrip("#").strip()
        for line in (DEPLOY.parent / "docs" / "operations.md").read_text().splitlines()
        if line.startswith("## ")
    }
    table = (DEPLOY.parent / "docs" / "operations.md").read_text()
    for name, a in resources_of(sam, "AWS::CloudWatch::Alarm").items():
        assert f"`{name}`" in table, f"{name} is not in the runbook's alarm table"
        m = re.search(r'Runbook: docs/operations\.md, "([^"]+)"', " ".join(props(a)["AlarmDescription"].split()))
        if m:
            assert any(m.group(1).lower() in h.lower() for h in headings), f"{name}: no section {m.group(1)!r}"


def test_alarm_actions_go_to_an_optional_topic(sam):
    assert "HasAlarmTopic" in sam["Conditions"]
    for a in alarms(sam):
        actions = props(a)["AlarmActions"]
        assert actions["Fn::If"][0] == "HasAlarmTopic"


# --------------------------------------------- AWS: the generated CloudFormation
def test_generated_event_source_mapping_keeps_the_settings(cfn):
    _, esm = only(cfn, "AWS::Lambda::EventSourceMapping")
    p = props(esm)
    assert p["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert ref_name(p["ScalingConfig"]["MaximumConcurrency"]) == "MaxConcurrency"
    assert ref_name(p["BatchSize"]) and ref_name(p["MaximumBatchingWindowInSeconds"])


def test_checkov_skips_in_the_sam_template_give_a_reason(sam):
    for name, res in sam["Resources"].items():
        for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(skip.get("comment", "")) >= 30, f"{name}: skip {skip.get('id')} needs a reason"


# --------------------------------------------------------------- Azure: ARM
def arm_resource(arm, rtype):
    found = [r for r in arm["resources"] if r["type"] == rtype]
    assert len(found) == 1, f"expected one {rtype}, found {len(found)}"
    return found[0]


def storage(arm):
    return arm_resource(arm, "Microsoft.Storage/storageAccounts")


def test_arm_storage_requires_tls12_and_https(arm):
    p = storage(arm)["properties"]
    assert p["minimumTlsVersion"] == "TLS1_2"
    assert p["supportsHttpsTrafficOnly"] is True


def test_arm_storage_allows_no_public_blob_access(arm):
    assert storage(arm)["properties"]["allowBlobPublicAccess"] is False
    c = arm_resource(arm, "Microsoft.Storage/storageAccounts/blobServices/containers")
    assert c["properties"]["publicAccess"] == "None"


def test_arm_shared_key_access_is_a_documented_parameter(arm):
    assert storage(arm)["properties"]["allowSharedKeyAccess"] == "[parameters('allowSharedKeyAccess')]"
    p = arm["parameters"]["allowSharedKeyAccess"]
    assert p["type"] == "bool" and "SAS" in p["metadata"]["description"]


def test_arm_firewall_denies_by_default_and_allows_the_ip_parameter(arm):
    acl = storage(arm)["properties"]["networkAcls"]
    assert acl["defaultAction"] == "Deny"
    assert "AzureServices" in acl["bypass"]
    loops = [c for c in acl.get("copy", []) if c["name"] == "ipRules"]
    assert len(loops) == 1, "ipRules must be built from the allowedIpAddresses parameter"
    assert "parameters('allowedIpAddresses')" in loops[0]["count"]
    assert "parameters('allowedIpAddresses')" in loops[0]["input"]["value"]
    assert loops[0]["input"]["action"] == "Allow"
    assert arm["parameters"]["allowedIpAddresses"]["type"] == "array"


def test_arm_blob_service_keeps_versions_and_soft_deletes(arm):
    p = arm_resource(arm, "Microsoft.Storage/storageAccounts/blobServices")["properties"]
    assert p["isVersioningEnabled"] is True
    assert p["deleteRetentionPolicy"]["enabled"] is True
    assert p["containerDeleteRetentionPolicy"]["enabled"] is True


def test_arm_container_has_a_time_based_retention_policy_in_years(arm):
    pol = arm_resource(arm, "Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies")
    p = pol["properties"]
    days = p["immutabilityPeriodSinceCreationInDays"]
    m = re.fullmatch(r"\[variables\('(\w+)'\)\]", days)
    assert m, "the retention period must come from the years parameter"
    assert arm["variables"][m.group(1)] == "[mul(parameters('retentionYears'), 365)]"
    assert p["allowProtectedAppendWrites"] is False
    assert pol["name"].endswith("'default')]")
    cond = pol.get("condition")
    if cond:  # deployed unless an operator turns it off after locking
        name = re.fullmatch(r"\[parameters\('(\w+)'\)\]", cond).group(1)
        assert arm["parameters"][name]["defaultValue"] is True


def writer_policy_permissions(text):
    """The permissions of the `tvault-writer` stored access policy command."""
    found = re.findall(r"--name tvault-writer --permissions (\w+)", text)
    assert len(found) == 1, f"one tvault-writer policy command expected, found {found}"
    return found[0]


@pytest.mark.parametrize("which", ["arm", "bicep"])
def test_writer_policy_creates_but_cannot_overwrite_or_delete(which, arm, bicep):
    # `c` writes new blobs only; `w` would let a stolen writer SAS overwrite
    # any blob until the retention policy is locked (issue 15, item 6).
    text = json.dumps(arm) if which == "arm" else bicep
    assert sorted(writer_policy_permissions(text)) == sorted("rcl")


def test_arm_checkov_skips_give_a_reason(arm):
    for r in arm["resources"]:
        for skip in r.get("metadata", {}).get("checkov", []):
            _, _, reason = skip.partition(":skip=")[2].partition(":")
            assert len(reason) >= 30, f"{r['type']}: {skip} needs a reason"


# ------------------------------------------------------------- Azure: Bicep
BICEP_MUST_SAY = {
    "TLS 1.2": r"minimumTlsVersion:\s*'TLS1_2'",
    "HTTPS only": r"supportsHttpsTrafficOnly:\s*true",
    "no public blob access": r"allowBlobPublicAccess:\s*false",
    "shared key from parameter": r"allowSharedKeyAccess:\s*allowSharedKeyAccess\b",
    "default deny": r"defaultAction:\s*'Deny'",
    "bypass AzureServices": r"bypass:\s*'AzureServices'",
    "ip rules from parameter": r"ipRules:\s*\[for \w+ in allowedIpAddresses:",
    "versioning": r"isVersioningEnabled:\s*true",
    "blob soft delete": r"deleteRetentionPolicy:\s*\{\s*enabled:\s*true",
    "container soft delete": r"containerDeleteRetentionPolicy:\s*\{\s*enabled:\s*true",
    "private container": r"publicAccess:\s*'None'",
    "immutability policy": r"'Microsoft\.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@",
    "period in years": r"var retentionDays = retentionYears \* 365",
    "period used": r"immutabilityPeriodSinceCreationInDays:\s*retentionDays",
    "no protected appends": r"allowProtectedAppendWrites:\s*false",
    "lock step documented": r"az storage container immutability-policy lock",
    "legal hold documented": r"az storage container legal-hold set",
}


@pytest.mark.parametrize("what", sorted(BICEP_MUST_SAY))
def test_bicep_says(bicep, what):
    assert re.search(BICEP_MUST_SAY[what], bicep), f"main.bicep lost: {what}"


def bicep_params(text):
    found = {}
    for m in re.finditer(r"^param (\w+) (\w+)(?: = (.+))?$", text, re.M):
        found[m.group(1)] = (m.group(2), m.group(3))
    return found


def test_bicep_and_arm_declare_the_same_parameters_and_defaults(bicep, arm):
    bp = bicep_params(bicep)
    assert set(bp) == set(arm["parameters"]), "main.bicep and main.json disagree on parameters"
    for name, (btype, bdefault) in bp.items():
        ap = arm["parameters"][name]
        assert ap["type"] == btype, name
        if bdefault is None:
            assert "defaultValue" not in ap, name
        elif bdefault in ("true", "false"):
            assert ap["defaultValue"] is (bdefault == "true"), name
        elif bdefault.isdigit():
            assert ap["defaultValue"] == int(bdefault), name
        elif bdefault.startswith("'"):
            assert ap["defaultValue"] == bdefault.strip("'"), name
        elif bdefault == "[]":
            assert ap["defaultValue"] == [], name


def test_bicep_and_arm_declare_the_same_resources(bicep, arm):
    in_bicep = set(re.findall(r"^resource \w+ '([^@']+)@([^']+)'", bicep, re.M))
    in_arm = {(r["type"], r["apiVersion"]) for r in arm["resources"]}
    assert in_bicep == in_arm


def test_bicep_and_arm_skip_the_same_checkov_checks(bicep, arm):
    in_bicep = set(re.findall(r"checkov:skip=(CKV\w+)", bicep))
    in_arm = {s.split("=")[1].split(":")[0] for r in arm["resources"] for s in r.get("metadata", {}).get("checkov", [])}
    assert in_bicep == in_arm
