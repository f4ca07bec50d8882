//! The seam's vocabulary, without I/O: what a document is, how a write meets the current
//! version, what a write came to, and why it failed.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A JSON document kept with conditional writes.
pub trait Document: Serialize + DeserializeOwned + Clone + PartialEq {
    /// What it is, in error messages ("ledger entry", "lane").
    const NAME: &'static str;
    /// The newest format this build reads and writes; a newer one is left alone.
    const FORMAT: u32;
    /// Raised by every write: the bytes of two versions always differ.
    fn revision_mut(&mut self) -> &mut u64;
    /// Tags written with this version (`k=v&…`), e.g. for a lifecycle rule.
    fn tagging(&self) -> Option<String> {
        None
    }
}

/// Reads a document, checking its `format` before anything else: a newer format is refused
/// as such (not as a malformed document).
pub fn parse<T: Document>(bytes: &[u8]) -> Result<T, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    match value.get("format").and_then(serde_json::Value::as_u64) {
        Some(format) if format > u64::from(T::FORMAT) => Err(format!(
            "format {format} is newer than this function's format {}; deploy the newer function version that wrote it",
            T::FORMAT
        )),
        Some(_) => serde_json::from_value(value).map_err(|e| format!("not a {}: {e}", T::NAME)),
        None => Err(format!("no \"format\" number: not a {}", T::NAME)),
    }
}

/// How a write meets the current version: create only when absent, or replace only the
/// version read (its ETag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutMode {
    Create,
    Update(String),
}

/// A document as read or written, with the ETag that a change must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    pub key: String,
    pub etag: String,
    pub value: T,
}

/// What [`Documents::update`](super::Documents::update) came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Updated<T> {
    /// The mutator's change, as written.
    Written(Versioned<T>),
    /// The mutator changed nothing: the version read.
    Unchanged(Versioned<T>),
    /// There is no document (and no fresh one was offered).
    Gone,
}

impl<T> Updated<T> {
    /// The document as it stands after the update (`None` when gone).
    pub fn into_versioned(self) -> Option<Versioned<T>> {
        match self {
            Updated::Written(v) | Updated::Unchanged(v) => Some(v),
            Updated::Gone => None,
        }
    }
}

/// What one compare-and-set against a version held came to ([`Documents::create`](super::Documents::create),
/// [`Documents::replace`](super::Documents::replace)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replaced<T> {
    Written(Versioned<T>),
    /// Another writer wrote first: the document is theirs now.
    Superseded,
    /// The document was deleted meanwhile.
    Gone,
}

/// Why a document could not be read or written. Every message says what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("another writer changed ledger document s3://{bucket}/{key} first")]
    Conflict { bucket: String, key: String },
    #[error("ledger entry s3://{bucket}/{key} cannot be used ({problem}); it was left as it is: fix or delete it, then re-drive the upload with `import-labels import --force`")]
    Invalid {
        bucket: String,
        key: String,
        problem: String,
    },
    #[error("S3 {operation} of s3://{bucket}/{key} was denied (403): grant the function s3:GetObject, s3:PutObject, s3:PutObjectTagging and s3:DeleteObject on <bucket>/<LEDGER_PREFIX>* and s3:ListBucket for that prefix")]
    AccessDenied {
        operation: &'static str,
        bucket: String,
        key: String,
    },
    #[error("S3 {operation} of ledger s3://{bucket}/{key} failed: {message}; a retry may succeed")]
    S3 {
        operation: &'static str,
        bucket: String,
        key: String,
        message: String,
    },
}

impl LedgerError {
    /// Whether trying again can help (a conflict is settled by reading the document again).
    pub fn is_retryable(&self) -> bool {
        matches!(self, LedgerError::Conflict { .. } | LedgerError::S3 { .. })
    }
}

/// A key as listed, with its Last-Modified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub last_modified: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
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

    #[test]
    fn the_format_is_checked_before_the_fields() {
        let newer = parse::<Counter>(br#"{"format": 2, "shape": "other"}"#).unwrap_err();
        assert_eq!(newer, "format 2 is newer than this function's format 1; deploy the newer function version that wrote it");
        assert_eq!(
            parse::<Counter>(br#"{"n": 1}"#).unwrap_err(),
            "no \"format\" number: not a counter"
        );
        assert_eq!(
            parse::<Counter>(br#"{"format": 1, "revision": 0}"#).unwrap_err(),
            "not a counter: missing field `n`"
        );
        assert_eq!(
            parse::<Counter>(br#"{"format": 1, "revision": 3, "n": 7}"#).unwrap(),
            Counter {
                format: 1,
                revision: 3,
                n: 7
            }
        );
    }
}
