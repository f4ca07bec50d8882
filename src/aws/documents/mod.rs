//! Documents kept with S3 conditional writes: the one compare-and-set seam.
//!
//! A document is a small JSON object with a `format` and a `revision` ([`Document`]). It is
//! read as a [`Versioned`] value (key, ETag, value) and written with a [`PutMode`]:
//! `Create` sends `If-None-Match: *`, `Update(etag)` sends `If-Match: <etag>`. Every write
//! raises the revision, so no two versions carry the same bytes and an ETag (a content hash)
//! names one version only.
//!
//! ```text
//!  update(key, mutator):   read ──► mutate ──► raise revision ──► PutObject If-Match
//!                           ▲                                        │
//!                           └──── lost race (409/412/404): back off ◄┘   (≤ ROUNDS rounds)
//! ```
//!
//! S3's quirks are handled here and nowhere else: a lost race answers 412, or 409 under
//! concurrent writes, or 404 for an `If-Match` on a key deleted meanwhile — all three are a
//! conflict. An answer lost on the way (a 5xx whose write took effect, then the SDK's retry
//! meets 412) is recognised by reading the document back: every write names its writer in the
//! object's metadata (`x-amz-meta-writer`, one token per write), so a version is this write's
//! only if it carries this write's token — two writers that make the same change from the same
//! version write the same bytes, and only one of them wrote.
//! Nothing else in the crate sends a conditional write.

use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::primitives::ByteStream;
mod model;

pub use self::model::{
    parse, Document, LedgerError, Listed, PutMode, Replaced, Updated, Versioned,
};
use crate::http_status;

/// Compare-and-set rounds of [`Documents::update`] before a busy document is given up (a
/// retryable [`LedgerError::Conflict`]).
pub const ROUNDS: u32 = 12;

/// User metadata naming the write that made a version.
const WRITER: &str = "writer";

/// One version as read: its ETag, its bytes and the token of the write that made it.
#[derive(Debug)]
struct Raw {
    etag: String,
    bytes: Vec<u8>,
    writer: Option<String>,
}

/// What a conditional write came to, before the caller's reading of it.
enum Put {
    Written(String),
    /// A lost race: the version that stands now (`None`: the key is absent).
    Lost(Option<Raw>),
}

/// A document's bytes as read ahead of its [`Documents::update_from`] (`None` inside: absent).
#[derive(Debug)]
pub struct Snapshot(Option<Raw>);

/// One bucket's documents.
#[derive(Debug, Clone, Copy)]
pub struct Documents<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
}

impl<'a> Documents<'a> {
    pub fn new(s3: &'a aws_sdk_s3::Client, bucket: &'a str) -> Self {
        Documents { s3, bucket }
    }

    pub fn bucket(&self) -> &str {
        self.bucket
    }

    /// The document at `key`, or `None` when there is none.
    pub async fn get<T: Document>(&self, key: &str) -> Result<Option<Versioned<T>>, LedgerError> {
        match self.read(key).await? {
            None => Ok(None),
            Some(raw) => self.versioned(key, raw).map(Some),
        }
    }

    /// Writes `value` (its revision raised first) at `key` if `mode` holds: one
    /// compare-and-set. A lost race is [`LedgerError::Conflict`].
    pub async fn put<T: Document>(
        &self,
        key: &str,
        mut value: T,
        mode: PutMode,
    ) -> Result<Versioned<T>, LedgerError> {
        *value.revision_mut() += 1;
        match self.write(key, &value, &mode).await? {
            Put::Written(etag) => Ok(Versioned {
                key: key.to_string(),
                etag,
                value,
            }),
            Put::Lost(_) => Err(self.conflict(key)),
        }
    }

    /// Creates the document at `key`, only when there is none.
    pub async fn create<T: Document>(
        &self,
        key: &str,
        value: T,
    ) -> Result<Replaced<T>, LedgerError> {
        self.settle(key, value, PutMode::Create).await
    }

