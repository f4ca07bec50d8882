//! The loop's steps by hand for one transform (`import-labels evaluate` and `generate`),
//! through the tick's own exactly-once path: the same compare-and-set marks, the same one send
//! without the SDK's retry, the same look at Glue's history before a second attempt.
//!
//! ```text
//!  evaluate ─► a round being evaluated? ── yes: move it on (Following)
//!                  └ no ─► an import waiting or running? ── yes: refused (its labels would be left out)
//!                              └ no ─► new labels, parameters or imports since the latest round?
//!                                        ├ no: Unchanged
//!                                        └ yes: open + mark (one write) ─► send once (Started)
//!  generate ─► the labeling set after the latest round (round 0: a new transform)
//!                  ├ ended: Unchanged        ├ in flight: move it on (Following)
//!                  └ none: attach + mark (one write) ─► send once (Started)
//! ```
//!
//! Both open the transform's loop marker before they start anything, so a tick with the loop on
//! follows what they started; `advance_round` / `advance_labeling_set` do one tick's worth for
//! `--wait`, and `settle` closes the marker once nothing is left to do.

use crate::lifecycle::lane;
use crate::lifecycle::ledger::Ledger;
use crate::teaching::follow::{self, Due, LoopResult, StepError};
use crate::teaching::rounds::{is_final, Generation, Round, RoundState, Rounds};
use crate::State;

/// What asking by hand found, with the round it concerns (0: before the first round).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// This call opened the round (or attached the labeling set) and sent its start, or
    /// recorded why it could not (NOT_READY, deferred for Glue's quota).
    Started(u32),
    /// It was already under way (another call or a tick started it): this call moved it on.
    Following(u32),
    /// Nothing new to do: the latest round measured these very labels, or its labeling set
    /// was generated.
    Unchanged(u32),
}

impl Asked {
    pub fn number(self) -> u32 {
        match self {
            Asked::Started(n) | Asked::Following(n) | Asked::Unchanged(n) => n,
        }
    }
}

/// Why a step by hand did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ByHandError {
    #[error("{uploads} of {transform_id} is waiting or running: an evaluation now would leave its labels out. Run this again once it ended (import-labels status --transform-id {transform_id} --bucket {bucket})")]
    Importing {
        transform_id: String,
        bucket: String,
        uploads: String,
    },
    #[error(transparent)]
    Step(#[from] StepError),
}

impl From<crate::aws::documents::LedgerError> for ByHandError {
    fn from(e: crate::aws::documents::LedgerError) -> Self {
        ByHandError::Step(e.into())
    }
}

/// Evaluates the transform now: moves on the round being evaluated, or opens a round when
/// there is something new to measure and sends its evaluation exactly once.
pub async fn evaluate(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
) -> Result<Asked, ByHandError> {
    let mut result = LoopResult::default();
    let rounds = read(ledger, transform_id).await?;
    if let Some(round) = rounds.evaluating().cloned() {
        keep_marker(ledger, transform_id).await?;
        follow::advance_evaluation(state, ledger, transform_id, &round, &mut result).await?;
        return Ok(Asked::Following(round.number));
    }
    let lane = lane::load(ledger, transform_id).await?;
    let uploads = match (lane.imports.len(), &lane.held_by) {
        (0, None) => None,
        (0, Some(foreign)) => Some(format!("an import ({})", foreign.task_run_id)),
        (1, _) => Some(format!("an upload ({})", lane.imports[0].upload_id)),
        (n, _) => Some(format!("{n} uploads")),
    };
    if let Some(uploads) = uploads {
        return Err(ByHandError::Importing {
            transform_id: transform_id.to_string(),
            bucket: ledger.bucket().to_string(),
            uploads,
        });
    }
    keep_marker(ledger, transform_id).await?;
    let opened = follow::open_round(state, ledger, transform_id, Due::ByHand, &mut result).await?;
    let rounds = read(ledger, transform_id).await?;
    Ok(match (opened, rounds.evaluating()) {
        (Some(number), _) => Asked::Started(number),
        (None, Some(round)) => Asked::Following(round.number), // opened by another
        (None, None) => Asked::Unchanged(rounds.latest_number()),
    })
}

/// One tick's worth for round `number` (follow its evaluation, or start it once when
/// deferred); the round as it stands after.
pub async fn advance_round(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
    number: u32,
) -> Result<Option<Round>, ByHandError> {
    let rounds = read(ledger, transform_id).await?;
    if let Some(round) = rounds
        .round(number)
        .filter(|r| r.state == RoundState::Evaluating)
    {
        let mut result = LoopResult::default();
        follow::advance_evaluation(state, ledger, transform_id, round, &mut result).await?;
    }
    Ok(read(ledger, transform_id).await?.round(number).cloned())
}

/// Generates the labeling set after the latest round (round 0 for a new transform, so its
/// first labeling set) exactly once, whatever the stop rule says; moves it on when it is under
/// way.
pub async fn generate(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
) -> Result<Asked, ByHandError> {
    let mut result = LoopResult::default();
    let rounds = read(ledger, transform_id).await?;
    let number = rounds.latest_number();
    let (current, create) = match rounds.generation(number).cloned() {
        Some(set) if set.run.status.as_deref() == Some("SUCCEEDED") => {
            return Ok(Asked::Unchanged(number));
        }
        Some(set) if !ended(&set) => (set, None),
        // None yet, or the last one FAILED or was refused: asked by hand, it is made anew.
        _ => (
            follow::labeling_set_after(state, ledger, transform_id, number),
            Some(Due::ByHand),
        ),
    };
    keep_marker(ledger, transform_id).await?;
    let sent = follow::advance_generation(
        state,
        ledger,
        transform_id,
        number,
        current,
        create,
        &mut result,
    )
    .await?;
    Ok(if sent {
        Asked::Started(number)
    } else {
        Asked::Following(number)
    })
}

fn ended(set: &Generation) -> bool {
    set.run.status.as_deref().is_some_and(is_final)
}

/// One tick's worth for the labeling set after round `number`; the set as it stands after.
pub async fn advance_labeling_set(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
    number: u32,
) -> Result<Option<Generation>, ByHandError> {
    let rounds = read(ledger, transform_id).await?;
    if let Some(set) = rounds.generation(number).cloned() {
        if !ended(&set) {
            let mut result = LoopResult::default();
            follow::advance_generation(state, ledger, transform_id, number, set, None, &mut result)
                .await?;
        }
    }
    Ok(read(ledger, transform_id)
        .await?
        .generation(number)
        .cloned())
}

async fn read(ledger: &Ledger<'_>, transform_id: &str) -> Result<Rounds, ByHandError> {
    let key = ledger.rounds_key(transform_id);
    Ok(ledger
        .documents()
        .get::<Rounds>(&key)
        .await?
        .map_or_else(|| Rounds::new(transform_id), |held| held.value))
}

/// Closes the transform's loop marker when the loop has nothing left to do for it (after
/// `--wait`; a tick with the loop on would, and with it off none looks).
pub async fn settle(
    state: &State,
    ledger: &Ledger<'_>,
    transform_id: &str,
) -> Result<(), ByHandError> {
    let generates = state.config.teaching_loop.generates();
    if read(ledger, transform_id).await?.is_idle(generates) {
        follow::close_marker(ledger, transform_id, generates).await?;
    }
    Ok(())
}

/// Opens the transform's loop marker (if it is not open), so the tick follows the step.
async fn keep_marker(ledger: &Ledger<'_>, transform_id: &str) -> Result<(), ByHandError> {
    Ok(ledger
        .documents()
        .create_empty(&ledger.loop_marker_key(transform_id))
        .await?)
}
