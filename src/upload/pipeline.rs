//! One upload inside one invocation: `admit → start in lane → report`.
//!
//! Admit: route → HeadObject → replace flag → duplicate check (receipt tag, Glue's history) →
//! preflight. Start in lane: the upload's marker, its place in the transform's lane
//! ([`crate::lifecycle::lane`]), its ledger entry and — when its turn has come — the start,
//! exactly once ([`crate::lifecycle::start`]); else QUEUED. Report: the receipt and status tags,
//! and the record's [`Outcome`].

use crate::aws::documents::{Replaced, Snapshot};
use crate::aws::glue::{self, Recent};
use crate::aws::tags;
use crate::lifecycle::entry::{attempt_token, Entry, ImportState, Upload};
use crate::lifecycle::lane::{self, Turn};
use crate::lifecycle::ledger::Ledger;
use crate::lifecycle::start::{self, Attempt, Basis};
use crate::notify::{self, message};
use crate::upload::admit::{admit, first_look, Admitted};
use crate::upload::intake::{decode_key, Record};
use crate::upload::order::RecordOrder;
use crate::upload::outcome::{
    Failed, ImportError, Imported, NotImported, Outcome, Queued, SkipReason, Skipped,
};
use crate::upload::route;
use crate::State;

/// What an operator may override when importing by hand (the Lambda uses the defaults).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// `ReplaceAllLabels` regardless of the object's metadata.
    pub replace_all_labels: Option<bool>,
    /// Start the import even when the receipt tag, Glue's history or the ledger shows one
    /// (a new ledger entry is made).
    pub skip_duplicate_check: bool,
}

/// Processes one record of an S3 notification.
pub async fn process(
    state: &State,
    record: Record,
    options: ImportOptions,
    order: RecordOrder,
) -> Outcome {
    let key = match decode_key(&record.raw_key) {
        Ok(key) => key,
        Err(e) => {
            let error = ImportError::UndecodableKey(e.to_string());
            let key = record.raw_key.clone();
            return not_imported(record, key, None, error.into());
        }
    };
    process_key(state, record, key, options, order).await
}

/// A record that repeats an earlier one of the same invocation (same bucket, key and eTag):
/// skipped, so one upload starts one import even when S3 delivered its event twice.
pub fn repeated(record: Record) -> Outcome {
    let key = decode_key(&record.raw_key).unwrap_or_else(|_| record.raw_key.clone());
    not_imported(record, key, None, SkipReason::RepeatedInEvent.into())
}

/// Processes one object whose key is already decoded (`record.raw_key` is not used).
pub async fn process_key(
    state: &State,
    record: Record,
    key: String,
    options: ImportOptions,
    order: RecordOrder,
) -> Outcome {
    if !record.is_object_created() {
        let reason = SkipReason::NotObjectCreated(record.event_name.clone());
        return not_imported(record, key, None, reason.into());
    }
    let transform_id = match route::transform_id(&state.config.labels_prefix, &key) {
        Ok(id) => id.to_string(),
        Err(why) => return not_imported(record, key, None, why),
    };
    match import(state, &record, &key, &transform_id, &options, order).await {
        Ok(outcome) => outcome,
        Err(why) => not_imported(record, key, Some(transform_id), why),
    }
}

fn not_imported(
    record: Record,
    key: String,
    transform_id: Option<String>,
    why: NotImported,
) -> Outcome {
    let bucket = record.bucket;
    match why {
        NotImported::Skipped(reason) => Outcome::Skipped(Skipped {
            bucket,
            key,
            transform_id,
            reason,
        }),
        NotImported::Failed(error) => Outcome::Failed(Failed {
            bucket,
            key,
            transform_id,
            error,
        }),
    }
}