    /// Changes the version held, only if it is still the current one.
    pub async fn replace<T: Document>(
        &self,
        held: Versioned<T>,
        change: impl FnOnce(&mut T),
    ) -> Result<Replaced<T>, LedgerError> {
        let Versioned {
            key,
            etag,
            mut value,
        } = held;
        change(&mut value);
        self.settle(&key, value, PutMode::Update(etag)).await
    }

    async fn settle<T: Document>(
        &self,
        key: &str,
        mut value: T,
        mode: PutMode,
    ) -> Result<Replaced<T>, LedgerError> {
        *value.revision_mut() += 1;
        Ok(match self.write(key, &value, &mode).await? {
            Put::Written(etag) => Replaced::Written(Versioned {
                key: key.to_string(),
                etag,
                value,
            }),
            Put::Lost(Some(_)) => Replaced::Superseded,
            Put::Lost(None) => Replaced::Gone,
        })
    }

    /// The compare-and-set loop: reads the document (or takes `fresh()` when there is none),
    /// lets `mutator` change it, and writes it with `If-Match` (`If-None-Match: *` for a fresh
    /// one) unless nothing changed; a lost race backs off and starts over from the version that
    /// won, for at most [`ROUNDS`] rounds.
    pub async fn update<T: Document>(
        &self,
        key: &str,
        fresh: impl Fn() -> Option<T>,
        mutator: impl FnMut(&mut T),
    ) -> Result<Updated<T>, LedgerError> {
        let snapshot = self.snapshot(key).await?;
        self.update_from(key, snapshot, fresh, mutator).await
    }

    /// Reads a document ahead of its update (beside other requests).
    pub async fn snapshot(&self, key: &str) -> Result<Snapshot, LedgerError> {
        Ok(Snapshot(self.read(key).await?))
    }

    /// [`update`](Documents::update), its first round from a snapshot read before.
    pub async fn update_from<T: Document>(
        &self,
        key: &str,
        snapshot: Snapshot,
        fresh: impl Fn() -> Option<T>,
        mut mutator: impl FnMut(&mut T),
    ) -> Result<Updated<T>, LedgerError> {
        let mut current = snapshot.0;
        for round in 0..ROUNDS {
            let (mode, read) = match current.take() {
                Some(raw) => {
                    let read = self.versioned::<T>(key, raw)?;
                    (PutMode::Update(read.etag.clone()), read)
                }
                None => match fresh() {
                    Some(value) => (
                        PutMode::Create,
                        Versioned {
                            key: key.to_string(),
                            etag: String::new(),
                            value,
                        },
                    ),
                    None => return Ok(Updated::Gone),
                },
            };
            let mut value = read.value.clone();
            mutator(&mut value);
            if value == read.value && mode != PutMode::Create {
                return Ok(Updated::Unchanged(read));
            }
            *value.revision_mut() += 1;
            match self.write(key, &value, &mode).await? {
                Put::Written(etag) => {
                    let key = key.to_string();
                    return Ok(Updated::Written(Versioned { key, etag, value }));
                }
                Put::Lost(now) => {
                    current = now;
                    tokio::time::sleep(backoff(round)).await;
                }
            }
        }
        Err(self.conflict(key))
    }

