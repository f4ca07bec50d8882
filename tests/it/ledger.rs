//! The ledger's compare-and-set on the real S3 client, answered by aws-smithy-mocks: the exact
//! conditional headers, and every outcome of a conditional write (200, 412, 409, 5xx, and a
//! lost answer whose write took effect).

use std::time::Duration;

use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::put_object::{PutObjectInput, PutObjectOutput};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use glue_label_importer::config::retry_config;
use glue_label_importer::lifecycle::entry::{Entry, ImportState, Upload, FINISHED_TAG};
use glue_label_importer::lifecycle::ledger::{Ledger, LedgerError, PutMode};

const KEY: &str = "glue-label-importer/entries/tfm-1/0123.json";

fn client(rules: &[&Rule]) -> aws_sdk_s3::Client {
    mock_client!(aws_sdk_s3, RuleMode::MatchAny, rules, |c| c.retry_config(
        retry_config().with_initial_backoff(Duration::from_millis(1))
    ))
}

fn entry(state: ImportState) -> Entry {
    let upload = Upload {
        bucket: "bkt".into(),
        key: "labels/tfm-1/a.csv".into(),
        etag: "e1".into(),
        version_id: Some("v1".into()),
        last_modified: Some(1_795_946_400),
        uploaded_at: chrono::DateTime::from_timestamp_millis(1_795_946_400_000).unwrap(),
    };
    Entry::new(
        &upload,
        "tfm-1",
        "s3://bkt/labels/tfm-1/a.csv",
        false,
        state,
        upload.uploaded_at,
    )
}

fn s3_error(code: &str) -> Option<String> {
    Some(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{code}</Message></Error>"
    ))
}

fn put_answering(status: u16, code: &str) -> Rule {
    mock!(aws_sdk_s3::Client::put_object)
        .sequence()
        .http_status(status, s3_error(code))
        .repeatedly()
        .build()
}

fn get_returning(entry: &Entry) -> Rule {
    let bytes = serde_json::to_vec_pretty(entry).unwrap();
    mock!(aws_sdk_s3::Client::get_object).then_output(move || {
        GetObjectOutput::builder()
            .e_tag("\"current\"")
            .body(ByteStream::from(bytes.clone()))
            .build()
    })
}

