"""Checks glue-local's answers against botocore's Glue service model.

Usage: python botocore_shapes.py <s3-endpoint> <glue-local-url>

Drives one scenario over raw awsJson1_1 (so nothing is parsed away) that calls every operation
glue-local implements, in each of its states: a transform NOT_READY and READY, with and
without EvaluationMetrics; import, evaluation and labeling-set generation runs, SUCCEEDED,
FAILED and STOPPED; and the documented errors. Every request is checked against the
operation's input shape, every answer against its output shape (members the model does not
know, required members, types, enum values, ranges and lengths), and every error's code
against the operation's modeled errors. Prints {"checked": {operation: answers}, "errors": [...]}.
"""

import json
import sys
import time
import urllib.error
import urllib.request

import boto3
import botocore.session

S3_URL, GLUE_URL = sys.argv[1], sys.argv[2]
MODEL = botocore.session.get_session().get_service_model("glue")
ERRORS = []
CHECKED = {}

LABELS = "labeling_set_id,label,id,name\nS1,A,1,Ann\nS1,A,2,Anne\nS1,B,3,Bob\nS2,A,4,Cy\n"


def check(shape, value, path):
    kind = shape.type_name
    meta = shape.metadata

    def bad(why):
        ERRORS.append(f"{path}: {why} (shape {shape.name}, value {json.dumps(value)[:120]})")

    def in_range(number):
        if "min" in meta and number < meta["min"]:
            bad(f"below the minimum {meta['min']}")
        if "max" in meta and number > meta["max"]:
            bad(f"above the maximum {meta['max']}")

    if kind == "structure":
        if not isinstance(value, dict):
            return bad("not an object")
        for name in value:
            if name not in shape.members:
                bad(f"member {name} is not in the model")
        for name in shape.required_members:
            if name not in value:
                bad(f"required member {name} is missing")
        for name, member in value.items():
            if name in shape.members:
                check(shape.members[name], member, f"{path}.{name}")
    elif kind == "list":
        if not isinstance(value, list):
            return bad("not a list")
        in_range(len(value))
        for i, item in enumerate(value):
            check(shape.member, item, f"{path}[{i}]")
    elif kind == "map":
        if not isinstance(value, dict):
            return bad("not an object")
        in_range(len(value))
        for key, item in value.items():
            check(shape.key, key, f"{path}.<key>")
            check(shape.value, item, f"{path}.{key}")
    elif kind == "string":
        if not isinstance(value, str):
            return bad("not a string")
        in_range(len(value))
        if shape.enum and value not in shape.enum:
            bad(f"not one of {shape.enum}")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return bad("not an integer")
        in_range(value)
    elif kind in ("double", "float"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return bad("not a number")
        in_range(value)
    elif kind == "boolean":
        if not isinstance(value, bool):
            bad("not a boolean")
    elif kind == "timestamp":
        # awsJson1_1 sends timestamps as epoch seconds.
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            bad("not epoch seconds")
    else:
        bad(f"shape type {kind} is not checked by this script")


def call(operation, body, expect_error=None, valid_request=True):
    """POSTs one operation, checks the request (unless it is invalid on purpose) and the
    answer, returns the answer."""
    op = MODEL.operation_model(operation)
    if valid_request:
        check(op.input_shape, body, f"{operation} request")
    request = urllib.request.Request(
        GLUE_URL + "/",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"X-Amz-Target": f"AWSGlue.{operation}",
                 "Content-Type": "application/x-amz-json-1.1"},
    )
    try:
        with urllib.request.urlopen(request) as response:
            status, answer = response.status, json.load(response)
    except urllib.error.HTTPError as e:
        status, answer = e.code, json.load(e)
    CHECKED[operation] = CHECKED.get(operation, 0) + 1
    if status == 200:
        if expect_error:
            ERRORS.append(f"{operation}: answered 200, expected {expect_error}")
        check(op.output_shape, answer, f"{operation} answer")
        return answer
    code = answer.get("__type")
    modeled = [e.name for e in op.error_shapes]
    if code not in modeled:
        ERRORS.append(f"{operation}: error {code} is not one of its modeled errors {modeled}")
    if set(answer) != {"__type", "Message"} or not isinstance(answer.get("Message"), str):
        ERRORS.append(f"{operation}: error body {answer} is not {{__type, Message}}")
    if code != expect_error:
        ERRORS.append(f"{operation}: answered {code} {answer.get('Message')}, expected {expect_error or 200}")
    return answer


def admin(path, body):
    request = urllib.request.Request(GLUE_URL + "/_glue-local/" + path,
                                     data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request) as response:
        response.read()


def wait(transform, run):
    for _ in range(400):
        answer = call("GetMLTaskRun", {"TransformId": transform, "TaskRunId": run})
        if answer.get("Status") not in ("STARTING", "RUNNING", "STOPPING"):
            return answer
        time.sleep(0.05)
    ERRORS.append(f"task run {run} did not end")
    return {}


