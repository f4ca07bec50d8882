//! A lane's rules, without I/O: who has the turn, who waits and for what.
//!
//! - a **replace** when no earlier import of the transform runs or waits, and nothing else
//!   starts while it runs;
//! - an **append** when no replace runs, fewer than `MAX_IMPORTS_PER_TRANSFORM` imports run,
//!   and no earlier upload still waits (nothing overtakes);
//! - nothing while Glue reports an import of the transform that the lane does not know
//!   (started by hand or by another tool).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::aws::documents::Document;
use crate::aws::glue::ImportRun;
use crate::lifecycle::entry::Entry;
use crate::CLOCK_SKEW;

/// The lane format this build writes and reads.
pub const FORMAT: u32 = 1;

/// One transform's unfinished imports, in upload order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lane {
    pub format: u32,
    /// Raised by every write: the bytes of two versions always differ.
    pub revision: u64,
    pub transform_id: String,
    pub imports: Vec<Place>,
    /// An import Glue runs that the lane does not know, seen when turns were last given: it
    /// holds the lane until it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<Foreign>,
}

/// An import that Glue runs for the transform and the lane did not start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Foreign {
    pub task_run_id: String,
    pub input_s3_path: String,
}

/// One upload's place in its transform's lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Place {
    pub upload_id: String,
    pub input_s3_path: String,
    pub replace_all_labels: bool,
    /// When the upload joined the lane.
    pub joined_at: DateTime<Utc>,
    /// When the lane gave it its turn: from then on it may start (or has started).
    pub turn_at: Option<DateTime<Utc>>,
    /// Its task run, once the tick has seen it in the ledger entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_run_id: Option<String>,
}

impl Place {
    /// The place of an upload whose ledger entry is (or will be) `entry`.
    pub fn of(upload_id: &str, entry: &Entry, at: DateTime<Utc>) -> Place {
        Place {
            upload_id: upload_id.to_string(),
            input_s3_path: entry.input_s3_path.clone(),
            replace_all_labels: entry.replace_all_labels,
            joined_at: at,
            turn_at: None,
            task_run_id: entry.task_run_id.clone(),
        }
    }

    pub fn has_turn(&self) -> bool {
        self.turn_at.is_some()
    }

    fn describe(&self) -> String {
        let kind = if self.replace_all_labels {
            "replace"
        } else {
            "append"
        };
        match &self.task_run_id {
            Some(id) => format!("{kind} {} (task run {id})", self.input_s3_path),
            None => format!("{kind} {}", self.input_s3_path),
        }
    }
}

/// Whether an upload may start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    Go,
    /// Not yet: behind what the reason names.
    Behind(String),
}

impl Document for Lane {
    const NAME: &'static str = "lane";
    const FORMAT: u32 = FORMAT;
    fn revision_mut(&mut self) -> &mut u64 {
        &mut self.revision
    }
}

impl Lane {
    pub fn new(transform_id: &str) -> Lane {
        Lane {
            format: FORMAT,
            revision: 0,
            transform_id: transform_id.to_string(),
            imports: Vec::new(),
            held_by: None,
        }
    }

    /// Reads a lane, checking its format first.
    pub fn parse(bytes: &[u8]) -> Result<Lane, String> {
        crate::aws::documents::parse(bytes)
    }

    /// Whether an upload waits for its turn.
    pub fn has_waiting(&self) -> bool {
        self.imports.iter().any(|p| !p.has_turn())
    }

    pub fn place(&self, upload_id: &str) -> Option<&Place> {
        self.imports.iter().find(|p| p.upload_id == upload_id)
    }

    /// The waiting places that may take their turn now, in order, with `max` imports allowed
    /// to run side by side (a replace runs alone).
    pub fn next_turns(&self, max: usize) -> Vec<usize> {
        let mut running: Vec<bool> = self
            .imports
            .iter()
            .filter(|p| p.has_turn())
            .map(|p| p.replace_all_labels)
            .collect();
        let mut turns = Vec::new();
        for (i, place) in self.imports.iter().enumerate() {
            if place.has_turn() {
                continue;
            }
            let go = if place.replace_all_labels {
                running.is_empty()
            } else {
                !running.contains(&true) && running.len() < max
            };
            if !go {
                break; // nothing overtakes a waiting upload
            }
            running.push(place.replace_all_labels);
            turns.push(i);
        }
        turns
    }