    /// Creates an empty object at `key` unless one is there (an open import's marker).
    pub async fn create_empty(&self, key: &str) -> Result<(), LedgerError> {
        let sent = self
            .s3
            .put_object()
            .bucket(self.bucket)
            .key(key)
            .if_none_match("*")
            .body(ByteStream::from_static(b""))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) => match self.error("PutObject", key, e, false) {
                LedgerError::Conflict { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), LedgerError> {
        self.s3
            .delete_object()
            .bucket(self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.error("DeleteObject", key, e, false))
    }

    /// Every key under `prefix`, in key order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>, LedgerError> {
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error("ListObjectsV2", prefix, e, false))?;
            keys.extend(page.contents().iter().filter_map(|o| {
                Some(Listed {
                    key: o.key()?.to_string(),
                    last_modified: o.last_modified().and_then(super::utc),
                })
            }));
        }
        Ok(keys)
    }

    /// The problem of a document that cannot be used, named with its key.
    pub fn invalid(&self, key: &str, problem: String) -> LedgerError {
        LedgerError::Invalid {
            bucket: self.bucket.to_string(),
            key: key.to_string(),
            problem,
        }
    }

    fn conflict(&self, key: &str) -> LedgerError {
        LedgerError::Conflict {
            bucket: self.bucket.to_string(),
            key: key.to_string(),
        }
    }

    fn versioned<T: Document>(&self, key: &str, raw: Raw) -> Result<Versioned<T>, LedgerError> {
        let value = parse(&raw.bytes).map_err(|problem| self.invalid(key, problem))?;
        Ok(Versioned {
            key: key.to_string(),
            etag: raw.etag,
            value,
        })
    }

    /// S3's answer as this crate's error: 409 and 412 are a lost race, and so is 404 when it
    /// answers a conditional update (the key was deleted meanwhile).
    fn error<E: std::error::Error + 'static>(
        &self,
        operation: &'static str,
        key: &str,
        err: SdkError<E, HttpResponse>,
        update: bool,
    ) -> LedgerError {
        let (bucket, key) = (self.bucket.to_string(), key.to_string());
        match http_status(&err) {
            Some(412) | Some(409) => LedgerError::Conflict { bucket, key },
            Some(404) if update => LedgerError::Conflict { bucket, key },
            Some(403) => LedgerError::AccessDenied {
                operation,
                bucket,
                key,
            },
            _ => LedgerError::S3 {
                operation,
                bucket,
                key,
                message: DisplayErrorContext(&err).to_string(),
            },
        }
    }

    /// The bytes at `key` and their ETag, or `None` when there are none.
    async fn read(&self, key: &str) -> Result<Option<Raw>, LedgerError> {
        let sent = self
            .s3
            .get_object()
            .bucket(self.bucket)
            .key(key)
            .send()
            .await;
        let out = match sent {
            Ok(out) => out,
            Err(e) if http_status(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(self.error("GetObject", key, e, false)),
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let writer = out.metadata().and_then(|m| m.get(WRITER)).cloned();
        let bytes = out.body.collect().await.map_err(|e| LedgerError::S3 {
            operation: "GetObject",
            bucket: self.bucket.to_string(),
            key: key.to_string(),
            message: e.to_string(),
        })?;
        Ok(Some(Raw {
            etag,
            bytes: bytes.to_vec(),
            writer,
        }))
    }

    /// Writes `value` at `key` if `mode` holds. A lost race answers the version that stands,
    /// read back — unless it carries this write's token (an answer lost on the way): written.
    async fn write<T: Document>(
        &self,
        key: &str,
        value: &T,
        mode: &PutMode,
    ) -> Result<Put, LedgerError> {
        let body =
            serde_json::to_vec_pretty(value).map_err(|e| self.invalid(key, e.to_string()))?;
        let token = crate::unique_token();
        let request = self
            .s3
            .put_object()
            .bucket(self.bucket)
            .key(key)
            .content_type("application/json")
            .set_tagging(value.tagging())
            .metadata(WRITER, &token)
            .body(ByteStream::from(body));
        let request = match mode {
            PutMode::Create => request.if_none_match("*"),
            PutMode::Update(etag) => request.if_match(etag),
        };
        let update = matches!(mode, PutMode::Update(_));
        match request.send().await {
            Ok(out) => Ok(Put::Written(out.e_tag().unwrap_or_default().to_string())),
            Err(e) => match self.error("PutObject", key, e, update) {
                LedgerError::Conflict { .. } => match self.read(key).await? {
                    Some(now) if now.writer.as_deref() == Some(token.as_str()) => {
                        Ok(Put::Written(now.etag))
                    }
                    now => Ok(Put::Lost(now)),
                },
                other => Err(other),
            },
        }
    }
}

/// 10–59 ms, growing with the round, varied by the clock so racing writers spread out.
fn backoff(round: u32) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Duration::from_millis(10 + u64::from(round.min(6)) * 5 + u64::from(nanos % 20))
}
