//! The local stack of glue-label-importer's end-to-end tests and benches: moto (S3, SQS),
//! glue-local (Glue) and the real Lambda binary served by a loopback Runtime API
//! ([`runtime_api`]), with the SDK clients to drive them and a loopback [`proxy`] (latency, a
//! lost answer). Everything a [`Stack`] starts stops when it is dropped; moto is shared by the
//! process and leased one test at a time (`glue_local::moto::lease`), so the end-to-end tests
//! of one test binary run one after another.

pub mod proxy;
pub mod runtime_api;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_glue::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_glue::types::{
    GlueTable, TaskRun, TaskRunFilterCriteria, TaskType, TransformParameters, TransformType,
};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
    QueueConfiguration, S3KeyFilter,
};
use glue_local::moto::{lease, Lease};
use glue_local::{Server, Settings, PIN_ID_TAG};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use runtime_api::{Reply, RuntimeApi};
use serde_json::{json, Value};

pub const BUCKET: &str = "labels-bkt";
/// The sample labeled file shipped for the demo: 8 labeled rows.
pub const SAMPLE: &str = include_str!("../../examples/labels/persons-round-1.csv");
pub const SAMPLE_ROWS: i32 = 8;

/// What S3 leaves unencoded in notification keys; a space becomes `+`.
const S3_KEY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'*')
    .remove(b'/');

/// One uploaded object, as its S3 event would describe it.
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub key: String,
    pub etag: String,
    pub time_ms: i64,
}

pub struct Stack {
    lambda: Child,
    /// The function's stdout and stderr, written straight to a file: whatever the function
    /// wrote before its response is there when the response arrives (a pipe's reader thread
    /// could lag behind it).
    log_file: PathBuf,
    pub runtime: RuntimeApi,
    pub glue_local: Server,
    pub s3: aws_sdk_s3::Client,
    pub glue: aws_sdk_glue::Client,
    pub lease: Lease,
}

impl Stack {
    /// Starts everything, the function with `env` added to its environment, and creates the bucket.
    pub async fn start(env: &[(&str, &str)]) -> Stack {
        Stack::start_with(Settings::default(), env).await
    }

    /// As [`Stack::start`], with glue-local's settings (run durations, quota).
    pub async fn start_with(glue: Settings, env: &[(&str, &str)]) -> Stack {
        let lease = lease()
            .await
            .expect("moto (run `make venv` or set MOTO_SERVER)");
        let s3 = glue_local::s3_client(&lease.moto.url(), "us-east-1").await;
        let glue_local = Server::start("127.0.0.1:0".parse().unwrap(), glue, s3.clone())
            .await
            .expect("glue-local");
        let glue = glue_client(&glue_local.url());
        s3.create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .expect("create bucket");
        let runtime = RuntimeApi::start().await;
        static STACKS: AtomicU64 = AtomicU64::new(0);
        let log_file = std::env::temp_dir().join(format!(
            "local-stack-{}-{}.log",
            std::process::id(),
            STACKS.fetch_add(1, Ordering::Relaxed)
        ));
        let file = std::fs::File::create(&log_file).expect("the function's log file");
        let lambda = spawn_function(&runtime, &lease.moto.url(), &glue_local.url(), env, || {
            Stdio::from(file.try_clone().expect("the function's log file"))
        });
        Stack {
            lambda,
            log_file,
            runtime,
            glue_local,
            s3,
            glue,
            lease,
        }
    }

    /// What the function has logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// The metrics lines (CloudWatch Embedded Metric Format) the function has written so far.
    pub fn metrics(&self) -> Vec<Value> {
        self.logs()
            .lines()
            .filter(|l| l.starts_with("{\"_aws\""))
            .map(|l| serde_json::from_str(l).expect("an EMF line is JSON"))
            .collect()
    }

    /// The function process's ID.
    pub fn function_pid(&self) -> u32 {
        self.lambda.id()
    }

    /// Whether the function process is still the one started (not exited).
    pub fn function_alive(&mut self) -> bool {
        matches!(self.lambda.try_wait(), Ok(None))
    }