/// `admit → start in lane → report`, for a routed record: imported, or queued for its turn.
async fn import(
    state: &State,
    record: &Record,
    key: &str,
    transform_id: &str,
    options: &ImportOptions,
    order: RecordOrder,
) -> Result<Outcome, NotImported> {
    let ledger = Ledger::new(&state.s3, &record.bucket, &state.config.ledger_prefix);
    let mut look = first_look(state, &ledger, record, key, transform_id, &order).await;
    let lane = look.lane.take();
    let (admitted, recent) = admit(state, record, key, transform_id, options, look).await?;
    let lane = lane.transpose().map_err(ImportError::from)?;
    let salt = options.skip_duplicate_check.then(attempt_token);
    let upload_id = admitted.upload.id(salt.as_deref());
    let entry_key = ledger.entry_key(transform_id, &upload_id);
    let entry = Entry::new(
        &admitted.upload,
        transform_id,
        &admitted.input_s3_path,
        admitted.replace_all_labels,
        ImportState::Queued,
        crate::now(),
    );
    let seen = (recent, lane);
    let attempt = start_in_lane(state, &ledger, &upload_id, &entry_key, entry, order, seen).await?;
    tag_queued(state, &admitted.upload, &attempt).await;
    if let Attempt::Refused { error } = &attempt {
        let entry = Entry::new(
            &admitted.upload,
            transform_id,
            &admitted.input_s3_path,
            admitted.replace_all_labels,
            ImportState::Failed,
            crate::now(),
        );
        let notice = message::import_refused(&entry, &error.to_string(), &upload_id);
        notify::send(state, &ledger, notice).await;
    }
    let ledger_entry = format!("s3://{}/{entry_key}", record.bucket);
    report(admitted, transform_id, ledger_entry, attempt)
}

/// A queued upload's status tag shows QUEUED (a start attempt tags the object itself). The
/// object's tags are read right before they are written: `PutObjectTagging` replaces the
/// whole set.
async fn tag_queued(state: &State, upload: &Upload, attempt: &Attempt) {
    if let Attempt::Queued { .. } = attempt {
        let object = (
            upload.bucket.as_str(),
            upload.key.as_str(),
            upload.version_id.as_deref(),
        );
        tags::follow(state, object, None, "QUEUED", None).await;
    }
}

/// The record's outcome from where the start attempt left it.
fn report(
    admitted: Admitted,
    transform_id: &str,
    ledger_entry: String,
    attempt: Attempt,
) -> Result<Outcome, NotImported> {
    let Admitted {
        upload,
        input_s3_path,
        replace_all_labels,
        warnings,
    } = admitted;
    let reason = match attempt {
        Attempt::Started { task_run_id } => {
            return Ok(Outcome::Imported(Imported {
                bucket: upload.bucket,
                key: upload.key,
                transform_id: transform_id.to_string(),
                input_s3_path,
                replace_all_labels,
                task_run_id,
                ledger_entry,
                warnings,
            }))
        }
        Attempt::Deferred { error, deferral } => match deferral.waits_for(&error) {
            Some(reason) => reason,
            None => return Err(error.into()),
        },
        Attempt::Queued { reason } => reason,
        Attempt::Refused { error } => return Err(error.into()),
        Attempt::Superseded => {
            return Err(SkipReason::LedgerEntry {
                state: "changed by another delivery".into(),
                task_run_id: None,
            }
            .into())
        }
        Attempt::Gone => {
            return Err(ImportError::EntryGone {
                entry: ledger_entry,
            }
            .into())
        }
    };
    Ok(Outcome::Queued(Queued {
        bucket: upload.bucket,
        key: upload.key,
        transform_id: transform_id.to_string(),
        input_s3_path,
        replace_all_labels,
        reason,
        ledger_entry,
    }))
}

