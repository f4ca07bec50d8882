//! Lanes: one transform's imports start one after another, in upload order, within Glue's
//! quota.
//!
//! A lane is one small JSON document per transform in the ledger,
//! `<LEDGER_PREFIX>lanes/<transform-id>.json`, listing the transform's unfinished imports in
//! the order their uploads reached the function ([`Place`]s). An import starts only when the
//! lane gives it its **turn**; the rules are in [`rules`], without I/O.
//!
//! Every change goes through the compare-and-set loop of [`Documents::update`]: a writer that
//! loses reads the lane again and retries. No lock is held between writes, so a writer that
//! dies blocks nothing; a place whose upload never got its ledger entry (its delivery died in
//! between) is dropped by the tick after `START_LEASE_SECONDS`. Transforms never wait for each
//! other: each has its own lane.

pub mod rules;

use std::collections::HashSet;

use tracing::info;

#[cfg(doc)]
use crate::aws::documents::Documents;
use crate::aws::documents::{Snapshot, Updated};
use crate::aws::glue::{self, Recent};
use crate::lifecycle::entry::{Entry, ImportState};
pub use crate::lifecycle::lane::rules::{Foreign, Lane, Place, Turn, FORMAT};
use crate::lifecycle::ledger::{Ledger, LedgerError, Stored};
use crate::upload::outcome::ImportError;
use crate::State;

/// The transform's lane (an empty one when there is none yet).
pub async fn load(ledger: &Ledger<'_>, transform_id: &str) -> Result<Lane, LedgerError> {
    let key = ledger.lane_key(transform_id);
    let stored = ledger.documents().get(&key).await?;
    Ok(stored.map_or_else(|| Lane::new(transform_id), |v| v.value))
}

/// Changes a lane with compare-and-set: lets `change` edit it and gives the turns the rules
/// allow, after Glue's word on the transform's recent imports. `recent` is that word when the
/// caller has it; else Glue is asked only when an upload waits (or an unknown import held the
/// lane), and the lane is changed once Glue has answered. `snapshot` is the lane as read
/// beside other requests, if it was. The lane as it stands after.
async fn change(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
    (mut recent, mut snapshot): (Option<Recent>, Option<Snapshot>),
    mut change: impl FnMut(&mut Lane),
) -> Result<Lane, ImportError> {
    let key = ledger.lane_key(transform_id);
    let max = state.config.max_imports_per_transform;
    loop {
        let mut needs_glue = false;
        let snapshot = match snapshot.take() {
            Some(snapshot) => snapshot,
            None => ledger.documents().snapshot(&key).await?,
        };
        let updated = ledger
            .documents()
            .update_from(
                &key,
                snapshot,
                || Some(Lane::new(transform_id)),
                |lane| {
                    let before = lane.clone();
                    change(lane);
                    if !lane.has_waiting() && lane.held_by.is_none() {
                        return;
                    }
                    let Some(runs) = recent.as_ref().map(|r| r.runs.as_slice()) else {
                        *lane = before; // changed once Glue has answered
                        needs_glue = true;
                        return;
                    };
                    let given = lane.give_turns(max, runs, crate::now());
                    if !given.is_empty() {
                        info!(transform_id, turns = ?given, "lane: turns given");
                    }
                },
            )
            .await?;
        if !needs_glue {
            return Ok(match updated {
                Updated::Written(v) | Updated::Unchanged(v) => v.value,
                Updated::Gone => Lane::new(transform_id),
            });
        }
        recent = Some(glue::recent_imports(state, transform_id).await?);
    }
}

/// Joins the upload's lane (a later delivery finds its place) and says whether it may start
/// now, or what it waits for. `recent` is Glue's word on the transform's imports (a joining
/// upload waits, so it is needed), `snapshot` the lane if it was read already.
pub async fn join(
    state: &State,
    ledger: &Ledger<'_>,
    upload_id: &str,
    entry: &Entry,
    (recent, snapshot): (Recent, Option<Snapshot>),
) -> Result<Turn, ImportError> {
    let place = Place::of(upload_id, entry, crate::now());
    let seen = (Some(recent), snapshot);
    let lane = change(state, ledger, &entry.transform_id, seen, |lane| {
        if lane.place(upload_id).is_none() {
            lane.imports.push(place.clone());
        }
    })
    .await?;
    turn_of(ledger, &lane, upload_id).await
}

/// The upload's turn in `lane`; for a waiting one, what it waits for, naming the task run ahead
/// of it when its ledger entry tells.
async fn turn_of(ledger: &Ledger<'_>, lane: &Lane, upload_id: &str) -> Result<Turn, ImportError> {
    if lane.place(upload_id).is_some_and(Place::has_turn) {
        return Ok(Turn::Go);
    }
    // Name the task runs ahead: the lane learns them only at the tick, their entries know.
    let mut named = lane.clone();
    for place in named
        .imports
        .iter_mut()
        .filter(|p| p.has_turn() && p.task_run_id.is_none())
    {
        let key = ledger.entry_key(&lane.transform_id, &place.upload_id);
        if let Ok(Some(stored)) = ledger.get(&key).await {
            place.task_run_id = stored.value.task_run_id;
        }
    }
    Ok(Turn::Behind(named.waits_for(upload_id).unwrap_or_else(
        || "waits for its turn in the transform's lane".to_string(),
    )))
}

/// What the tick knows of one transform's open imports.
#[derive(Debug, Default)]
pub struct OpenImports {
    /// Uploads whose entries are open: upload ID and the entry as read.
    pub open: Vec<(String, Stored)>,
    /// Uploads whose imports ended, or that will never have an entry: their places go.
    pub gone: HashSet<String>,
    /// Uploads the tick could not read this time: their places stay as they are.
    pub unknown: HashSet<String>,
}

/// The tick's reconciliation of a lane with the ledger: places of ended uploads go, open
/// entries the lane lacks join it (a started one with its turn), places without an entry
/// older than `lease` go, task runs are noted, and turns are given. The lane as written.
pub async fn reconcile(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
    imports: &OpenImports,
) -> Result<Lane, ImportError> {
    let lease = chrono::Duration::from_std(state.config.start_lease).unwrap_or_default();
    let now = crate::now();
    // Queued entries wait in the lane: Glue's word is needed, asked before the lane is read.
    let recent = match imports
        .open
        .iter()
        .any(|(_, s)| s.value.state == ImportState::Queued)
    {
        true => Some(glue::recent_imports(state, transform_id).await?),
        false => None,
    };
    change(state, ledger, transform_id, (recent, None), |lane| {
        let open: HashSet<&str> = imports.open.iter().map(|(id, _)| id.as_str()).collect();
        lane.imports.retain(|p| {
            let id = p.upload_id.as_str();
            !imports.gone.contains(id)
                && (open.contains(id) || imports.unknown.contains(id) || now - p.joined_at < lease)
        });
        let mut missing: Vec<(&String, &Entry)> = imports
            .open
            .iter()
            .filter(|(id, _)| lane.place(id).is_none())
            .map(|(id, s)| (id, &s.value))
            .collect();
        missing.sort_by_key(|(_, e)| e.uploaded_at);
        for (id, entry) in missing {
            let mut place = Place::of(id, entry, now);
            if entry.state != ImportState::Queued {
                // It started without a turn (before lanes existed): it holds the lane.
                place.turn_at = Some(now);
                lane.imports.insert(0, place);
            } else {
                lane.imports.push(place);
            }
        }
        for (id, stored) in &imports.open {
            lane.note_task_run(id, &stored.value);
        }
    })
    .await
}
