//! Helpers for the handler tests: the real SDK clients answered by aws-smithy-mocks rules,
//! and S3 notification records.

use std::time::Duration;

use aws_sdk_glue::operation::get_ml_task_runs::GetMlTaskRunsOutput;
use aws_sdk_glue::operation::start_import_labels_task_run::StartImportLabelsTaskRunOutput;
use aws_sdk_glue::types::{
    ImportLabelsTaskRunProperties, TaskRun, TaskRunProperties, TaskStatusType, TaskType,
};
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::get_object_tagging::GetObjectTaggingOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::operation::put_object_tagging::PutObjectTaggingOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::Tag;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use glue_label_importer::config::{retry_config, timeout_config};
use glue_label_importer::handler::handle;
use glue_label_importer::lifecycle::entry::Upload;
use glue_label_importer::{Config, State};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{json, Value};

pub const TFM: &str = "tfm-0123456789abcdef0123456789abcdef01234567";
pub const EVENT_TIME: &str = "2026-11-29T10:00:00.000Z";
pub const EVENT_MILLIS: i64 = 1_795_946_400_000;

pub fn s3_record(raw_key: &str, etag: &str) -> Value {
    json!({
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": EVENT_TIME, "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "labels",
               "bucket": {"name": "bkt", "arn": "arn:aws:s3:::bkt"},
               "object": {"key": raw_key, "size": 120, "eTag": etag, "sequencer": "0055AED6DCD90281E5"}}
    })
}

/// The ledger key of an upload to bucket `bkt` with no version and no Last-Modified (what the
/// mocked HeadObject answers), under the default ledger prefix.
pub fn entry_key(key: &str, etag: &str) -> String {
    let upload = Upload {
        bucket: "bkt".into(),
        key: key.into(),
        etag: etag.into(),
        version_id: None,
        last_modified: None,
        uploaded_at: chrono::DateTime::from_timestamp_millis(EVENT_MILLIS).unwrap(),
    };
    format!("glue-label-importer/entries/{TFM}/{}.json", upload.id(None))
}

pub fn event(records: Vec<Value>) -> LambdaEvent<Value> {
    LambdaEvent::new(json!({ "Records": records }), Context::default())
}

/// A labeled file that passes the preflight.
pub const LABELED: &[u8] = b"labeling_set_id,label,id,name\nS1,A,1,Ann\nS1,A,2,Anne\nS1,B,3,Bob\n";

/// GetObject of a label file (any key but a lane's) answers `body`.
pub fn get_object(body: &'static [u8]) -> Rule {
    mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.key().is_none_or(|k| !k.contains("/lanes/")))
        .then_output(move || {
            GetObjectOutput::builder()
                .body(ByteStream::from_static(body))
                .build()
        })
}

/// Every ledger write (entry or marker) succeeds, answering a fresh ETag.
pub fn ledger_writes() -> Rule {
    let n = std::sync::atomic::AtomicU64::new(0);
    mock!(aws_sdk_s3::Client::put_object).then_output(move || {
        let n = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        PutObjectOutput::builder()
            .e_tag(format!("\"ledger-etag-{n}\""))
            .build()
    })
}

/// No lane yet: GetObject of a lane answers 404.
pub fn no_lane() -> Rule {
    mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.key().is_some_and(|k| k.contains("/lanes/")))
        .sequence()
        .http_status(404, None)
        .repeatedly()
        .build()
}

/// The lane key of the test transform under the default ledger prefix.
pub fn lane_key() -> String {
    format!("glue-label-importer/lanes/{TFM}.json")
}

/// Clients answered by `s3` and `glue` (matched in order); GetObject answers 404 for a lane
/// (there is none yet) and [`LABELED`] otherwise unless a rule of `s3` answers first,
/// PutObject (the ledger) succeeds unless a rule of `s3` answers first, and Glue's history is
/// empty unless a rule of `glue` answers first.
pub fn state(config: Config, s3: &[&Rule], glue: &[&Rule]) -> State {
    let retry = || retry_config().with_initial_backoff(Duration::from_millis(1));
    let lane = no_lane();
    let labeled = get_object(LABELED);
    let writes = ledger_writes();
    let s3: Vec<&Rule> = s3
        .iter()
        .copied()
        .chain([&lane, &labeled, &writes])
        .collect();
    // Glue's history is empty unless a rule of `glue` answers first.
    let empty_history = history(vec![]);
    let glue: Vec<&Rule> = glue.iter().copied().chain([&empty_history]).collect();
    State {
        config,
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, &s3, |c| c
            .retry_config(retry())
            .timeout_config(timeout_config())),
        glue: mock_client!(aws_sdk_glue, RuleMode::MatchAny, &glue, |c| c
            .retry_config(retry())
            .timeout_config(timeout_config())),
        // No topic in these tests' configuration: nothing is published.
        sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]),
    }
}