/// Opens the upload's marker, takes its place in the transform's lane and, when its turn has
/// come, creates its ledger entry marked and starts the import; else creates the entry QUEUED.
/// When a delivery before this one made the entry, does what the entry calls for. Where that
/// left the upload.
async fn start_in_lane(
    state: &State,
    ledger: &Ledger<'_>,
    upload_id: &str,
    entry_key: &str,
    entry: Entry,
    mut order: RecordOrder,
    seen: (Recent, Option<Snapshot>),
) -> Result<Attempt, NotImported> {
    // The marker and the lane are written side by side: a place whose marker failed is the
    // delivery's retry's, or dropped by the tick after START_LEASE_SECONDS.
    let join = async {
        order.wait().await;
        lane::join(state, ledger, upload_id, &entry, seen).await
    };
    let (opened, turn) = tokio::join!(ledger.open(&entry.transform_id, upload_id), join);
    opened.map_err(ImportError::from)?;
    let turn = turn?;
    let key = entry_key.to_string();
    let mut attempt = match turn {
        Turn::Go => {
            // The entry's history begins with its mark.
            let entry = Entry {
                history: Vec::new(),
                ..entry
            };
            let basis = Basis::New { key, entry };
            start::attempt(state, ledger, basis, start::ATTEMPTS).await?
        }
        Turn::Behind(reason) => queue(ledger, key, entry, reason).await?,
    };
    // The next record of this transform in the event joins once this one has started (or
    // queued): Glue sees the starts in record order, and a queued record can name the task
    // run ahead of it.
    order.release();
    // Superseded: another writer changed the entry first. Read what it holds and act on that;
    // a second loss means the upload is in other hands.
    for _ in 0..2 {
        if !matches!(attempt, Attempt::Superseded) {
            break;
        }
        attempt = meet_existing(state, ledger, upload_id, entry_key).await?;
    }
    Ok(attempt)
}

/// Creates the entry QUEUED behind what `reason` names.
async fn queue(
    ledger: &Ledger<'_>,
    key: String,
    mut entry: Entry,
    reason: String,
) -> Result<Attempt, ImportError> {
    entry.last_error = Some(reason.clone());
    Ok(match ledger.create(&key, entry).await? {
        Replaced::Written(_) => Attempt::Queued { reason },
        Replaced::Superseded => Attempt::Superseded,
        Replaced::Gone => Attempt::Gone,
    })
}

/// An entry a delivery before this one made: a duplicate to report, a refusal to report
/// again, a queued upload whose turn may have come, or an abandoned start to resolve.
async fn meet_existing(
    state: &State,
    ledger: &Ledger<'_>,
    upload_id: &str,
    entry_key: &str,
) -> Result<Attempt, NotImported> {
    let Some(stored) = ledger.get(entry_key).await.map_err(ImportError::from)? else {
        return Ok(Attempt::Gone);
    };
    let entry = &stored.value;
    if entry.start_in_flight() {
        if !entry.mark_expired(state.config.start_lease, crate::now()) {
            let since = entry.marked_at.map(|t| t.to_rfc3339()).unwrap_or_default();
            return Err(SkipReason::StartInFlight { since }.into());
        }
        return Ok(start::resume(state, ledger, stored, start::ATTEMPTS).await?);
    }
    if entry.state == ImportState::Queued {
        let recent = glue::recent_imports(state, &entry.transform_id).await?;
        return match lane::join(state, ledger, upload_id, entry, (recent, None)).await? {
            Turn::Go => {
                let basis = Basis::Held(stored);
                Ok(start::attempt(state, ledger, basis, start::ATTEMPTS).await?)
            }
            Turn::Behind(reason) => Ok(Attempt::Queued { reason }),
        };
    }
    if entry.state == ImportState::Failed && entry.task_run_id.is_none() {
        return Err(ImportError::RefusedEarlier {
            entry: format!("s3://{}/{entry_key}", ledger.bucket()),
            error: entry.error_string.clone().unwrap_or_default(),
        }
        .into());
    }
    Err(SkipReason::LedgerEntry {
        state: entry.state.to_string(),
        task_run_id: entry.task_run_id.clone(),
    }
    .into())
}