    /// Creates a FindMatches transform with a pinned ID.
    pub async fn transform(&self, id: &str) -> String {
        self.glue
            .create_ml_transform()
            .name(format!("persons-{id}"))
            .role("arn:aws:iam::123456789012:role/GlueFindMatches")
            .input_record_tables(
                GlueTable::builder()
                    .database_name("db")
                    .table_name("persons")
                    .build()
                    .unwrap(),
            )
            .parameters(
                TransformParameters::builder()
                    .transform_type(TransformType::FindMatches)
                    .build()
                    .unwrap(),
            )
            .tags(PIN_ID_TAG, id)
            .send()
            .await
            .expect("create transform")
            .transform_id
            .unwrap()
    }

    /// Uploads `body` under `key` with optional user metadata and tags.
    pub async fn upload(
        &self,
        key: &str,
        body: &str,
        metadata: &[(&str, &str)],
        tagging: Option<&str>,
    ) -> Uploaded {
        let time_ms = now_ms();
        let put = metadata
            .iter()
            .fold(self.s3.put_object().bucket(BUCKET).key(key), |p, (k, v)| {
                p.metadata(*k, *v)
            })
            .set_tagging(tagging.map(str::to_string))
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send()
            .await
            .expect("put object");
        let etag = put
            .e_tag()
            .unwrap_or_default()
            .trim_matches('"')
            .to_string();
        Uploaded {
            key: key.to_string(),
            etag,
            time_ms,
        }
    }

    /// Invokes the function with an S3 ObjectCreated notification for `objects`.
    pub async fn invoke(&self, objects: &[&Uploaded]) -> Reply {
        self.runtime.invoke(&s3_event(objects)).await
    }

    /// The transform's IMPORT_LABELS runs, newest first.
    pub async fn import_runs(&self, transform_id: &str) -> Vec<TaskRun> {
        self.glue
            .get_ml_task_runs()
            .transform_id(transform_id)
            .filter(
                TaskRunFilterCriteria::builder()
                    .task_run_type(TaskType::ImportLabels)
                    .build(),
            )
            .send()
            .await
            .expect("get task runs")
            .task_runs
            .unwrap_or_default()
    }

    /// Waits for a task run to end; returns its final status.
    pub async fn final_status(&self, transform_id: &str, task_run_id: &str) -> String {
        for _ in 0..300 {
            let run = self
                .glue
                .get_ml_task_run()
                .transform_id(transform_id)
                .task_run_id(task_run_id)
                .send()
                .await
                .expect("get run");
            let status = run
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            if !matches!(status.as_str(), "STARTING" | "RUNNING" | "STOPPING") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("task run {task_run_id} did not finish")
    }

    pub async fn label_count(&self, transform_id: &str) -> i32 {
        self.glue
            .get_ml_transform()
            .transform_id(transform_id)
            .send()
            .await
            .expect("get transform")
            .label_count()
    }

    /// The ledger entry at an `s3://` URI (as a report's `ledgerEntry` names it), as JSON.
    pub async fn ledger_entry(&self, uri: &Value) -> Value {
        let uri = uri.as_str().expect("a ledgerEntry URI");
        let (bucket, key) = uri
            .strip_prefix("s3://")
            .and_then(|r| r.split_once('/'))
            .expect("s3://bucket/key");
        let object = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .expect("get the ledger entry");
        let bytes = object
            .body
            .collect()
            .await
            .expect("read the entry")
            .into_bytes();
        serde_json::from_slice(&bytes).expect("a ledger entry is JSON")
    }

    /// The object's tags, as (key, value) pairs.
    pub async fn tags(&self, key: &str) -> Vec<(String, String)> {
        let out = self
            .s3
            .get_object_tagging()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .expect("get tags");
        out.tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()
    }
}

impl Stack {
    /// Starts `count` more function processes on the same Runtime API (with `env`), as Lambda
    /// runs concurrent invocations in separate instances; they stop when dropped.
    pub fn more_instances(&self, count: usize, env: &[(&str, &str)]) -> Instances {
        Instances(
            (0..count)
                .map(|_| {
                    spawn_function(
                        &self.runtime,
                        &self.lease.moto.url(),
                        &self.glue_local.url(),
                        env,
                        Stdio::null,
                    )
                })
                .collect(),
        )
    }