    /// Gives turns as the rules allow, after Glue's word on the transform's recent imports
    /// (`recent`): a place whose import Glue shows ended (a run of its file started after its
    /// turn) leaves at once, without waiting for the tick to record the end; an import that has
    /// not ended and that the lane does not know holds the lane. The upload IDs that got their
    /// turn now.
    pub fn give_turns(
        &mut self,
        max: usize,
        recent: &[ImportRun],
        at: DateTime<Utc>,
    ) -> Vec<String> {
        let ended = |place: &Place| {
            place.turn_at.is_some_and(|turn| {
                recent.iter().any(|run| {
                    !run.active
                        && run.input_s3_path == place.input_s3_path
                        && run
                            .started_on
                            .is_some_and(|started| started >= turn - CLOCK_SKEW)
                })
            })
        };
        let before = self.imports.len();
        self.imports.retain(|p| !ended(p));
        if self.imports.len() < before {
            info!(
                transform_id = self.transform_id,
                freed = before - self.imports.len(),
                "lane: Glue shows imports ended; their places are free before the tick records the end"
            );
        }
        let known: HashSet<&str> = self
            .imports
            .iter()
            .filter(|p| p.has_turn())
            .map(|p| p.input_s3_path.as_str())
            .collect();
        self.held_by = recent
            .iter()
            .filter(|run| run.active)
            .find(|run| !known.contains(run.input_s3_path.as_str()))
            .map(|run| Foreign {
                task_run_id: run.task_run_id.clone(),
                input_s3_path: run.input_s3_path.clone(),
            });
        if self.held_by.is_some() {
            return Vec::new();
        }
        let turns = self.next_turns(max);
        turns
            .into_iter()
            .map(|i| {
                self.imports[i].turn_at = Some(at);
                self.imports[i].upload_id.clone()
            })
            .collect()
    }

    /// What a waiting upload waits for (`None` when it has its turn or is not in the lane).
    pub fn waits_for(&self, upload_id: &str) -> Option<String> {
        let index = self.imports.iter().position(|p| p.upload_id == upload_id)?;
        let place = &self.imports[index];
        if place.has_turn() {
            return None;
        }
        if let Some(f) = &self.held_by {
            return Some(format!(
                "waits for task run {} (an import of {} that glue-label-importer did not start) to end",
                f.task_run_id, f.input_s3_path
            ));
        }
        if let Some(earlier) = self.imports[..index].iter().rev().find(|p| !p.has_turn()) {
            return Some(format!(
                "waits behind the earlier upload {} (uploads of a transform start in upload order)",
                earlier.describe()
            ));
        }
        let running: Vec<String> = self
            .imports
            .iter()
            .filter(|p| p.has_turn())
            .map(Place::describe)
            .collect();
        let why = if place.replace_all_labels {
            "a replace starts when nothing else of its transform runs"
        } else if self
            .imports
            .iter()
            .any(|p| p.has_turn() && p.replace_all_labels)
        {
            "nothing starts while a replace runs"
        } else {
            "MAX_IMPORTS_PER_TRANSFORM imports already run"
        };
        Some(format!("waits for {} to end ({why})", running.join(", ")))
    }

    /// Notes the task run of an upload's place from its ledger entry (the lane itself learns
    /// task runs only when the tick writes it).
    pub fn note_task_run(&mut self, upload_id: &str, entry: &Entry) {
        if let (Some(place), Some(id)) = (
            self.imports.iter_mut().find(|p| p.upload_id == upload_id),
            &entry.task_run_id,
        ) {
            place.task_run_id = Some(id.clone());
        }
    }

