//! The compare-and-set seam's conformance suite (`aws::documents`): one set of cases, run
//! against the real S3 client answered by `aws-smithy-mocks` (a small conditional-write S3 kept
//! in memory) and against moto on loopback. Create twice, a stale update, an update of a
//! deleted key (S3 answers 404 to its `If-Match`), an answer lost on the way, and N writers
//! incrementing one counter.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::operation::delete_object::DeleteObjectOutput;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::put_object::{PutObjectInput, PutObjectOutput};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_mocks::{mock, mock_client, MockResponse, RuleMode};
use glue_label_importer::aws::documents::{
    Document, Documents, LedgerError, PutMode, Replaced, Updated, Versioned,
};
use glue_label_importer::config::retry_config;
use local_stack::proxy::s3_error_body;
use serde::{Deserialize, Serialize};

const BUCKET: &str = "bkt";
const KEY: &str = "glue-label-importer/counters/c.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Counter {
    format: u32,
    revision: u64,
    n: u64,
}

impl Document for Counter {
    const NAME: &'static str = "counter";
    const FORMAT: u32 = 1;
    fn revision_mut(&mut self) -> &mut u64 {
        &mut self.revision
    }
}

fn counter(n: u64) -> Counter {
    Counter {
        format: 1,
        revision: 0,
        n,
    }
}

/// A backend the suite runs against: an S3 client, and a switch that makes the next PutObject
/// take effect but lose its answer (a 500 instead; the SDK's retry then meets 412).
struct Backend {
    s3: aws_sdk_s3::Client,
    lose_next_answer: Arc<AtomicBool>,
}

// ---- the cases ------------------------------------------------------------------------------

async fn creating_twice_is_superseded(b: &Backend) {
    let docs = Documents::new(&b.s3, BUCKET);
    let Replaced::Written(first) = docs.create(KEY, counter(1)).await.unwrap() else {
        panic!("the first create writes")
    };
    assert_eq!(first.value.revision, 1);
    assert_eq!(
        docs.create(KEY, counter(2)).await.unwrap(),
        Replaced::Superseded
    );
    let stored: Versioned<Counter> = docs.get(KEY).await.unwrap().unwrap();
    assert_eq!((stored.value.n, stored.etag), (1, first.etag));
}

async fn a_stale_update_is_superseded(b: &Backend) {
    let docs = Documents::new(&b.s3, BUCKET);
    docs.put(KEY, counter(0), PutMode::Create).await.unwrap();
    let read: Versioned<Counter> = docs.get(KEY).await.unwrap().unwrap();
    let Replaced::Written(second) = docs.replace(read.clone(), |c| c.n = 1).await.unwrap() else {
        panic!("the first update writes")
    };
    assert_eq!(second.value.revision, 2);
    assert_ne!(second.etag, read.etag);
    assert_eq!(
        docs.replace(read.clone(), |c| c.n = 99).await.unwrap(),
        Replaced::Superseded
    );
    let err = docs
        .put(KEY, read.value.clone(), PutMode::Update(read.etag))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        LedgerError::Conflict {
            bucket: BUCKET.into(),
            key: KEY.into()
        }
    );
    assert!(err.is_retryable());
    let now: Versioned<Counter> = docs.get(KEY).await.unwrap().unwrap();
    assert_eq!(now.value.n, 1);
}

async fn an_update_of_a_deleted_key_is_gone(b: &Backend) {
    let docs = Documents::new(&b.s3, BUCKET);
    docs.put(KEY, counter(0), PutMode::Create).await.unwrap();
    let read: Versioned<Counter> = docs.get(KEY).await.unwrap().unwrap();
    docs.delete(KEY).await.unwrap();
    // S3 answers 404 to the If-Match of a deleted key: a lost race, not an S3 failure.
    let err = docs
        .put(KEY, read.value.clone(), PutMode::Update(read.etag.clone()))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        LedgerError::Conflict {
            bucket: BUCKET.into(),
            key: KEY.into()
        }
    );
    assert_eq!(
        docs.replace(read, |c| c.n = 5).await.unwrap(),
        Replaced::Gone
    );
    let updated = docs.update(KEY, || None, |c: &mut Counter| c.n += 1).await;
    assert_eq!(updated.unwrap(), Updated::Gone);
    assert_eq!(docs.get::<Counter>(KEY).await.unwrap(), None);
}

