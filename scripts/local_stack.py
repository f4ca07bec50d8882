#!/usr/bin/env python3
"""Run glue-label-importer on one machine, no AWS account: moto (S3) + glue-local (Glue) +
the real Lambda binary under `cargo lambda watch`, invoked with `cargo lambda invoke`.

    local_stack.py demo            make demo: an upload imported and followed to SUCCEEDED by a
                                   tick; a second one queued behind it in the transform's lane, started
                                   by the tick when its turn comes, and failed by Glue (FAILED, Glue's message);
                                   then the teaching loop: round 1 evaluated, the next labeling set generated,
                                   labeled from a ground truth, imported, round 2 evaluated, better; the
                                   messages a labeler gets (SNS on moto, read from a subscribed queue)
    local_stack.py invoke EVENT    seed what EVENT names (any trigger's shape), invoke it, report the task runs

Everything binds to 127.0.0.1 on free ports, and everything started is stopped on exit.
Run it with the project's virtualenv python (make demo / make invoke do).
"""

import copy
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
import urllib.request
from urllib.parse import unquote_plus

import boto3

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
LOGS = TARGET / "local-stack"
# The quality chart of the demo's rounds (import-labels rounds --chart).
CHART = LOGS / "rounds.svg"
SAMPLE = ROOT / "examples" / "labels" / "persons-round-1.csv"
# The persons transform's source table (glue-local generates its labeling sets from it) and its
# ground truth (which records name the same person), from which the demo labels a generated set.
SOURCE_TABLE = ROOT / "examples" / "source" / "persons.csv"
GROUND_TRUTH = ROOT / "examples" / "source" / "persons-truth.csv"
# The transforms the sample events name; glue-local pins these IDs (tag glue-local:transform-id).
TRANSFORMS = {
    "tfm-0123456789abcdef0123456789abcdef01234567": "persons",
    "tfm-fedcba9876543210fedcba9876543210fedcba98": "persons-eu",
}
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def say(message):
    print(f"==> {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, what, proc, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited early (code {proc.returncode}); see {LOGS}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on 127.0.0.1:{port} within {seconds} s; see {LOGS}")