    /// Makes glue-local end the next import run of `key` FAILED with `error_string`.
    pub fn fail_next_run(&self, key: &str, error_string: &str) {
        self.glue_local
            .store
            .add_outcome(glue_local::RunOutcome::import(
                Some(format!("s3://{BUCKET}/{key}")),
                "FAILED",
                Some(error_string.into()),
            ))
            .expect("a FAILED outcome");
    }

    /// Invokes the tick (EventBridge's Scheduled Event).
    pub async fn tick(&self) -> Value {
        response(self.runtime.invoke(&tick_event()).await)
    }
}

/// The label file an IMPORT_LABELS run reads (empty for other task types).
pub fn input_path(run: &TaskRun) -> &str {
    run.properties()
        .and_then(|p| p.import_labels_task_run_properties())
        .and_then(|p| p.input_s3_path())
        .unwrap_or_default()
}

/// Extra function processes, killed when dropped.
pub struct Instances(Vec<Child>);

impl Drop for Instances {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// EventBridge's Scheduled Event, as a schedule rule sends it.
pub fn tick_event() -> Value {
    json!({"version": "0", "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
           "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
           "time": "2026-11-29T10:05:00Z", "region": "us-east-1",
           "resources": ["arn:aws:events:us-east-1:123456789012:rule/glue-label-importer-tick"],
           "detail": {}})
}

/// A Glue client for the endpoint at `url` (glue-local, or a proxy in front of it), with test
/// credentials.
pub fn glue_client(url: &str) -> aws_sdk_glue::Client {
    aws_sdk_glue::Client::from_conf(
        aws_sdk_glue::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
            .endpoint_url(url)
            .build(),
    )
}

/// The Lambda binary: `$GLUE_LABEL_IMPORTER_BIN`, else `glue-label-importer` in the directory
/// of the running test or bench executable's profile (`<target>/<profile>/`, one above its
/// `deps/`), where cargo builds a package's binaries for its tests and benches.
pub fn function_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("GLUE_LABEL_IMPORTER_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the running executable's path");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("<target>/<profile>/deps/<executable>");
    let binary = profile.join(format!(
        "glue-label-importer{}",
        std::env::consts::EXE_SUFFIX
    ));
    assert!(
        binary.exists(),
        "{} not found: cargo builds it for the package's tests and benches; elsewhere set GLUE_LABEL_IMPORTER_BIN",
        binary.display()
    );
    binary
}

/// Starts the real Lambda binary against `runtime`, with S3 at `s3_url`, Glue at `glue_url`
/// and `env` added; its output goes to `output()`.
pub fn spawn_function(
    runtime: &RuntimeApi,
    s3_url: &str,
    glue_url: &str,
    env: &[(&str, &str)],
    output: impl Fn() -> Stdio,
) -> Child {
    Command::new(function_binary())
        .env_clear()
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", runtime.addr.to_string().as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", "glue-label-importer"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_ENDPOINT_URL_S3", s3_url),
            ("AWS_ENDPOINT_URL_GLUE", glue_url),
            ("AWS_ENDPOINT_URL_SNS", s3_url),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/nonexistent"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
            ("S3_FORCE_PATH_STYLE", "true"),
            ("LABELS_BUCKET", BUCKET),
            ("RUST_LOG", "info"),
        ])
        .envs(env.iter().copied())
        .stdout(output())
        .stderr(output())
        .spawn()
        .expect("spawn the Lambda binary")
}

/// An SNS topic on moto with an SQS queue subscribed, to read what a subscriber gets.
pub struct Topic {
    pub arn: String,
    pub queue_url: String,
}

/// One message as a subscriber gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub body: String,
    /// The `event` message attribute.
    pub event: String,
    /// The `transformId` message attribute.
    pub transform_id: String,
}

/// The ARN moto gives the topic `name` (account 123456789012, us-east-1): known before the
/// topic exists, so the function can be started with it.
pub fn topic_arn(name: &str) -> String {
    format!("arn:aws:sns:us-east-1:123456789012:{name}")
}