async fn a_lost_answer_whose_write_took_effect_is_ours(b: &Backend) {
    let docs = Documents::new(&b.s3, BUCKET);
    let ours = counter(7);
    b.lose_next_answer.store(true, Ordering::SeqCst);
    let Replaced::Written(stored) = docs.create(KEY, ours).await.unwrap() else {
        panic!("the write that took effect is recognised as this one")
    };
    assert_eq!((stored.value.n, stored.value.revision), (7, 1));
    let current: Versioned<Counter> = docs.get(KEY).await.unwrap().unwrap();
    assert_eq!(current.etag, stored.etag);
    assert!(
        !b.lose_next_answer.load(Ordering::SeqCst),
        "the answer was lost"
    );
    // The same bytes written by someone else are not ours.
    assert_eq!(
        docs.create(KEY, counter(7)).await.unwrap(),
        Replaced::Superseded
    );
}

async fn writers_incrementing_one_counter_lose_nothing(b: &Backend, writers: u64, each: u64) {
    let docs = Documents::new(&b.s3, BUCKET);
    let tasks = (0..writers).map(|_| async move {
        for _ in 0..each {
            let updated = docs
                .update(KEY, || Some(counter(0)), |c: &mut Counter| c.n += 1)
                .await
                .unwrap();
            assert!(matches!(updated, Updated::Written(_)), "{updated:?}");
        }
    });
    futures_util::future::join_all(tasks).await;
    let done: Versioned<Counter> = docs.get(KEY).await.unwrap().unwrap();
    assert_eq!(done.value.n, writers * each);
    assert_eq!(
        done.value.revision,
        writers * each,
        "one revision per write"
    );
}

async fn an_unchanged_document_is_not_written(b: &Backend) {
    let docs = Documents::new(&b.s3, BUCKET);
    docs.put(KEY, counter(3), PutMode::Create).await.unwrap();
    let updated = docs
        .update(KEY, || None, |c: &mut Counter| c.n = c.n.max(2))
        .await
        .unwrap();
    let Updated::Unchanged(read) = updated else {
        panic!("nothing changed: {updated:?}")
    };
    assert_eq!((read.value.n, read.value.revision), (3, 1));
}

// ---- the mocked backend -------------------------------------------------------------------

fn status(code: u16, s3_code: &str) -> HttpResponse {
    HttpResponse::new(code.try_into().unwrap(), s3_error_body(s3_code).into())
}

type Objects = Arc<Mutex<HashMap<String, Stored>>>;

/// One object of the in-memory S3: ETag, bytes, the writer named in its metadata.
struct Stored {
    etag: String,
    bytes: Vec<u8>,
    writer: Option<String>,
}

/// Applies a PutObject as S3 does (`If-None-Match: *`: 412 when present; `If-Match`: 404 when
/// absent, 412 when another version), or the status it is refused with.
fn apply_put(objects: &Objects, r: &PutObjectInput) -> Result<String, u16> {
    let mut objects = objects.lock().unwrap();
    let key = r.key().unwrap_or_default().to_string();
    let current = objects.get(&key).map(|o| o.etag.clone());
    if r.if_none_match() == Some("*") && current.is_some() {
        return Err(412);
    }
    if let Some(expected) = r.if_match() {
        match current {
            None => return Err(404),
            Some(etag) if etag != expected => return Err(412),
            Some(_) => {}
        }
    }
    let bytes = r.body().bytes().unwrap_or_default().to_vec();
    let mut hash = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hash);
    let etag = format!("\"{:016x}\"", hash.finish());
    let writer = r.metadata().and_then(|m| m.get("writer")).cloned();
    let stored = Stored {
        etag: etag.clone(),
        bytes,
        writer,
    };
    objects.insert(key, stored);
    Ok(etag)
}