    /// The place among the waiting uploads (1 = next), or `None` for one with its turn.
    pub fn waiting_place(&self, upload_id: &str) -> Option<usize> {
        self.imports
            .iter()
            .filter(|p| !p.has_turn())
            .position(|p| p.upload_id == upload_id)
            .map(|i| i + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(id: &str, replace: bool, turn: bool) -> Place {
        Place {
            upload_id: id.into(),
            input_s3_path: format!("s3://b/labels/t/{id}.csv"),
            replace_all_labels: replace,
            joined_at: DateTime::default(),
            turn_at: turn.then(DateTime::default),
            task_run_id: None,
        }
    }

    fn lane(places: Vec<Place>) -> Lane {
        Lane {
            imports: places,
            ..Lane::new("t")
        }
    }

    #[test]
    fn appends_take_turns_up_to_the_maximum_in_order() {
        let l = lane(vec![
            place("a", false, false),
            place("b", false, false),
            place("c", false, false),
            place("d", false, false),
        ]);
        assert_eq!(l.next_turns(1), vec![0]);
        assert_eq!(l.next_turns(3), vec![0, 1, 2]);
        let l = lane(vec![place("a", false, true), place("b", false, false)]);
        assert_eq!(l.next_turns(1), Vec::<usize>::new());
        assert_eq!(l.next_turns(2), vec![1]);
    }

    #[test]
    fn a_replace_runs_alone_and_nothing_overtakes_it() {
        // A replace behind a running append waits, and so does the append behind it.
        let l = lane(vec![
            place("a", false, true),
            place("r", true, false),
            place("b", false, false),
        ]);
        assert_eq!(l.next_turns(3), Vec::<usize>::new());
        // A replace first: it alone.
        let l = lane(vec![place("r", true, false), place("b", false, false)]);
        assert_eq!(l.next_turns(3), vec![0]);
        // While a replace runs nothing starts.
        let l = lane(vec![place("r", true, true), place("b", false, false)]);
        assert_eq!(l.next_turns(3), Vec::<usize>::new());
        // Appends then a replace: the appends go, the replace waits.
        let l = lane(vec![
            place("a", false, false),
            place("b", false, false),
            place("r", true, false),
        ]);
        assert_eq!(l.next_turns(3), vec![0, 1]);
    }

    #[test]
    fn an_unknown_import_holds_the_lane() {
        let mut l = lane(vec![place("a", false, true), place("b", false, false)]);
        let run = |id: &str, path: &str, active: bool| ImportRun {
            task_run_id: id.into(),
            input_s3_path: path.into(),
            status: if active { "RUNNING" } else { "SUCCEEDED" }.into(),
            active,
            started_on: Some(DateTime::default()),
        };
        let active = [
            run("tsk-a", "s3://b/labels/t/a.csv", true),
            run("tsk-hand", "s3://b/by-hand.csv", true),
        ];
        assert_eq!(
            l.give_turns(3, &active, DateTime::default()),
            Vec::<String>::new()
        );
        assert_eq!(
            l.waits_for("b").unwrap(),
            "waits for task run tsk-hand (an import of s3://b/by-hand.csv that glue-label-importer did not start) to end"
        );
        // Once only known imports run, turns are given again.
        assert_eq!(
            l.give_turns(3, &active[..1], DateTime::default()),
            vec!["b"]
        );
        assert_eq!(l.held_by, None);
        // Glue shows a's import ended (started after its turn): its place goes at once.
        let mut l = lane(vec![place("a", false, true), place("b", false, false)]);
        let ended = [run("tsk-a", "s3://b/labels/t/a.csv", false)];
        assert_eq!(l.give_turns(1, &ended, DateTime::default()), vec!["b"]);
        assert_eq!(l.imports.len(), 1);
        // An ended run of the same file from before the turn is another upload's: a stays.
        let mut l = lane(vec![place("a", false, true), place("b", false, false)]);
        let earlier = ImportRun {
            started_on: DateTime::from_timestamp(-60, 0),
            ..ended[0].clone()
        };
        assert_eq!(
            l.give_turns(1, &[earlier], DateTime::default()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_waiting_upload_says_what_it_waits_for() {
        let mut running = place("a", true, true);
        running.task_run_id = Some("tsk-1".into());
        let l = lane(vec![
            running,
            place("b", false, false),
            place("c", false, false),
        ]);
        assert_eq!(
            l.waits_for("b").unwrap(),
            "waits for replace s3://b/labels/t/a.csv (task run tsk-1) to end (nothing starts while a replace runs)"
        );
        assert_eq!(
            l.waits_for("c").unwrap(),
            "waits behind the earlier upload append s3://b/labels/t/b.csv (uploads of a transform start in upload order)"
        );
        assert_eq!(l.waits_for("a"), None);
        assert_eq!(
            (l.waiting_place("b"), l.waiting_place("c")),
            (Some(1), Some(2))
        );
    }
}
