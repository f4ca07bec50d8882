//! The tick on the real SDK clients, answered by aws-smithy-mocks: exactly which calls it makes,
//! what it writes, and that S3 or Glue failing leaves every entry as it was.

use crate::mocks::*;
use aws_sdk_glue::operation::get_ml_task_run::{GetMlTaskRunInput, GetMlTaskRunOutput};
use aws_sdk_glue::types::TaskStatusType;
use aws_sdk_s3::operation::delete_object::DeleteObjectOutput;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::operation::put_object::{PutObjectInput, PutObjectOutput};
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::Object;
use aws_smithy_mocks::{mock, Rule};
use glue_label_importer::handler::{handle, Response};
use glue_label_importer::lifecycle::entry::{Entry, ImportState, Upload};
use glue_label_importer::lifecycle::tick::TickReport;
use glue_label_importer::{Config, State};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;

const ENTRY: &str =
    "glue-label-importer/entries/tfm-0123456789abcdef0123456789abcdef01234567/abc.json";
const MARKER: &str = "glue-label-importer/open/tfm-0123456789abcdef0123456789abcdef01234567/abc";

fn config() -> Config {
    Config {
        labels_bucket: Some("bkt".into()),
        ..Config::default()
    }
}

async fn tick(state: &State) -> TickReport {
    let event = LambdaEvent::new(
        serde_json::from_str(include_str!("../../events/scheduled-tick.json")).unwrap(),
        Context::default(),
    );
    match handle(state, event).await.unwrap() {
        Response::Tick { tick } => tick,
        other => panic!("expected a tick report, got {other:?}"),
    }
}

fn listing(keys: &[&str]) -> Rule {
    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    mock!(aws_sdk_s3::Client::list_objects_v2)
        .match_requests(|r| {
            r.bucket() == Some("bkt") && r.prefix() == Some("glue-label-importer/open/")
        })
        .then_output(move || {
            ListObjectsV2Output::builder()
                .set_contents(Some(
                    keys.iter()
                        .map(|k| {
                            Object::builder()
                                .key(k)
                                .last_modified(DateTime::from_secs(0))
                                .build()
                        })
                        .collect(),
                ))
                .build()
        })
}

fn running_entry() -> Entry {
    let upload = Upload {
        bucket: "bkt".into(),
        key: format!("labels/{TFM}/x.csv"),
        etag: "e".into(),
        version_id: None,
        last_modified: None,
        uploaded_at: chrono::DateTime::from_timestamp_millis(EVENT_MILLIS).unwrap(),
    };
    let mut e = Entry::new(
        &upload,
        TFM,
        &format!("s3://bkt/labels/{TFM}/x.csv"),
        false,
        ImportState::Starting,
        upload.uploaded_at,
    );
    e.revision = 2;
    e.task_run_id = Some("tsk-7".into());
    e.enter(ImportState::Running, upload.uploaded_at);
    e
}

fn stored(entry: &Entry) -> Rule {
    let bytes = serde_json::to_vec_pretty(entry).unwrap();
    mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.key() == Some(ENTRY))
        .then_output(move || {
            GetObjectOutput::builder()
                .e_tag("\"entry-v2\"")
                .body(ByteStream::from(bytes.clone()))
                .build()
        })
}

fn glue_run(status: TaskStatusType, error: Option<&str>) -> Rule {
    let error = error.map(str::to_string);
    mock!(aws_sdk_glue::Client::get_ml_task_run)
        .match_requests(|r: &GetMlTaskRunInput| {
            r.transform_id() == Some(TFM) && r.task_run_id() == Some("tsk-7")
        })
        .then_output(move || {
            GetMlTaskRunOutput::builder()
                .task_run_id("tsk-7")
                .status(status.clone())
                .started_on(aws_sdk_glue::primitives::DateTime::from_millis(
                    EVENT_MILLIS + 2_000,
                ))
                .completed_on(aws_sdk_glue::primitives::DateTime::from_millis(
                    EVENT_MILLIS + 62_000,
                ))
                .set_error_string(error.clone())
                .build()
        })
}

#[tokio::test]
async fn an_idle_tick_makes_one_list_call_and_no_glue_call() {
    let list = listing(&[]);
    let (run, start, hist) = (
        glue_run(TaskStatusType::Running, None),
        any_start(),
        history(vec![]),
    );
    let state = state(config(), &[&list], &[&run, &start, &hist]);
    let report = tick(&state).await;
    assert_eq!(report, TickReport::default());
    assert_eq!(list.num_calls(), 1);
    assert_eq!(
        (run.num_calls(), start.num_calls(), hist.num_calls()),
        (0, 0, 0)
    );

    // Without LABELS_BUCKET there is no ledger to read: no call at all.
    let list = listing(&[]);
    let state = crate::mocks::state(Config::default(), &[&list], &[]);
    assert_eq!(tick(&state).await, TickReport::default());
    assert_eq!(list.num_calls(), 0);
}