impl Stack {
    /// Creates the SNS topic `name` and subscribes a new queue to it (SNS's JSON envelope, with
    /// the subject and message attributes).
    pub async fn topic(&self, name: &str) -> Topic {
        let moto = self.lease.moto;
        let sns = sns_client(&moto.url());
        let arn = sns
            .create_topic()
            .name(name)
            .send()
            .await
            .expect("create topic")
            .topic_arn()
            .expect("TopicArn")
            .to_string();
        let inbox = self.queue(&format!("{name}-inbox")).await;
        sns.subscribe()
            .topic_arn(&arn)
            .protocol("sqs")
            .endpoint(&inbox.arn)
            .send()
            .await
            .expect("subscribe the queue");
        Topic {
            arn,
            queue_url: inbox.url,
        }
    }

    /// Every message the topic's queue holds now (read and deleted), oldest first.
    pub async fn messages(&self, topic: &Topic) -> Vec<Message> {
        let moto = self.lease.moto;
        let mut messages = Vec::new();
        loop {
            let received = moto
                .aws_json(
                    "sqs",
                    "AmazonSQS.ReceiveMessage",
                    &json!({"QueueUrl": topic.queue_url, "MaxNumberOfMessages": 10}),
                )
                .await
                .expect("receive messages");
            let batch = received["Messages"].as_array().cloned().unwrap_or_default();
            if batch.is_empty() {
                return messages;
            }
            for m in batch {
                let envelope: Value = serde_json::from_str(m["Body"].as_str().unwrap_or_default())
                    .expect("SNS's envelope");
                let attribute = |name: &str| {
                    envelope["MessageAttributes"][name]["Value"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                };
                messages.push(Message {
                    subject: envelope["Subject"].as_str().unwrap_or_default().to_string(),
                    body: envelope["Message"].as_str().unwrap_or_default().to_string(),
                    event: attribute("event"),
                    transform_id: attribute("transformId"),
                });
                moto.aws_json(
                    "sqs",
                    "AmazonSQS.DeleteMessage",
                    &json!({"QueueUrl": topic.queue_url, "ReceiptHandle": m["ReceiptHandle"]}),
                )
                .await
                .expect("delete the message");
            }
        }
    }
}

/// An SNS client for the endpoint at `url` (moto, or a proxy in front of it).
pub fn sns_client(url: &str) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::Config::builder()
            .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
            .region(aws_sdk_sns::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sns::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .endpoint_url(url)
            .build(),
    )
}

/// An SQS queue on moto.
pub struct Queue {
    pub url: String,
    pub arn: String,
}

