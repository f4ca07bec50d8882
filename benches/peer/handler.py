"""The bench's peer: a plain boto3 Lambda handler making the six requests of the design before
the ledger, one after another — HeadObject (pinned to the event's ETag), GetObjectTagging (the
receipt), GetMLTaskRuns (Glue's history of the file since the event), GetObject (the preflight
read), StartImportLabelsTaskRun, PutObjectTagging (the receipt and status tags). No ledger, no
lane, no exactly-once: what the function's exactly-once costs is measured against it.

Run by `benches/lambda.rs` as a Lambda custom runtime: it polls AWS_LAMBDA_RUNTIME_API itself.
"""

import json
import os
import urllib.parse
import urllib.request
from datetime import datetime

import boto3
from botocore.config import Config

CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})
S3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}, retries=CONFIG.retries))
GLUE = boto3.client("glue", config=CONFIG)
PREFIX = "labels/"


def import_record(record):
    bucket = record["s3"]["bucket"]["name"]
    key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
    etag = record["s3"]["object"].get("eTag")
    transform_id = key[len(PREFIX):].split("/", 1)[0]
    head = S3.head_object(Bucket=bucket, Key=key, IfMatch=f'"{etag}"')
    replace = head.get("Metadata", {}).get("replace-all-labels", "false").lower() == "true"
    tags = S3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    if any(t["Key"] == "glue-import-task-run-id" for t in tags):
        raise RuntimeError("duplicate")
    path = f"s3://{bucket}/{key}"
    since = datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))
    runs = GLUE.get_ml_task_runs(
        TransformId=transform_id,
        Filter={"TaskRunType": "IMPORT_LABELS", "StartedAfter": since},
    )["TaskRuns"]
    if any(r.get("Properties", {}).get("ImportLabelsTaskRunProperties", {}).get("InputS3Path") == path for r in runs):
        raise RuntimeError("duplicate")
    body = S3.get_object(Bucket=bucket, Key=key, IfMatch=f'"{etag}"')["Body"].read()
    if not body.startswith(b"labeling_set_id,label"):
        raise RuntimeError("not a labeling file")
    run_id = GLUE.start_import_labels_task_run(
        TransformId=transform_id, InputS3Path=path, ReplaceAllLabels=replace
    )["TaskRunId"]
    tags = [t for t in tags if t["Key"] not in ("glue-import-task-run-id", "glue-import-status")]
    tags += [{"Key": "glue-import-task-run-id", "Value": run_id},
             {"Key": "glue-import-status", "Value": "STARTING"}]
    S3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": tags})
    return {"bucket": bucket, "key": key, "transformId": transform_id, "taskRunId": run_id}


def main():
    api = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"
    while True:
        with urllib.request.urlopen(f"{api}/next") as r:
            request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(r.read())
        imported = [import_record(rec) for rec in event.get("Records", [])]
        reply = json.dumps({"imported": imported, "queued": [], "skipped": []}).encode()
        urllib.request.urlopen(urllib.request.Request(f"{api}/{request_id}/response", data=reply, method="POST")).read()


if __name__ == "__main__":
    main()