#[tokio::test]
async fn a_run_that_failed_is_recorded_with_glues_error_and_its_marker_closed() {
    let glue_says = "The label file has a labeling_set_id that is not in this transform.";
    let list = listing(&[MARKER]);
    let get = stored(&running_entry());
    let write = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(move |r: &PutObjectInput| {
            r.key() == Some(ENTRY)
                && r.if_match() == Some("\"entry-v2\"")
                && r.tagging() == Some("glue-label-importer-entry=finished")
        })
        .then_output(|| PutObjectOutput::builder().e_tag("\"entry-v3\"").build());
    let (t, p) = (tags(&[("team", "risk")]), put_tags());
    let delete = mock!(aws_sdk_s3::Client::delete_object)
        .match_requests(|r| r.key() == Some(MARKER))
        .then_output(|| DeleteObjectOutput::builder().build());
    let run = glue_run(TaskStatusType::Failed, Some(glue_says));
    let state = state(config(), &[&list, &get, &write, &t, &p, &delete], &[&run]);

    let report = tick(&state).await;

    assert_eq!(
        serde_json::to_value(&report).unwrap(),
        json!({"open": 1, "started": [], "progressed": [], "errors": [], "queued": 0,
               "oldestQueuedSeconds": 0.0, "finished": [{"bucket": "bkt", "key": format!("labels/{TFM}/x.csv"), "transformId": TFM,
                             "taskRunId": "tsk-7", "state": "FAILED", "errorString": glue_says}]})
    );
    assert_eq!(
        (
            run.num_calls(),
            write.num_calls(),
            p.num_calls(),
            delete.num_calls()
        ),
        (1, 1, 1, 1)
    );
}

#[tokio::test]
async fn a_run_still_running_writes_nothing() {
    let list = listing(&[MARKER]);
    let get = stored(&running_entry());
    let write = mock!(aws_sdk_s3::Client::put_object)
        .then_output(|| PutObjectOutput::builder().e_tag("\"x\"").build());
    let run = glue_run(TaskStatusType::Running, None);
    let state = state(config(), &[&list, &get, &write], &[&run]);
    let report = tick(&state).await;
    assert_eq!(report.open, 1);
    assert!(report.finished.is_empty() && report.errors.is_empty());
    assert_eq!((run.num_calls(), write.num_calls()), (1, 0));
}

#[tokio::test]
async fn s3_or_glue_unavailable_leaves_every_entry_as_it_was() {
    // The entry cannot be read.
    let list = listing(&[MARKER]);
    let get = mock!(aws_sdk_s3::Client::get_object)
        .sequence()
        .http_status(503, None)
        .repeatedly()
        .build();
    let write = mock!(aws_sdk_s3::Client::put_object)
        .then_output(|| PutObjectOutput::builder().e_tag("\"x\"").build());
    let delete = mock!(aws_sdk_s3::Client::delete_object)
        .then_output(|| DeleteObjectOutput::builder().build());
    let run = glue_run(TaskStatusType::Failed, Some("x"));
    let state = state(config(), &[&list, &get, &write, &delete], &[&run]);
    let report = tick(&state).await;
    assert_eq!(report.errors.len(), 1, "{report:?}");
    assert!(
        report.errors[0].starts_with(&format!("S3 GetObject of ledger s3://bkt/{ENTRY} failed: "))
    );
    assert_eq!(
        (run.num_calls(), write.num_calls(), delete.num_calls()),
        (0, 0, 0)
    );

    // Glue cannot be asked.
    let list = listing(&[MARKER]);
    let get = stored(&running_entry());
    let write = mock!(aws_sdk_s3::Client::put_object)
        .then_output(|| PutObjectOutput::builder().e_tag("\"x\"").build());
    let run = mock!(aws_sdk_glue::Client::get_ml_task_run)
        .sequence()
        .http_status(503, None)
        .repeatedly()
        .build();
    let state = crate::mocks::state(config(), &[&list, &get, &write], &[&run]);
    let report = tick(&state).await;
    assert_eq!(report.errors.len(), 1);
    assert!(
        report.errors[0].starts_with("Glue GetMLTaskRun failed with HTTP 503"),
        "{report:?}"
    );
    assert_eq!(write.num_calls(), 0);

    // The list itself fails: nothing else is tried.
    let list = mock!(aws_sdk_s3::Client::list_objects_v2)
        .sequence()
        .http_status(500, None)
        .repeatedly()
        .build();
    let run = glue_run(TaskStatusType::Failed, Some("x"));
    let state = crate::mocks::state(config(), &[&list], &[&run]);
    let report = tick(&state).await;
    assert_eq!((report.open, report.errors.len()), (0, 1));
    assert_eq!(run.num_calls(), 0);
}