impl Stack {
    /// Creates a queue and has the bucket notify it of every upload under `prefix`, as the
    /// SQS trigger does (moto then sends it the s3:TestEvent, as S3 does).
    pub async fn notify_queue(&self, name: &str, prefix: &str) -> Queue {
        let Queue { url, arn } = self.queue(name).await;
        let filter = NotificationConfigurationFilter::builder()
            .key(
                S3KeyFilter::builder()
                    .filter_rules(
                        FilterRule::builder()
                            .name(FilterRuleName::Prefix)
                            .value(prefix)
                            .build(),
                    )
                    .build(),
            )
            .build();
        let queue = QueueConfiguration::builder()
            .queue_arn(&arn)
            .events(Event::S3ObjectCreated)
            .filter(filter)
            .build()
            .expect("queue configuration");
        self.s3
            .put_bucket_notification_configuration()
            .bucket(BUCKET)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(queue)
                    .build(),
            )
            .send()
            .await
            .expect("bucket notification");
        Queue { url, arn }
    }

    /// Creates the SQS queue `name` on moto.
    pub async fn queue(&self, name: &str) -> Queue {
        let moto = self.lease.moto;
        let created = moto
            .aws_json("sqs", "AmazonSQS.CreateQueue", &json!({"QueueName": name}))
            .await
            .expect("create queue");
        let url = created["QueueUrl"].as_str().expect("QueueUrl").to_string();
        let attributes = moto
            .aws_json(
                "sqs",
                "AmazonSQS.GetQueueAttributes",
                &json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
            )
            .await
            .expect("queue attributes");
        let arn = attributes["Attributes"]["QueueArn"]
            .as_str()
            .expect("QueueArn")
            .to_string();
        Queue { url, arn }
    }

    /// Every key under `prefix` in the bucket, as `s3://` URIs, in key order.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let listed = self
            .s3
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix(prefix)
            .send()
            .await
            .expect("list objects");
        listed
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .map(|k| format!("s3://{BUCKET}/{k}"))
            .collect()
    }

    /// Sends a message that did not come from S3.
    pub async fn send_message(&self, queue: &Queue, body: &str) {
        self.lease
            .moto
            .aws_json(
                "sqs",
                "AmazonSQS.SendMessage",
                &json!({"QueueUrl": queue.url, "MessageBody": body}),
            )
            .await
            .expect("send message");
    }

    /// Receives up to 10 waiting messages and shapes them as the SQS event Lambda's event
    /// source mapping delivers.
    pub async fn receive_batch(&self, queue: &Queue) -> Value {
        let received = self
            .lease
            .moto
            .aws_json(
                "sqs",
                "AmazonSQS.ReceiveMessage",
                &json!({"QueueUrl": queue.url, "MaxNumberOfMessages": 10, "AttributeNames": ["All"]}),
            )
            .await
            .expect("receive messages");
        let records: Vec<Value> = received["Messages"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                json!({"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                       "body": m["Body"], "attributes": m["Attributes"], "messageAttributes": {},
                       "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
                       "eventSourceARN": queue.arn, "awsRegion": "us-east-1"})
            })
            .collect();
        json!({ "Records": records })
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.lambda.kill();
        let _ = self.lambda.wait();
        let _ = std::fs::remove_file(&self.log_file);
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The function's response; panics with the error it answered instead.
pub fn response(reply: Reply) -> Value {
    match reply {
        Reply::Response(value) => value,
        Reply::Error {
            error_type,
            error_message,
        } => panic!("expected a response, got {error_type}: {error_message}"),
    }
}

/// The error the function answered (errorType, errorMessage); panics on a response.
pub fn error(reply: Reply) -> (String, String) {
    match reply {
        Reply::Error {
            error_type,
            error_message,
        } => (error_type, error_message),
        Reply::Response(value) => panic!("expected an error, got {value}"),
    }
}

/// A key as S3 writes it into notifications: form-URL-encoded, `/` kept.
pub fn s3_encode(key: &str) -> String {
    utf8_percent_encode(key, S3_KEY)
        .to_string()
        .replace("%20", "+")
}

/// The EventBridge "Object Created" event for `object`, as S3 sends it (key URL-encoded,
/// time in whole seconds).
pub fn eventbridge_event(object: &Uploaded) -> Value {
    let time = chrono::DateTime::from_timestamp_millis(object.time_ms).expect("valid time");
    json!({"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created", "source": "aws.s3", "account": "123456789012",
        "time": time.format("%Y-%m-%dT%H:%M:%SZ").to_string(), "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{BUCKET}")],
        "detail": {"version": "0", "bucket": {"name": BUCKET},
            "object": {"key": s3_encode(&object.key), "size": 100, "etag": object.etag,
                       "sequencer": "617f08299329d189"},
            "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012",
            "source-ip-address": "127.0.0.1", "reason": "PutObject"}})
}

/// An S3 ObjectCreated:Put notification for `objects`, as S3 sends it.
pub fn s3_event(objects: &[&Uploaded]) -> Value {
    let records: Vec<Value> = objects
        .iter()
        .map(|o| {
            let time = chrono::DateTime::from_timestamp_millis(o.time_ms).expect("valid time");
            json!({
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                "eventTime": time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8"},
                "s3": {"s3SchemaVersion": "1.0", "configurationId": "glue-label-importer",
                       "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": format!("arn:aws:s3:::{BUCKET}")},
                       "object": {"key": s3_encode(&o.key), "size": 100, "eTag": o.etag, "sequencer": "0055AED6DCD90281E5"}}
            })
        })
        .collect();
    json!({ "Records": records })
}