/// `state` whose SNS client is answered by `sns` (matched in order), with the SDK's standard
/// retry: a publish sent once shows that its own override turned the retry off.
pub fn with_sns(state: State, sns: &[&Rule]) -> State {
    let retry = || retry_config().with_initial_backoff(Duration::from_millis(1));
    State {
        sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, sns, |c| c
            .retry_config(retry())
            .timeout_config(timeout_config())),
        ..state
    }
}

/// HeadObject of a tagged object (S3 counts tags only when there are some; the tags
/// themselves are a [`tags`] rule).
pub fn head(meta: &[(&str, &str)], len: i64) -> Rule {
    let meta: Vec<(String, String)> = meta
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    mock!(aws_sdk_s3::Client::head_object).then_output(move || {
        meta.iter()
            .fold(
                HeadObjectOutput::builder().content_length(len).tag_count(1),
                |b, (k, v)| b.metadata(k, v),
            )
            .build()
    })
}

pub fn tags(existing: &[(&str, &str)]) -> Rule {
    let existing: Vec<Tag> = existing
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap())
        .collect();
    mock!(aws_sdk_s3::Client::get_object_tagging).then_output(move || {
        GetObjectTaggingOutput::builder()
            .set_tag_set(Some(existing.clone()))
            .build()
            .unwrap()
    })
}

pub fn put_tags() -> Rule {
    mock!(aws_sdk_s3::Client::put_object_tagging)
        .then_output(|| PutObjectTaggingOutput::builder().build())
}

/// The lane's question to Glue: the transform's IMPORT_LABELS runs, newest first, one page of
/// 100; answered with `runs`.
pub fn active_imports(runs: Vec<TaskRun>) -> Rule {
    mock!(aws_sdk_glue::Client::get_ml_task_runs)
        .match_requests(|r| {
            r.transform_id() == Some(TFM)
                && r.max_results() == Some(100)
                && r.filter().and_then(|f| f.task_run_type()) == Some(&TaskType::ImportLabels)
                && r.filter().and_then(|f| f.started_after()).is_none()
                && r.sort().map(|s| (s.column(), s.sort_direction()))
                    == Some((
                        &aws_sdk_glue::types::TaskRunSortColumnType::Started,
                        &aws_sdk_glue::types::SortDirectionType::Descending,
                    ))
        })
        .then_output(move || {
            GetMlTaskRunsOutput::builder()
                .set_task_runs(Some(runs.clone()))
                .build()
        })
}

pub fn history(runs: Vec<TaskRun>) -> Rule {
    mock!(aws_sdk_glue::Client::get_ml_task_runs).then_output(move || {
        GetMlTaskRunsOutput::builder()
            .set_task_runs(Some(runs.clone()))
            .build()
    })
}

pub fn run(id: &str, path: &str, status: TaskStatusType) -> TaskRun {
    TaskRun::builder()
        .transform_id(TFM)
        .task_run_id(id)
        .status(status)
        .properties(
            TaskRunProperties::builder()
                .task_type(TaskType::ImportLabels)
                .import_labels_task_run_properties(
                    ImportLabelsTaskRunProperties::builder()
                        .input_s3_path(path)
                        .replace(true)
                        .build(),
                )
                .build(),
        )
        .build()
}

/// StartImportLabelsTaskRun, answering only the exact expected request.
pub fn start_exact(transform_id: &str, path: &str, replace: bool, task_run_id: &str) -> Rule {
    let (transform_id, path, task_run_id) = (
        transform_id.to_string(),
        path.to_string(),
        task_run_id.to_string(),
    );
    mock!(aws_sdk_glue::Client::start_import_labels_task_run)
        .match_requests(move |r| {
            r.transform_id() == Some(transform_id.as_str())
                && r.input_s3_path() == Some(path.as_str())
                && r.replace_all_labels() == Some(replace)
        })
        .then_output(move || {
            StartImportLabelsTaskRunOutput::builder()
                .task_run_id(task_run_id.clone())
                .build()
        })
}

pub fn any_start() -> Rule {
    mock!(aws_sdk_glue::Client::start_import_labels_task_run).then_output(|| {
        StartImportLabelsTaskRunOutput::builder()
            .task_run_id("tsk-unexpected")
            .build()
    })
}

pub fn glue_error_body(code: &str, message: &str) -> String {
    json!({"__type": code, "Message": message}).to_string()
}

/// Runs an invocation that must fail; its error as Lambda reports it.
pub async fn failure(state: &State, ev: LambdaEvent<Value>) -> Diagnostic {
    let err = handle(state, ev)
        .await
        .expect_err("the invocation should fail");
    let message = err.to_string();
    let diagnostic: Diagnostic = err.into();
    assert_eq!(diagnostic.error_message, message);
    diagnostic
}
