//! The import ledger: one small JSON document per upload, in the upload's own bucket under
//! `LEDGER_PREFIX`, so every delivery of one upload (and every tick) meets the same entry.
//!
//! Entries live at `<prefix>entries/<transform-id>/<upload-id>.json` ([`Entry`]);
//! `<upload-id>` is a hash of the upload (bucket, key, ETag, version ID, Last-Modified). They
//! are written only through the compare-and-set seam ([`crate::aws::documents`]): created with
//! `If-None-Match: *`, changed with `If-Match: <its ETag>`, each write raising `revision`. An
//! upload whose import has not ended also has an empty marker at
//! `<prefix>open/<transform-id>/<upload-id>`: the tick lists only those. Lanes live at
//! `<prefix>lanes/<transform-id>.json` ([`crate::lifecycle::lane`]); a transform's teaching
//! rounds at `<prefix>rounds/<transform-id>.json` ([`crate::teaching::rounds`]), with the
//! marker `<prefix>open/<transform-id>/loop` while its loop has work left; each notification's
//! claim at `<prefix>notifications/<transform-id>/<event>-<id>.json` ([`crate::notify`]).

use chrono::{DateTime, Utc};

use crate::aws::documents::{Documents, Replaced, Versioned};
pub use crate::aws::documents::{LedgerError, PutMode};
use crate::lifecycle::entry::Entry;

/// An entry as read or written, with the ETag that a change must name.
pub type Stored = Versioned<Entry>;

/// The marker name (in the place of an upload ID) of a transform whose teaching loop has work
/// left: listed with the imports' markers, so an idle tick is still one List.
pub const LOOP_MARKER: &str = "loop";

/// An open import's marker, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub key: String,
    pub transform_id: String,
    pub upload_id: String,
    pub last_modified: Option<DateTime<Utc>>,
}

/// The upload ID in an entry key (`…/<upload-id>.json`).
pub fn upload_id(entry_key: &str) -> &str {
    let name = entry_key.rsplit('/').next().unwrap_or_default();
    name.strip_suffix(".json").unwrap_or(name)
}

/// One bucket's ledger.
#[derive(Debug, Clone, Copy)]
pub struct Ledger<'a> {
    documents: Documents<'a>,
    prefix: &'a str,
}

impl<'a> Ledger<'a> {
    pub fn new(s3: &'a aws_sdk_s3::Client, bucket: &'a str, prefix: &'a str) -> Self {
        Ledger {
            documents: Documents::new(s3, bucket),
            prefix,
        }
    }

    pub fn bucket(&self) -> &str {
        self.documents.bucket()
    }

    /// The ledger's documents (entries and lanes), for their compare-and-set.
    pub fn documents(&self) -> &Documents<'a> {
        &self.documents
    }

    /// `<prefix>entries/<transform-id>/<upload-id>.json`
    pub fn entry_key(&self, transform_id: &str, upload_id: &str) -> String {
        format!("{}entries/{transform_id}/{upload_id}.json", self.prefix)
    }

    /// `<prefix>lanes/<transform-id>.json`
    pub fn lane_key(&self, transform_id: &str) -> String {
        format!("{}lanes/{transform_id}.json", self.prefix)
    }

    /// `<prefix>open/<transform-id>/<upload-id>`
    pub fn marker_key(&self, transform_id: &str, upload_id: &str) -> String {
        format!("{}open/{transform_id}/{upload_id}", self.prefix)
    }

    /// `<prefix>rounds/<transform-id>.json`: the transform's teaching rounds.
    pub fn rounds_key(&self, transform_id: &str) -> String {
        format!("{}rounds/{transform_id}.json", self.prefix)
    }

    /// `<prefix>open/<transform-id>/loop`: the transform's teaching loop has work left.
    pub fn loop_marker_key(&self, transform_id: &str) -> String {
        self.marker_key(transform_id, LOOP_MARKER)
    }

    /// `<prefix>notifications/<transform-id>/<name>.json`: one message's claim
    /// ([`crate::notify`]).
    pub fn notification_key(&self, transform_id: &str, name: &str) -> String {
        format!("{}notifications/{transform_id}/{name}.json", self.prefix)
    }

    /// The entry at `key`, or `None` when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Stored>, LedgerError> {
        self.documents.get(key).await
    }

    /// Writes `entry` (its revision raised) at `key` if `mode` holds: compare-and-set.
    pub async fn put(&self, key: &str, entry: Entry, mode: PutMode) -> Result<Stored, LedgerError> {
        self.documents.put(key, entry, mode).await
    }

    /// Creates the entry, only when the upload has none.
    pub async fn create(&self, key: &str, entry: Entry) -> Result<Replaced<Entry>, LedgerError> {
        self.documents.create(key, entry).await
    }

    /// Changes the entry held, only if it is still the current version.
    pub async fn replace(
        &self,
        held: Stored,
        change: impl FnOnce(&mut Entry),
    ) -> Result<Replaced<Entry>, LedgerError> {
        self.documents.replace(held, change).await
    }

    /// Opens the upload's marker (it may exist already: a delivery before this one).
    pub async fn open(&self, transform_id: &str, upload_id: &str) -> Result<(), LedgerError> {
        let key = self.marker_key(transform_id, upload_id);
        self.documents.create_empty(&key).await
    }

    /// Removes a marker: its import has ended (or it names no entry).
    pub async fn close(&self, marker_key: &str) -> Result<(), LedgerError> {
        self.documents.delete(marker_key).await
    }

    /// Every open import's marker, in key order.
    pub async fn open_markers(&self) -> Result<Vec<Marker>, LedgerError> {
        let prefix = format!("{}open/", self.prefix);
        let listed = self.documents.list(&prefix).await?;
        Ok(listed
            .into_iter()
            .filter_map(|l| {
                let (transform_id, upload_id) = l.key.strip_prefix(&prefix)?.split_once('/')?;
                Some(Marker {
                    transform_id: transform_id.to_string(),
                    upload_id: upload_id.to_string(),
                    last_modified: l.last_modified,
                    key: l.key,
                })
            })
            .collect())
    }

    /// Every entry of a transform, oldest upload first; an entry that cannot be read is
    /// returned as its error.
    pub async fn entries(
        &self,
        transform_id: &str,
    ) -> Result<Vec<Result<Stored, LedgerError>>, LedgerError> {
        let prefix = format!("{}entries/{transform_id}/", self.prefix);
        let mut entries = Vec::new();
        for listed in self.documents.list(&prefix).await? {
            match self.get(&listed.key).await {
                Ok(Some(stored)) => entries.push(Ok(stored)),
                Ok(None) => {}
                Err(e) => entries.push(Err(e)),
            }
        }
        // Upload time first; S3's Last-Modified has whole seconds, so ties go by the
        // entry's creation (to the millisecond).
        entries.sort_by_key(|e| {
            e.as_ref().ok().map(|s| {
                let created = s.value.history.first().map(|t| t.at);
                (s.value.uploaded_at, created)
            })
        });
        Ok(entries)
    }
}