class Stack:
    def __init__(self):
        self.log_lines_shown = 0
        self.procs = []
        self.env = {**os.environ, **AWS_ENV, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        LOGS.mkdir(parents=True, exist_ok=True)

    def spawn(self, name, args, env=None):
        log = open(LOGS / f"{name}.log", "w")
        proc = subprocess.Popen(args, cwd=ROOT, env=env or self.env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def stop(self):
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(proc.pid, signal.SIGKILL)
        say("stopped moto, glue-local and the function")

    def start(self, labels_bucket):
        say("building the function and glue-local")
        # Two builds, each with its own package's features: the first is exactly what
        # `cargo lambda watch` runs, so the watch starts without compiling.
        for package in ("glue-label-importer", "glue-local"):
            subprocess.run(["cargo", "build", "--quiet", "-p", package, "--bin", package], cwd=ROOT, check=True)
        subprocess.run(["cargo", "build", "--quiet", "-p", "glue-label-importer", "--bin", "import-labels"],
                       cwd=ROOT, check=True)
        self.moto_port, self.glue_port, self.lambda_port = free_port(), free_port(), free_port()
        self.moto_url = f"http://127.0.0.1:{self.moto_port}"
        self.glue_url = f"http://127.0.0.1:{self.glue_port}"
        moto = self.spawn("moto", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.moto_port)])
        glue = self.spawn("glue-local", [str(TARGET / "debug" / "glue-local"), "--port", str(self.glue_port),
                                         "--s3-endpoint-url", self.moto_url, "--task-run-millis", "1500",
                                         "--evaluation-run-millis", "1500", "--generation-run-millis", "1500",
                                         "--ready-label-count", "8"])
        wait_for_port(self.moto_port, "moto", moto)
        wait_for_port(self.glue_port, "glue-local", glue)
        say(f"moto S3 on {self.moto_url}, glue-local on {self.glue_url}")
        self.s3 = boto3.client("s3", endpoint_url=self.moto_url, region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing")
        self.glue = boto3.client("glue", endpoint_url=self.glue_url, region_name="us-east-1",
                                 aws_access_key_id="testing", aws_secret_access_key="testing")
        # Notifications: a topic with a queue subscribed, standing in for the labeler's inbox.
        clients = dict(endpoint_url=self.moto_url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
        self.sqs = boto3.client("sqs", **clients)
        sns = boto3.client("sns", **clients)
        self.topic_arn = sns.create_topic(Name="glue-label-importer-news")["TopicArn"]
        self.inbox_url = self.sqs.create_queue(QueueName="labeler-inbox")["QueueUrl"]
        inbox_arn = self.sqs.get_queue_attributes(QueueUrl=self.inbox_url,
                                                  AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=inbox_arn)
        self.messages = []
        self.env.update({"NOTIFY_TOPIC_ARN": self.topic_arn, "AWS_ENDPOINT_URL_SNS": self.moto_url})
        say(f"notifications go to {self.topic_arn} (a queue subscribed to it stands in for an inbox)")
        function_env = {**self.env, "AWS_ENDPOINT_URL_S3": self.moto_url, "AWS_ENDPOINT_URL_GLUE": self.glue_url,
                        "S3_FORCE_PATH_STYLE": "true", "RUST_LOG": "info", "LABELS_BUCKET": labels_bucket,
                        # The teaching loop, with rounds closing as soon as the imports ended.
                        "TEACHING_LOOP": "evaluate-and-generate", "LOOP_QUIET_SECONDS": "0"}
        watch = self.spawn("function", ["cargo", "lambda", "watch", "--ignore-changes",
                                        "--invoke-address", "127.0.0.1", "--invoke-port", str(self.lambda_port)],
                           env=function_env)
        wait_for_port(self.lambda_port, "cargo lambda watch", watch)
        say(f"the function runs under cargo lambda watch on 127.0.0.1:{self.lambda_port}")

    def upload(self, bucket, key, metadata, sample=SAMPLE):
        """Uploads a sample file; its eTag."""
        put = self.s3.put_object(Bucket=bucket, Key=key, Body=sample.read_bytes(), Metadata=metadata)
        meta = " with " + ", ".join(f"{k}: {v}" for k, v in metadata.items()) if metadata else ""
        shown = sample.relative_to(ROOT) if sample.is_relative_to(ROOT) else sample
        say(f"uploaded {shown} to s3://{bucket}/{key}{meta}")
        return put["ETag"].strip('"')

    def glue_admin(self, path, body):
        """POSTs to glue-local's admin endpoint (/_glue-local/<path>)."""
        request = urllib.request.Request(f"{self.glue_url}/_glue-local/{path}", data=json.dumps(body).encode(),
                                         method="POST", headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def status_tag(self, bucket, key):
        tags = {t["Key"]: t["Value"] for t in self.s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}
        return tags.get("glue-import-status"), tags.get("glue-import-task-run-id")

    def import_labels(self, *args):
        """Runs the import-labels CLI against the local stack; prints its output."""
        binary = TARGET / "debug" / "import-labels"
        env = {**self.env, "AWS_ENDPOINT_URL_S3": self.moto_url, "S3_FORCE_PATH_STYLE": "true"}
        say("import-labels " + " ".join(args))
        out = subprocess.run([str(binary), "--endpoint-url", self.glue_url, *args], cwd=ROOT, env=env,
                             capture_output=True, text=True)
        print((out.stdout + out.stderr).rstrip())

    def inbox(self):
        """Prints the messages the topic delivered since the last look, as a person reads them."""
        while True:
            got = self.sqs.receive_message(QueueUrl=self.inbox_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return
            for m in got:
                envelope = json.loads(m["Body"])
                attributes = {k: v.get("Value") for k, v in envelope.get("MessageAttributes", {}).items()}
                self.messages.append(attributes.get("event"))
                print(f"  ┌ message: {envelope.get('Subject')}")
                print(f"  │ (attributes: event={attributes.get('event')} transformId={attributes.get('transformId')})")
                for line in envelope.get("Message", "").splitlines():
                    print(f"  │ {line}")
                print("  └")
                self.sqs.delete_message(QueueUrl=self.inbox_url, ReceiptHandle=m["ReceiptHandle"])

    def seed(self, objects, metadata):
        """Creates the buckets, the transforms and, for every (bucket, key, eTag), the sample file."""
        for tfm, name in TRANSFORMS.items():
            self.glue.create_ml_transform(
                Name=name, Role="arn:aws:iam::123456789012:role/GlueFindMatchesRole",
                InputRecordTables=[{"DatabaseName": "crm", "TableName": name}],
                Parameters={"TransformType": "FIND_MATCHES", "FindMatchesParameters": {"PrimaryKeyColumnName": "id"}},
                Tags={"glue-local:transform-id": tfm})
        say(f"created FindMatches transforms {', '.join(TRANSFORMS)}")
        self.glue_admin("tables", {"databaseName": "crm", "tableName": "persons", "csv": SOURCE_TABLE.read_text()})
        say(f"crm.persons holds {SOURCE_TABLE.relative_to(ROOT)} (glue-local generates labeling sets from it)")
        for bucket, key, event_etag in objects:
            if bucket not in [b["Name"] for b in self.s3.list_buckets()["Buckets"]]:
                self.s3.create_bucket(Bucket=bucket)
            if self.upload(bucket, key, metadata) != event_etag:
                say("(its eTag differs from the event's: expect a stale-event skip)")

    def invoke(self, event_file):
        say(f"cargo lambda invoke --data-file {event_file.relative_to(ROOT) if event_file.is_relative_to(ROOT) else event_file}")
        out = subprocess.run(["cargo", "lambda", "invoke", "glue-label-importer", "--invoke-address", "127.0.0.1",
                              "--invoke-port", str(self.lambda_port), "--data-file", str(event_file)],
                             cwd=ROOT, env=self.env, capture_output=True, text=True)
        print("--- function response ---")
        print((out.stdout or out.stderr).strip())
        lines = (LOGS / "function.log").read_text(errors="replace").splitlines()
        outcome_lines = [l for l in lines[self.log_lines_shown:]
                         if "request_id=" in l or "import finished" in l or "tick done" in l
                         or "round evaluated" in l or "evaluation started" in l
                         or "labeling set generation started" in l or "labeling set ready" in l]
        self.log_lines_shown = len(lines)
        if outcome_lines:
            print("--- function log ---")
            print("\n".join(outcome_lines))
        try:
            return json.loads(out.stdout)
        except json.JSONDecodeError:
            return None

    def evaluations(self, tfm):
        """(transform ID, task run ID) of the transform's evaluation runs, newest first."""
        return [(tfm, run["TaskRunId"]) for run in
                self.glue.get_ml_task_runs(TransformId=tfm, Filter={"TaskRunType": "EVALUATION"})["TaskRuns"]]

    def generations(self, tfm):
        """(transform ID, task run ID) of the transform's labeling-set generations, newest first."""
        return [(tfm, run["TaskRunId"]) for run in
                self.glue.get_ml_task_runs(TransformId=tfm,
                                           Filter={"TaskRunType": "LABELING_SET_GENERATION"})["TaskRuns"]]

    def label(self, object_uri, path):
        """The labeler, from the ground truth: in each labeling set, records of one person get one
        label (A, B, …). Writes the labeled file to `path`."""
        truth = dict(csv.reader(GROUND_TRUTH.read_text().splitlines()[1:]))
        bucket, key = object_uri[len("s3://"):].split("/", 1)
        rows = list(csv.reader(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()))
        labels = {}
        with open(path, "w", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(rows[0])
            for row in rows[1:]:
                people = labels.setdefault(row[0], {})
                person = truth[row[2]]
                row[1] = people.setdefault(person, chr(ord("A") + len(people)))
                writer.writerow(row)
        say(f"labeled {object_uri} from {GROUND_TRUTH.relative_to(ROOT)}: {len(rows) - 1} records "
            f"in {len(labels)} labeling sets -> {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")

    def rounds(self, bucket, tfm):
        """The transform's rounds document, if any."""
        try:
            body = self.s3.get_object(Bucket=bucket, Key=f"glue-label-importer/rounds/{tfm}.json")["Body"]
        except self.s3.exceptions.NoSuchKey:
            return {}
        return json.loads(body.read())

    def started_runs(self):
        """(transform ID, task run ID) of every label import Glue has (an SQS batch's response
        names only failed messages, so the runs come from Glue)."""
        return [(tfm, run["TaskRunId"]) for tfm in TRANSFORMS
                for run in self.glue.get_ml_task_runs(TransformId=tfm, Filter={"TaskRunType": "IMPORT_LABELS"})["TaskRuns"]]

    def follow(self, runs):
        """Waits for each task run to end; prints its status and the transform's LabelCount."""
        ok = True
        for tfm, run_id in runs:
            while True:
                run = self.glue.get_ml_task_run(TransformId=tfm, TaskRunId=run_id)
                if run["Status"] not in ("STARTING", "RUNNING", "STOPPING"):
                    break
                time.sleep(0.2)
            labels = self.glue.get_ml_transform(TransformId=tfm)["LabelCount"]
            error = f" ({run['ErrorString']})" if run.get("ErrorString") else ""
            print(f"GetMLTaskRun {run_id}: {run['Status']}{error}")
            print(f"GetMLTransform {tfm}: LabelCount = {labels}")
            ok = ok and run["Status"] == "SUCCEEDED"
        return ok


def objects(event):
    """(bucket, decoded key, eTag) of every object an event names, in any shape the function
    reads: S3 notification, EventBridge event, SQS batch of either (bodies maybe SNS-wrapped)."""
    if event.get("source") == "aws.s3" and "detail" in event:
        detail = event["detail"]
        return [(detail["bucket"]["name"], unquote_plus(detail["object"]["key"]), detail["object"].get("etag"))]
    found = []
    for record in event.get("Records", []):
        if record.get("eventSource") == "aws:sqs":
            try:
                body = json.loads(record.get("body") or "")
                if body.get("Type") == "Notification":
                    body = json.loads(body["Message"])
            except (ValueError, KeyError, AttributeError):
                continue
            found += objects(body)
        elif "s3" in record:
            obj = record["s3"]["object"]
            found.append((record["s3"]["bucket"]["name"], unquote_plus(obj["key"]), obj.get("eTag")))
    return found


# What glue-local's Glue answers for the demo's failing upload (on demand, /_glue-local/outcomes).
GLUE_FAILURE = ("The labeling set IDs of the label file were not generated for this transform: "
                "generate a labeling set with StartMLLabelingSetGenerationTaskRun and label that.")


def demo():
    """An upload imported and followed to its end by a tick; one that Glue fails."""
    # The sample event, stamped with the current time (the ledger measures upload to end).
    event = json.loads((ROOT / "events" / "s3-put.json").read_text())
    event["Records"][0]["eventTime"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    LOGS.mkdir(parents=True, exist_ok=True)
    event_file = LOGS / "s3-put.json"
    event_file.write_text(json.dumps(event, indent=2))
    bucket, key, _ = objects(event)[0]
    stack = Stack()
    rounds, first_set = [], {}
    CHART.unlink(missing_ok=True)
    try:
        stack.start(bucket)
        stack.seed(objects(event), {"replace-all-labels": "true"})
        print()
        say("1. the upload's event (events/s3-put.json): the import starts in this invocation, recorded in the ledger")
        first = (stack.invoke(event_file) or {}).get("imported", [])
        print(f"object tags: glue-import-status={stack.status_tag(bucket, key)[0]}")

        print()
        say("2. a second upload to the same transform while the first runs (Glue will fail this one):")
        say("   it waits in the transform's lane, and the invocation succeeds with a 'queued' report")
        bad_key = key.replace("round-1.csv", "round-1-other-transform.csv")
        stack.glue_admin("outcomes", {"inputS3Path": f"s3://{bucket}/{bad_key}", "status": "FAILED",
                                      "errorString": GLUE_FAILURE})
        bad_etag = stack.upload(bucket, bad_key, {})
        bad_event = copy.deepcopy(event)
        bad_event["Records"][0]["s3"]["object"].update({"key": bad_key, "eTag": bad_etag})
        bad_event["Records"][0]["eventTime"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        bad_event_file = LOGS / "s3-put-failing.json"
        bad_event_file.write_text(json.dumps(bad_event, indent=2))
        second = (stack.invoke(bad_event_file) or {}).get("queued", [])
        print(f"object tags: glue-import-status={stack.status_tag(bucket, bad_key)[0]}")
        tfm = key.split("/")[1]
        stack.import_labels("status", "--transform-id", tfm, "--bucket", bucket, "--output", "table")

        print()
        say("3. Glue runs the first import")
        stack.follow(stack.started_runs())

        print()
        say("4. the tick (EventBridge's Scheduled Event, every minute when deployed) records the first's end")
        say("   and gives the second its turn: it starts now")
        tick1 = (stack.invoke(ROOT / "events" / "scheduled-tick.json") or {}).get("tick", {})

        print()
        say("5. Glue runs the second import, and fails it")
        stack.follow([(tfm, s["taskRunId"]) for s in tick1.get("started", [])])

        print()
        say("6. the next tick records how it ended")
        tick = (stack.invoke(ROOT / "events" / "scheduled-tick.json") or {}).get("tick", {})
        good_status = stack.status_tag(bucket, key)
        bad_status = stack.status_tag(bucket, bad_key)
        print(f"s3://{bucket}/{key}: glue-import-status={good_status[0]} glue-import-task-run-id={good_status[1]}")
        print(f"s3://{bucket}/{bad_key}: glue-import-status={bad_status[0]} glue-import-task-run-id={bad_status[1]}")
        say("   and the topic tells the labeler (a successful import sends nothing):")
        stack.inbox()

        print()
        say("7. what an operator sees: the transform's ledger, one import after the other")
        stack.import_labels("status", "--transform-id", tfm, "--bucket", bucket, "--output", "table")
        if second:
            entry = second[0]["ledgerEntry"]
            ledger_bucket, ledger_key = entry[len("s3://"):].split("/", 1)
            say(f"aws s3 cp {entry} -")
            print(stack.s3.get_object(Bucket=ledger_bucket, Key=ledger_key)["Body"].read().decode())

        print()
        say("8. the teaching loop (TEACHING_LOOP=evaluate-and-generate): with no import left waiting or running,")
        say("   the tick closed round 1 and started one evaluation; Glue estimates the transform's quality")
        stack.follow(stack.evaluations(tfm))
        say("   the next tick records round 1 with Glue's metrics (Glue itself keeps only the latest)")
        say("   and starts generating the labeler's next file")
        stack.invoke(ROOT / "events" / "scheduled-tick.json")
        stack.import_labels("rounds", "--transform-id", tfm, "--bucket", bucket, "--output", "table")

        print()
        say("9. Glue generates the labeling set; the next tick lists what it wrote and says where it goes back")
        stack.follow(stack.generations(tfm)[:1])
        listed = (stack.invoke(ROOT / "events" / "scheduled-tick.json") or {}).get("tick", {})
        say("   the messages of round 1: its figures, then the labeler's next file with the commands to paste")
        stack.inbox()
        sets = [s for s in listed.get("labelingSets", []) if s.get("state") == "SUCCEEDED" and s.get("objects")]
        if sets:
            labeled = LOGS / "round-2.csv"
            stack.label(sets[0]["objects"][0], labeled)
            stack.import_labels("validate", str(labeled))
            next_key = sets[0]["uploadTo"][len(f"s3://{bucket}/"):]
            next_etag = stack.upload(bucket, next_key, {}, labeled)
            next_event = copy.deepcopy(event)
            next_event["Records"][0]["s3"]["object"].update({"key": next_key, "eTag": next_etag})
            next_event["Records"][0]["eventTime"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
            next_event_file = LOGS / "s3-put-round-2.json"
            next_event_file.write_text(json.dumps(next_event, indent=2))

            print()
            say("10. the labeled file's event: imported; the next tick records its end and evaluates round 2")
            stack.invoke(next_event_file)
            stack.follow([run for run in stack.started_runs() if run[0] == tfm][:1])
            stack.invoke(ROOT / "events" / "scheduled-tick.json")
            stack.follow(stack.evaluations(tfm)[:1])
            stack.invoke(ROOT / "events" / "scheduled-tick.json")
            say("   round 2 has the generated set's labels and a better AreaUnderPRCurve; the charts draw both")
            stack.import_labels("rounds", "--transform-id", tfm, "--bucket", bucket, "--output", "table",
                                "--chart", str(CHART))
            say("   and the message of round 2, with its change from round 1:")
            stack.inbox()
        rounds = stack.rounds(bucket, tfm).get("rounds", [])

        print()
        other = next(t for t in TRANSFORMS if t != tfm)
        say(f"11. a new transform ({other}) has no labels yet: an operator generates its first labeling set by hand")
        stack.import_labels("generate", "--transform-id", other, "--bucket", bucket, "--wait", "--poll-interval", "0.5")
        first_set = stack.rounds(bucket, other).get("firstLabelingSet") or {}
        stack.inbox()
    finally:
        stack.stop()
    failed = [f for f in tick.get("finished", []) if f.get("state") == "FAILED"]
    turned = [t for t in tick1.get("started", []) if t.get("key") == bad_key]
    if not (first and second and turned and good_status[0] == "SUCCEEDED" and bad_status[0] == "FAILED"
            and failed and failed[0].get("errorString") == GLUE_FAILURE):
        raise SystemExit("demo failed: expected the first upload SUCCEEDED, the second queued behind it, "
                         "started by the tick and FAILED with Glue's message (see above)")
    auprc = [(r.get("metrics") or {}).get("areaUnderPRCurve") for r in rounds if r.get("state") == "EVALUATED"]
    generated = (rounds[0].get("generation") or {}) if rounds else {}
    covered = [i.get("key") for r in rounds[1:2] for i in r.get("imports", [])]
    if len(auprc) != 2 or None in auprc or not auprc[1] > auprc[0]:
        raise SystemExit(f"demo failed: expected two evaluated rounds, the second better; got {rounds}")
    if not (generated.get("objects") and covered == [generated.get("uploadTo", "")[len(f"s3://{bucket}/"):]]):
        raise SystemExit(f"demo failed: expected round 2 to import the labeling set generated after round 1; got {rounds}")
    if not (CHART.exists() and CHART.read_text().lstrip().startswith("<svg")):
        raise SystemExit(f"demo failed: expected the quality chart at {CHART}")
    wanted = ["import-failed", "round-evaluated", "labeling-set-ready", "round-evaluated", "labeling-set-ready"]
    if stack.messages != wanted:
        raise SystemExit(f"demo failed: expected the messages {wanted}; got {stack.messages}")
    if not ((first_set.get("run") or {}).get("status") == "SUCCEEDED" and first_set.get("objects")):
        raise SystemExit(f"demo failed: expected the new transform's first labeling set generated; got {first_set}")
    say("demo passed: the first upload SUCCEEDED; the second waited its turn, then FAILED with Glue's own "
        "message in its tag, ledger and log; the teaching loop evaluated round 1, generated the next labeling "
        "set, and round 2 (that set, labeled) was evaluated better: "
        f"AreaUnderPRCurve {auprc[0]} then {auprc[1]}; a new transform got its first labeling set by hand; "
        f"the labeler was told each time ({len(stack.messages)} messages); the quality chart: {CHART}")


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("demo", "invoke") or (sys.argv[1] == "invoke" and len(sys.argv) != 3):
        raise SystemExit(__doc__)
    if sys.argv[1] == "demo":
        return demo()
    event_file = Path(sys.argv[2]).resolve()
    event = json.loads(event_file.read_text())
    uploads = objects(event)
    stack = Stack()
    try:
        stack.start(uploads[0][0] if uploads else "example-labels-bucket")
        stack.seed(uploads, {})
        stack.invoke(event_file)
        stack.follow(stack.started_runs())
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