s3 = boto3.client("s3", endpoint_url=S3_URL, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
s3.create_bucket(Bucket="shapes-bkt")
s3.put_object(Bucket="shapes-bkt", Key="labels/t/a.csv", Body=LABELS.encode())
s3.put_object(Bucket="shapes-bkt", Key="labels/t/bad.csv", Body=b"id,label\n1,A\n")
admin("tables", {"databaseName": "crm", "tableName": "persons",
                 "csv": "id,name\n" + "".join(f"{n},Person {n // 2}\n" for n in range(1, 31))})

create = {
    "Name": "persons", "Role": "arn:aws:iam::123456789012:role/GlueFindMatches",
    "InputRecordTables": [{"DatabaseName": "crm", "TableName": "persons"}],
    "Parameters": {"TransformType": "FIND_MATCHES",
                   "FindMatchesParameters": {"PrimaryKeyColumnName": "id",
                                             "PrecisionRecallTradeoff": 0.9,
                                             "AccuracyCostTradeoff": 0.5}},
    "MaxCapacity": 10.0,
}
tfm = call("CreateMLTransform", create)["TransformId"]
call("CreateMLTransform", create, "AlreadyExistsException")
call("CreateMLTransform", {**create, "Name": "no-table", "InputRecordTables": []}, "InvalidInputException")
call("GetMLTransform", {"TransformId": tfm})
call("GetMLTransform", {"TransformId": "tfm-unknown"}, "EntityNotFoundException")
call("ListMLTransforms", {"MaxResults": 1})
call("StartMLEvaluationTaskRun", {"TransformId": tfm}, "MLTransformNotReadyException")

# A NOT_READY transform's first labeling set, then an import that makes it READY.
first = call("StartMLLabelingSetGenerationTaskRun",
             {"TransformId": tfm, "OutputS3Path": "s3://shapes-bkt/labeling-sets/t/round-1/"})
wait(tfm, first["TaskRunId"])
imported = call("StartImportLabelsTaskRun", {"TransformId": tfm, "InputS3Path": "s3://shapes-bkt/labels/t/a.csv",
                                             "ReplaceAllLabels": True})
wait(tfm, imported["TaskRunId"])
failed = call("StartImportLabelsTaskRun", {"TransformId": tfm, "InputS3Path": "s3://shapes-bkt/labels/t/bad.csv"})
wait(tfm, failed["TaskRunId"])
call("StartImportLabelsTaskRun", {"TransformId": tfm, "InputS3Path": "not-a-path"}, "InvalidInputException")
call("GetMLTransform", {"TransformId": tfm})

# An evaluation with the model's metrics, one with forced partial metrics, one FAILED.
evaluation = call("StartMLEvaluationTaskRun", {"TransformId": tfm})
wait(tfm, evaluation["TaskRunId"])
call("GetMLTransform", {"TransformId": tfm})
admin("outcomes", {"taskType": "EVALUATION", "status": "SUCCEEDED", "metrics": {"AreaUnderPRCurve": 0.9}})
wait(tfm, call("StartMLEvaluationTaskRun", {"TransformId": tfm})["TaskRunId"])
call("GetMLTransform", {"TransformId": tfm})
admin("outcomes", {"taskType": "EVALUATION", "status": "FAILED", "errorString": "Dependency failure."})
wait(tfm, call("StartMLEvaluationTaskRun", {"TransformId": tfm})["TaskRunId"])

# The quota (every task type), a cancel, the history and its pages.
runs = [call("StartMLLabelingSetGenerationTaskRun",
             {"TransformId": tfm, "OutputS3Path": f"s3://shapes-bkt/labeling-sets/t/q{n}/"})["TaskRunId"]
        for n in range(3)]
call("StartMLEvaluationTaskRun", {"TransformId": tfm}, "ConcurrentRunsExceededException")
call("StartMLLabelingSetGenerationTaskRun", {"TransformId": tfm, "OutputS3Path": "s3://shapes-bkt/x/"},
     "ConcurrentRunsExceededException")
for run in runs:
    call("CancelMLTaskRun", {"TransformId": tfm, "TaskRunId": run})
    wait(tfm, run)
call("CancelMLTaskRun", {"TransformId": tfm, "TaskRunId": "tsk-unknown"}, "EntityNotFoundException")
call("GetMLTaskRun", {"TransformId": tfm, "TaskRunId": "tsk-unknown"}, "EntityNotFoundException")
page = call("GetMLTaskRuns", {"TransformId": tfm, "MaxResults": 2,
                              "Sort": {"Column": "STARTED", "SortDirection": "DESCENDING"}})
call("GetMLTaskRuns", {"TransformId": tfm, "NextToken": page["NextToken"]})
for task_type in ("IMPORT_LABELS", "EVALUATION", "LABELING_SET_GENERATION"):
    call("GetMLTaskRuns", {"TransformId": tfm, "Filter": {"TaskRunType": task_type}})
call("GetMLTaskRuns", {"TransformId": tfm, "MaxResults": 0}, "InvalidInputException", valid_request=False)
call("DeleteMLTransform", {"TransformId": tfm})
call("DeleteMLTransform", {"TransformId": tfm}, "EntityNotFoundException")

print(json.dumps({"checked": CHECKED, "errors": ERRORS}))