/// A conditional-write S3 in memory: ETags are content hashes, `If-None-Match: *` and
/// `If-Match` hold as S3 holds them (412, and 404 for `If-Match` on a missing key).
fn mocked() -> Backend {
    let objects: Objects = Arc::default();
    let lose = Arc::new(AtomicBool::new(false));
    // The lossy write: it takes effect when matched, then answers 500, and its retry 412.
    let (o, l) = (objects.clone(), lose.clone());
    let lossy = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(move |r| l.swap(false, Ordering::SeqCst) && apply_put(&o, r).is_ok())
        .sequence()
        .http_status(500, Some(s3_error_body("InternalError")))
        .http_status(412, Some(s3_error_body("PreconditionFailed")))
        .build();
    let o = objects.clone();
    let put =
        mock!(aws_sdk_s3::Client::put_object).then_compute_response(move |r| {
            match apply_put(&o, r) {
                Ok(etag) => MockResponse::Output(PutObjectOutput::builder().e_tag(etag).build()),
                Err(412) => MockResponse::Http(status(412, "PreconditionFailed")),
                Err(code) => MockResponse::Http(status(code, "NoSuchKey")),
            }
        });
    let o = objects.clone();
    let get = mock!(aws_sdk_s3::Client::get_object).then_compute_response(move |r| {
        match o.lock().unwrap().get(r.key().unwrap_or_default()) {
            Some(object) => MockResponse::Output(
                GetObjectOutput::builder()
                    .e_tag(&object.etag)
                    .set_metadata(
                        object
                            .writer
                            .clone()
                            .map(|w| HashMap::from([("writer".to_string(), w)])),
                    )
                    .body(ByteStream::from(object.bytes.clone()))
                    .build(),
            ),
            None => MockResponse::Http(status(404, "NoSuchKey")),
        }
    });
    let o = objects;
    let delete = mock!(aws_sdk_s3::Client::delete_object).then_compute_output(move |r| {
        o.lock().unwrap().remove(r.key().unwrap_or_default());
        DeleteObjectOutput::builder().build()
    });
    let rules = [&lossy, &put, &get, &delete];
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, rules, |c| c
        .retry_config(retry_config().with_initial_backoff(Duration::from_millis(1))));
    Backend {
        s3,
        lose_next_answer: lose,
    }
}

#[tokio::test]
async fn mocks_creating_twice_is_superseded() {
    creating_twice_is_superseded(&mocked()).await;
}

#[tokio::test]
async fn mocks_a_stale_update_is_superseded() {
    a_stale_update_is_superseded(&mocked()).await;
}

#[tokio::test]
async fn mocks_an_update_of_a_deleted_key_is_gone() {
    an_update_of_a_deleted_key_is_gone(&mocked()).await;
}

#[tokio::test]
async fn mocks_a_lost_answer_whose_write_took_effect_is_ours() {
    a_lost_answer_whose_write_took_effect_is_ours(&mocked()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mocks_writers_incrementing_one_counter_lose_nothing() {
    for _ in 0..20 {
        writers_incrementing_one_counter_lose_nothing(&mocked(), 6, 5).await;
    }
}

#[tokio::test]
async fn mocks_an_unchanged_document_is_not_written() {
    an_unchanged_document_is_not_written(&mocked()).await;
}

async fn four_writers_five_times(b: &Backend) {
    writers_incrementing_one_counter_lose_nothing(b, 4, 5).await;
}

// ---- moto -----------------------------------------------------------------------------------

/// Runs `case` on moto (its turn on the shared server, reset, with the bucket made), through
/// a proxy that can lose a PUT's answer; the proxy stops with the case.
macro_rules! on_moto {
    ($case:expr) => {{
        let lease = glue_local::moto::lease()
            .await
            .expect("moto (run `make venv` or set MOTO_SERVER)");
        let proxy = local_stack::proxy::Proxy::start(&lease.moto.url(), Duration::ZERO).await;
        let s3 = glue_local::s3_client(&proxy.url, "us-east-1").await;
        s3.create_bucket().bucket(BUCKET).send().await.unwrap();
        let backend = Backend {
            s3,
            lose_next_answer: proxy.lose_next_put(),
        };
        $case(&backend).await;
        drop(proxy);
    }};
}

#[tokio::test]
async fn moto_creating_twice_is_superseded() {
    on_moto!(creating_twice_is_superseded);
}

#[tokio::test]
async fn moto_a_stale_update_is_superseded() {
    on_moto!(a_stale_update_is_superseded);
}

#[tokio::test]
async fn moto_an_update_of_a_deleted_key_is_gone() {
    on_moto!(an_update_of_a_deleted_key_is_gone);
}

#[tokio::test]
async fn moto_a_lost_answer_whose_write_took_effect_is_ours() {
    on_moto!(a_lost_answer_whose_write_took_effect_is_ours);
}

#[tokio::test]
async fn moto_writers_incrementing_one_counter_lose_nothing() {
    for _ in 0..3 {
        on_moto!(four_writers_five_times);
    }
}

#[tokio::test]
async fn moto_an_unchanged_document_is_not_written() {
    on_moto!(an_unchanged_document_is_not_written);
}