#[tokio::test]
async fn a_create_sends_if_none_match_and_an_update_if_match_each_raising_the_revision() {
    let create = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r: &PutObjectInput| {
            r.if_none_match() == Some("*") && r.if_match().is_none() && r.key() == Some(KEY)
        })
        .then_output(|| PutObjectOutput::builder().e_tag("\"etag-1\"").build());
    let update = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r: &PutObjectInput| {
            r.if_match() == Some("\"etag-1\"")
                && r.if_none_match().is_none()
                && r.tagging().is_none()
        })
        .then_output(|| PutObjectOutput::builder().e_tag("\"etag-2\"").build());
    let finish = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r: &PutObjectInput| {
            r.if_match() == Some("\"etag-2\"")
                && r.tagging() == Some(&format!("{}={}", FINISHED_TAG.0, FINISHED_TAG.1))
        })
        .then_output(|| PutObjectOutput::builder().e_tag("\"etag-3\"").build());
    let s3 = client(&[&create, &update, &finish]);
    let ledger = Ledger::new(&s3, "bkt", "glue-label-importer/");

    let created = ledger
        .put(KEY, entry(ImportState::Starting), PutMode::Create)
        .await
        .unwrap();
    assert_eq!(
        (created.etag.as_str(), created.value.revision),
        ("\"etag-1\"", 1)
    );
    let mut running = created.value.clone();
    running.enter(ImportState::Running, created.value.uploaded_at);
    let updated = ledger
        .put(KEY, running, PutMode::Update(created.etag))
        .await
        .unwrap();
    assert_eq!(
        (updated.etag.as_str(), updated.value.revision),
        ("\"etag-2\"", 2)
    );
    let mut done = updated.value.clone();
    done.enter(ImportState::Succeeded, updated.value.uploaded_at);
    let finished = ledger
        .put(KEY, done, PutMode::Update(updated.etag))
        .await
        .unwrap();
    assert_eq!(finished.value.revision, 3);
    assert_eq!(
        (create.num_calls(), update.num_calls(), finish.num_calls()),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn a_lost_race_is_a_conflict_whether_412_or_409() {
    for (status, code) in [
        (412, "PreconditionFailed"),
        (409, "ConditionalRequestConflict"),
    ] {
        let put = put_answering(status, code);
        // What the winner wrote: another revision.
        let mut theirs = entry(ImportState::Starting);
        theirs.revision = 1;
        theirs.marked_by = Some("someone-else".into());
        let get = get_returning(&theirs);
        let s3 = client(&[&put, &get]);
        let ledger = Ledger::new(&s3, "bkt", "glue-label-importer/");
        for mode in [PutMode::Create, PutMode::Update("\"stale\"".into())] {
            let err = ledger
                .put(KEY, entry(ImportState::Starting), mode)
                .await
                .unwrap_err();
            assert_eq!(
                err,
                LedgerError::Conflict {
                    bucket: "bkt".into(),
                    key: KEY.into()
                },
                "{status}"
            );
        }
        assert_eq!(put.num_calls(), 2, "{status}: a conflict is not retried");
    }
}

#[tokio::test]
async fn a_lost_answer_whose_write_took_effect_is_recognised_as_ours() {
    // The first attempt wrote but its answer was a 500; the SDK's retry then meets 412. The
    // write names its writer in the object's metadata, which S3 keeps with the bytes.
    let writer = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let seen = writer.clone();
    let put = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(move |r: &PutObjectInput| {
            *seen.lock().unwrap() = r.metadata().and_then(|m| m.get("writer")).cloned();
            true
        })
        .sequence()
        .http_status(500, s3_error("InternalError"))
        .http_status(412, s3_error("PreconditionFailed"))
        .build();
    let mut ours = entry(ImportState::Starting);
    ours.marked_by = Some("this-attempt".into());
    let mut written = ours.clone();
    written.revision = 1;
    let bytes = serde_json::to_vec_pretty(&written).unwrap();
    let get = mock!(aws_sdk_s3::Client::get_object).then_output(move || {
        let metadata = writer
            .lock()
            .unwrap()
            .clone()
            .map(|w| [("writer".to_string(), w)].into());
        GetObjectOutput::builder()
            .e_tag("\"current\"")
            .set_metadata(metadata)
            .body(ByteStream::from(bytes.clone()))
            .build()
    });
    let s3 = client(&[&put, &get]);
    let ledger = Ledger::new(&s3, "bkt", "glue-label-importer/");
    let stored = ledger.put(KEY, ours, PutMode::Create).await.unwrap();
    assert_eq!(
        (stored.etag.as_str(), stored.value.revision),
        ("\"current\"", 1)
    );
    assert_eq!((put.num_calls(), get.num_calls()), (2, 1));
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_as_retryable() {
    let put = put_answering(503, "SlowDown");
    let s3 = client(&[&put]);
    let ledger = Ledger::new(&s3, "bkt", "glue-label-importer/");
    let err = ledger
        .put(KEY, entry(ImportState::Starting), PutMode::Create)
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    assert!(
        err.to_string()
            .starts_with(&format!("S3 PutObject of ledger s3://bkt/{KEY} failed: ")),
        "{err}"
    );
    assert!(err.to_string().ends_with("; a retry may succeed"), "{err}");
    assert_eq!(put.num_calls(), 3, "the SDK's three attempts");

    let denied = put_answering(403, "AccessDenied");
    let s3 = client(&[&denied]);
    let ledger = Ledger::new(&s3, "bkt", "glue-label-importer/");
    let err = ledger
        .put(KEY, entry(ImportState::Starting), PutMode::Create)
        .await
        .unwrap_err();
    assert!(!err.is_retryable());
    assert_eq!(err.to_string(), format!("S3 PutObject of s3://bkt/{KEY} was denied (403): grant the function s3:GetObject, s3:PutObject, s3:PutObjectTagging and s3:DeleteObject on <bucket>/<LEDGER_PREFIX>* and s3:ListBucket for that prefix"));
}

#[tokio::test]
async fn entries_that_cannot_be_read_name_their_key() {
    for (body, problem) in [
        (&b"[1,2"[..], "not JSON: EOF while parsing a list at line 1 column 4"),
        (b"{\"format\": 7}", "format 7 is newer than this function's format 1; deploy the newer function version that wrote it"),
        (b"{\"state\": \"QUEUED\"}", "no \"format\" number: not a ledger entry"),
        (b"{\"format\": 1}", "not a ledger entry: missing field `revision`"),
    ] {
        let get = mock!(aws_sdk_s3::Client::get_object).then_output(move || {
            GetObjectOutput::builder()
                .body(ByteStream::from_static(body))
                .build()
        });
        let s3 = client(&[&get]);
        let ledger = Ledger::new(&s3, "bkt", "glue-label-importer/");
        let err = ledger.get(KEY).await.unwrap_err();
        assert_eq!(err.to_string(), format!("ledger entry s3://bkt/{KEY} cannot be used ({problem}); it was left as it is: fix or delete it, then re-drive the upload with `import-labels import --force`"));
        assert!(!err.is_retryable());
    }
}

#[test]
fn an_entry_reads_back_as_written_and_names_its_states() {
    let mut e = entry(ImportState::Starting);
    e.task_run_id = Some("tsk-1".into());
    e.enter(
        ImportState::Failed,
        e.uploaded_at + chrono::Duration::seconds(90),
    );
    e.completed_on = Some(e.uploaded_at + chrono::Duration::seconds(90));
    e.error_string = Some("Labeling set S9 is not known.".into());
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["state"], "FAILED");
    assert_eq!(json["history"][1]["state"], "FAILED");
    assert_eq!(json["versionId"], "v1");
    assert_eq!(e.upload_to_end_seconds(), Some(90.0));
    assert_eq!(Entry::parse(&serde_json::to_vec(&e).unwrap()).unwrap(), e);
}

#[test]
fn each_upload_has_its_own_id_and_every_delivery_the_same() {
    let upload = |etag: &str, version: Option<&str>, modified: i64| Upload {
        bucket: "bkt".into(),
        key: "labels/tfm-1/a.csv".into(),
        etag: etag.into(),
        version_id: version.map(str::to_string),
        last_modified: Some(modified),
        uploaded_at: chrono::DateTime::from_timestamp_millis(0).unwrap(),
    };
    let a = upload("e1", Some("v1"), 100).id(None);
    assert_eq!(a.len(), 32);
    assert_eq!(a, upload("e1", Some("v1"), 100).id(None));
    for other in [
        upload("e2", Some("v1"), 100).id(None),
        upload("e1", Some("v2"), 100).id(None),
        upload("e1", Some("v1"), 101).id(None),
        upload("e1", Some("v1"), 100).id(Some("forced")),
    ] {
        assert_ne!(a, other);
    }
}
