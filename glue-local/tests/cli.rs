//! The glue-local binary on the wire: the raw awsJson1_1 framing, then the AWS CLI and boto3
//! pointed at it with `--endpoint-url`, unchanged.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use glue_local::moto::lease;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

const LABELS: &str =
    "labeling_set_id,label,id,name\nS1,A,1,Ann\nS1,A,2,Anne\nS1,B,3,Bob\nS2,A,4,Cy\n";

/// The glue-local binary, stopped when dropped.
struct GlueLocal {
    child: Child,
    url: String,
}

impl GlueLocal {
    fn start(s3_url: &str, extra: &[&str]) -> GlueLocal {
        let mut child = Command::new(env!("CARGO_BIN_EXE_glue-local"))
            .args([
                "--port",
                "0",
                "--s3-endpoint-url",
                s3_url,
                "--task-run-millis",
                "300",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn glue-local");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        GlueLocal { child, url }
    }
}

impl Drop for GlueLocal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn venv_tool(var: &str, name: &str) -> PathBuf {
    std::env::var_os(var).map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../.venv/bin")
                .join(name)
        },
        PathBuf::from,
    )
}

/// Runs `aws <args>` against `endpoint`; (exit code, stdout as JSON or Null, stderr).
fn aws(endpoint: &str, args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(venv_tool("AWS_CLI", "aws"))
        .args(args)
        .args(["--endpoint-url", endpoint, "--output", "json"])
        .envs([
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ])
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("run the AWS CLI (make venv)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

async fn raw_post(url: &str, target: &str, body: &str) -> (u16, Vec<(String, String)>, Value) {
    raw(url, "POST", "/", target, body).await
}

async fn raw(
    url: &str,
    method: &str,
    path: &str,
    target: &str,
    body: &str,
) -> (u16, Vec<(String, String)>, Value) {
    let host = url.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", host)
        .header("x-amz-target", target)
        .header("content-type", "application/x-amz-json-1.1")
        .header("authorization", "AWS4-HMAC-SHA256 Credential=whatever/20261129/us-east-1/glue/aws4_request, SignedHeaders=host, Signature=00")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn speaks_aws_json_1_1_on_the_wire() {
    let lease = lease().await.expect("moto");
    let glue = GlueLocal::start(&lease.moto.url(), &[]);

    let (status, headers, body) = raw_post(
        &glue.url,
        "AWSGlue.GetMLTransform",
        r#"{"TransformId":"tfm-x"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        header(&headers, "x-amzn-errortype"),
        Some("EntityNotFoundException")
    );
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/x-amz-json-1.1")
    );
    assert!(header(&headers, "x-amzn-requestid").is_some_and(|id| id.len() == 36));
    assert_eq!(
        body,
        json!({"__type": "EntityNotFoundException", "Message": "Cannot find MLTransform in account 123456789012 with handle tfm-x."})
    );

    let (status, _, body) = raw_post(&glue.url, "AWSGlue.ListMLTransforms", "").await;
    assert_eq!((status, body), (200, json!({"TransformIds": []})));

    let (status, headers, body) = raw_post(&glue.url, "AWSGlue.StartCrawler", "{}").await;
    assert_eq!(
        (status, header(&headers, "x-amzn-errortype")),
        (400, Some("UnknownOperationException"))
    );
    assert_eq!(
        body["Message"],
        "glue-local does not implement AWSGlue.StartCrawler"
    );

    let (status, _, body) = raw_post(&glue.url, "AWSGlue.GetMLTransform", "{not json").await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("SerializationException"))
    );
}

#[tokio::test]
async fn the_aws_cli_works_unchanged() {
    let lease = lease().await.expect("moto");
    let s3 = lease.moto.url();
    let glue = GlueLocal::start(&s3, &[]);
    let labels = std::env::temp_dir().join(format!("glue-local-cli-{}.csv", std::process::id()));
    std::fs::write(&labels, LABELS).unwrap();
    assert_eq!(
        aws(&s3, &["s3api", "create-bucket", "--bucket", "labels-bkt"]).0,
        0
    );
    let body = labels.to_string_lossy().to_string();
    let put = aws(
        &s3,
        &[
            "s3api",
            "put-object",
            "--bucket",
            "labels-bkt",
            "--key",
            "labels/t/round 1.csv",
            "--body",
            &body,
        ],
    );
    std::fs::remove_file(&labels).unwrap();
    assert_eq!(put.0, 0, "{}", put.2);

    let (code, created, err) = aws(
        &glue.url,
        &[
            "glue",
            "create-ml-transform",
            "--name",
            "persons",
            "--role",
            "arn:aws:iam::123456789012:role/GlueFindMatches",
            "--input-record-tables",
            "DatabaseName=db,TableName=persons",
            "--parameters",
            "TransformType=FIND_MATCHES,FindMatchesParameters={PrimaryKeyColumnName=id}",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let tfm = created["TransformId"].as_str().unwrap().to_string();

    let (code, started, err) = aws(
        &glue.url,
        &[
            "glue",
            "start-import-labels-task-run",
            "--transform-id",
            &tfm,
            "--input-s3-path",
            "s3://labels-bkt/labels/t/round 1.csv",
            "--replace-all-labels",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let run_id = started["TaskRunId"].as_str().unwrap().to_string();

    let mut status = String::new();
    for _ in 0..100 {
        let (_, run, _) = aws(
            &glue.url,
            &[
                "glue",
                "get-ml-task-run",
                "--transform-id",
                &tfm,
                "--task-run-id",
                &run_id,
            ],
        );
        status = run["Status"].as_str().unwrap_or_default().to_string();
        if status == "SUCCEEDED" || status == "FAILED" {
            assert_eq!(
                run["Properties"]["ImportLabelsTaskRunProperties"],
                json!({"InputS3Path": "s3://labels-bkt/labels/t/round 1.csv", "Replace": true})
            );
            break;
        }
    }
    assert_eq!(status, "SUCCEEDED");
    let (_, runs, _) = aws(
        &glue.url,
        &[
            "glue",
            "get-ml-task-runs",
            "--transform-id",
            &tfm,
            "--filter",
            "TaskRunType=IMPORT_LABELS",
        ],
    );
    assert_eq!(runs["TaskRuns"].as_array().map(Vec::len), Some(1));
    let (_, transform, _) = aws(
        &glue.url,
        &["glue", "get-ml-transform", "--transform-id", &tfm],
    );
    assert_eq!(transform["LabelCount"], 4);
    let (_, listed, _) = aws(&glue.url, &["glue", "list-ml-transforms"]);
    assert_eq!(listed["TransformIds"], json!([tfm]));

    let (code, _, err) = aws(
        &glue.url,
        &[
            "glue",
            "start-import-labels-task-run",
            "--transform-id",
            "tfm-unknown",
            "--input-s3-path",
            "s3://labels-bkt/x.csv",
        ],
    );
    assert_eq!(code, 255, "AWS CLI v1 exits 255 on a service error");
    assert_eq!(err, "An error occurred (EntityNotFoundException) when calling the StartImportLabelsTaskRun operation: Cannot find MLTransform in account 123456789012 with handle tfm-unknown.");
    let (code, _, err) = aws(
        &glue.url,
        &[
            "glue",
            "cancel-ml-task-run",
            "--transform-id",
            &tfm,
            "--task-run-id",
            "tsk-none",
        ],
    );
    assert_eq!(code, 255, "AWS CLI v1 exits 255 on a service error");
    assert!(err.contains("(EntityNotFoundException) when calling the CancelMLTaskRun operation: No ML Task Run found for tsk-none"), "{err}");
    let (code, deleted, _) = aws(
        &glue.url,
        &["glue", "delete-ml-transform", "--transform-id", &tfm],
    );
    assert_eq!(
        (code, deleted["TransformId"].as_str()),
        (0, Some(tfm.as_str()))
    );
}

#[tokio::test]
async fn boto3_works_unchanged() {
    let lease = lease().await.expect("moto");
    let s3 = lease.moto.url();
    let glue = GlueLocal::start(&s3, &[]);
    let script = r#"
import json, sys, time, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
glue = boto3.client("glue", endpoint_url=sys.argv[2])
s3.create_bucket(Bucket="labels-bkt")
s3.put_object(Bucket="labels-bkt", Key="labels/t/a.csv", Body=sys.argv[3].encode())
tfm = glue.create_ml_transform(Name="persons", Role="arn:aws:iam::123456789012:role/R",
    InputRecordTables=[{"DatabaseName": "db", "TableName": "persons"}],
    Parameters={"TransformType": "FIND_MATCHES", "FindMatchesParameters": {"PrimaryKeyColumnName": "id"}})["TransformId"]
run = glue.start_import_labels_task_run(TransformId=tfm, InputS3Path="s3://labels-bkt/labels/t/a.csv", ReplaceAllLabels=False)["TaskRunId"]
while glue.get_ml_task_run(TransformId=tfm, TaskRunId=run)["Status"] in ("STARTING", "RUNNING"):
    time.sleep(0.05)
runs = glue.get_ml_task_runs(TransformId=tfm, Filter={"TaskRunType": "IMPORT_LABELS"}, Sort={"Column": "STARTED", "SortDirection": "DESCENDING"})
try:
    glue.get_ml_transform(TransformId="tfm-unknown")
    missing = None
except glue.exceptions.EntityNotFoundException as e:
    missing = e.response["Error"]["Message"]
print(json.dumps({"status": glue.get_ml_task_run(TransformId=tfm, TaskRunId=run)["Status"],
    "runs": len(runs["TaskRuns"]), "labels": glue.get_ml_transform(TransformId=tfm)["LabelCount"], "missing": missing}))
"#;
    let out = Command::new(venv_tool("VENV_PYTHON", "python"))
        .args(["-c", script, &s3, &glue.url, LABELS])
        .envs([
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ])
        .env("AWS_CONFIG_FILE", "/dev/null")
        .output()
        .expect("run python (make venv)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        result,
        json!({"status": "SUCCEEDED", "runs": 1, "labels": 4,
               "missing": "Cannot find MLTransform in account 123456789012 with handle tfm-unknown."})
    );
}

#[tokio::test]
async fn admin_endpoints_inject_faults_count_calls_and_reset() {
    let lease = lease().await.expect("moto");
    let glue = GlueLocal::start(&lease.moto.url(), &[]);
    let (status, _, body) = raw(&glue.url, "GET", "/_glue-local/health", "", "").await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));

    let fault = r#"{"operation": "ListMLTransforms", "error": "ThrottlingException", "count": 2}"#;
    assert_eq!(
        raw(&glue.url, "POST", "/_glue-local/faults", "", fault)
            .await
            .0,
        200
    );
    for _ in 0..2 {
        let (status, headers, body) = raw_post(&glue.url, "AWSGlue.ListMLTransforms", "{}").await;
        assert_eq!(
            (status, header(&headers, "x-amzn-errortype")),
            (400, Some("ThrottlingException"))
        );
        assert_eq!(
            body,
            json!({"__type": "ThrottlingException", "Message": "Rate exceeded"})
        );
    }
    assert_eq!(
        raw_post(&glue.url, "AWSGlue.ListMLTransforms", "{}")
            .await
            .0,
        200,
        "the fault is used up"
    );
    let server_error = r#"{"error": "InternalServiceException"}"#;
    raw(&glue.url, "POST", "/_glue-local/faults", "", server_error).await;
    assert_eq!(
        raw_post(
            &glue.url,
            "AWSGlue.GetMLTransform",
            r#"{"TransformId": "x"}"#
        )
        .await
        .0,
        500,
        "any operation"
    );
    let (_, _, calls) = raw(&glue.url, "GET", "/_glue-local/calls", "", "").await;
    assert_eq!(calls, json!({"GetMLTransform": 1, "ListMLTransforms": 3}));

    let (status, _, body) = raw(
        &glue.url,
        "POST",
        "/_glue-local/faults",
        "",
        r#"{"error": 1}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().starts_with(
        "expected {\"operation\"?, \"error\", \"count\"?, \"message\"?, \"lost_answer\"?}"
    ));
    let (status, _, body) = raw(
        &glue.url,
        "POST",
        "/_glue-local/outcomes",
        "",
        r#"{"status": "SUCCEEDED"}"#,
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            400,
            Some("status SUCCEEDED cannot be forced on IMPORT_LABELS: use FAILED or TIMEOUT")
        )
    );
    assert_eq!(
        raw(&glue.url, "POST", "/_glue-local/reset", "", "").await.0,
        200
    );
    let (_, _, calls) = raw(&glue.url, "GET", "/_glue-local/calls", "", "").await;
    assert_eq!(calls, json!({}));
}

/// Every operation glue-local implements, in each of its states and errors, checked against
/// botocore's Glue service model by `botocore_shapes.py`: members, required members, types,
/// enum values, ranges, and modeled error codes.
#[tokio::test]
async fn every_answer_matches_botocores_glue_model() {
    let lease = lease().await.expect("moto");
    let s3 = lease.moto.url();
    let glue = GlueLocal::start(
        &s3,
        &[
            "--generation-run-millis",
            "300",
            "--evaluation-run-millis",
            "300",
            "--ready-label-count",
            "3",
        ],
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("glue-local/tests/botocore_shapes.py");
    let out = Command::new(venv_tool("VENV_PYTHON", "python"))
        .arg(&script)
        .args([&s3, &glue.url])
        .env("AWS_CONFIG_FILE", "/dev/null")
        .output()
        .expect("run python (make venv)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["errors"], json!([]), "{report:#}");
    let mut checked: Vec<&str> = report["checked"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut implemented = glue_local::OPERATIONS.to_vec();
    checked.sort_unstable();
    implemented.sort_unstable();
    assert_eq!(
        checked, implemented,
        "every implemented operation is checked"
    );
}
