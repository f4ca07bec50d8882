//! One CloudWatch Embedded Metric Format line per invocation, on standard output: how many
//! records were imported, queued, skipped (by reason) and failed (by class), how many imports a
//! tick saw end (succeeded, failed) with their upload-to-end seconds, and on a tick's line the
//! uploads still waiting (`Queued`) and the oldest one's wait (`OldestQueuedSeconds`). CloudWatch Logs turns the
//! line into metrics in `METRICS_NAMESPACE` with the dimension `FunctionName`; no API call.
//! Each round the teaching loop evaluated adds one line with the dimension `TransformId`: its
//! `AreaUnderPRCurve`, `Precision`, `Recall`, `F1` and `LabelCount` (the ones Glue gave).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::lifecycle::entry::ImportState;
use crate::upload::outcome::{ImportError, Outcome, SkipReason};
use crate::Config;

/// The counts of one invocation. Every metric is written every time (zeros included), so
/// alarms and dashboards never see missing data; `ImportSeconds` only when an import ended,
/// `Queued` and `OldestQueuedSeconds` only on a tick's line (they describe the ledger, not the
/// invocation).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Metrics {
    imported: u64,
    /// Records that wait for their turn (lane or Glue's quota).
    queued_uploads: u64,
    skipped_duplicate: u64,
    skipped_stale_event: u64,
    skipped_object_gone: u64,
    skipped_outside_prefix: u64,
    skipped_no_transform_segment: u64,
    skipped_folder_marker: u64,
    skipped_not_object_created: u64,
    failed_permanent: u64,
    failed_retryable: u64,
    failed_invalid_event: u64,
    import_succeeded: u64,
    import_failed: u64,
    /// Upload-to-end seconds of every import that ended.
    import_seconds: Vec<f64>,
    /// A tick's view of the waiting uploads: how many, and the oldest one's wait in seconds.
    queue: Option<(u64, f64)>,
    /// The rounds a tick evaluated, one line each.
    rounds: Vec<RoundFigures>,
}

/// One evaluated round's figures, for its transform's line.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundFigures {
    pub transform_id: String,
    pub area_under_pr_curve: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub label_count: Option<i64>,
}

impl RoundFigures {
    /// Each figure Glue gave, by metric name, and its unit.
    fn figures(&self) -> Vec<(&'static str, &'static str, Value)> {
        [
            (
                "AreaUnderPRCurve",
                self.area_under_pr_curve.map(|x| json!(x)),
            ),
            ("Precision", self.precision.map(|x| json!(x))),
            ("Recall", self.recall.map(|x| json!(x))),
            ("F1", self.f1.map(|x| json!(x))),
            ("LabelCount", self.label_count.map(|x| json!(x))),
        ]
        .into_iter()
        .filter_map(|(name, value)| {
            let unit = if name == "LabelCount" {
                "Count"
            } else {
                "None"
            };
            value.map(|v| (name, unit, v))
        })
        .collect()
    }
}

impl Metrics {
    /// Counts one record's outcome.
    pub fn record(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Imported(_) => self.imported += 1,
            Outcome::Queued(_) => self.queued_uploads += 1,
            Outcome::Skipped(s) => *self.skipped(&s.reason) += 1,
            Outcome::Failed(f) => self.failure(&f.error),
        }
    }

    /// Counts a failure to start an import (a record's, or a tick's).
    pub fn failure(&mut self, error: &ImportError) {
        if error.is_retryable() {
            self.failed_retryable += 1;
        } else {
            self.failed_permanent += 1;
        }
    }

    /// Counts an import that ended: SUCCEEDED, or FAILED / STOPPED / TIMEOUT.
    pub fn import_ended(&mut self, state: ImportState, upload_to_end_seconds: Option<f64>) {
        if state == ImportState::Succeeded {
            self.import_succeeded += 1;
        } else {
            self.import_failed += 1;
        }
        self.import_seconds.extend(upload_to_end_seconds);
    }

    /// A tick's count of uploads waiting (QUEUED) and the oldest one's wait since its upload.
    pub fn queue(&mut self, waiting: u64, oldest_seconds: f64) {
        self.queue = Some((waiting, oldest_seconds));
    }

    /// A round the teaching loop evaluated: its transform gets a line of its figures.
    pub fn round_evaluated(&mut self, figures: RoundFigures) {
        self.rounds.push(figures);
    }

    /// One EMF document per evaluated round, with the dimension `TransformId` (a figure Glue
    /// did not give is left out, never written as 0).
    pub fn rounds_to_emf(&self, namespace: &str, timestamp_ms: u64) -> Vec<Value> {
        self.rounds
            .iter()
            .map(|round| {
                let figures = round.figures();
                let definitions: Vec<Value> = figures
                    .iter()
                    .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
                    .collect();
                let mut line = Map::new();
                line.insert(
                    "_aws".into(),
                    json!({"Timestamp": timestamp_ms,
                           "CloudWatchMetrics": [{"Namespace": namespace,
                                                  "Dimensions": [["TransformId"]],
                                                  "Metrics": definitions}]}),
                );
                line.insert("TransformId".into(), json!(round.transform_id));
                for (name, _, value) in figures {
                    line.insert(name.into(), value);
                }
                Value::Object(line)
            })
            .collect()
    }

    /// Counts a payload or SQS message body of no known shape.
    pub fn invalid_event(&mut self) {
        self.failed_invalid_event += 1;
    }

    fn skipped(&mut self, reason: &SkipReason) -> &mut u64 {
        match reason {
            SkipReason::ReceiptTag { .. }
            | SkipReason::GlueHistory { .. }
            | SkipReason::RepeatedInEvent
            | SkipReason::LedgerEntry { .. }
            | SkipReason::StartInFlight { .. } => &mut self.skipped_duplicate,
            SkipReason::StaleEvent { .. } => &mut self.skipped_stale_event,
            SkipReason::ObjectGone => &mut self.skipped_object_gone,
            SkipReason::OutsidePrefix { .. } => &mut self.skipped_outside_prefix,
            SkipReason::NoTransformSegment { .. } => &mut self.skipped_no_transform_segment,
            SkipReason::FolderMarker => &mut self.skipped_folder_marker,
            SkipReason::NotObjectCreated(_) => &mut self.skipped_not_object_created,
        }
    }

    /// Every metric's name and count; the totals are the sums of their parts.
    pub fn counts(&self) -> [(&'static str, u64); 16] {
        let skipped = self.skipped_duplicate
            + self.skipped_stale_event
            + self.skipped_object_gone
            + self.skipped_outside_prefix
            + self.skipped_no_transform_segment
            + self.skipped_folder_marker
            + self.skipped_not_object_created;
        let failed = self.failed_permanent + self.failed_retryable + self.failed_invalid_event;
        [
            ("Imported", self.imported),
            ("ImportQueued", self.queued_uploads),
            ("Skipped", skipped),
            ("SkippedDuplicate", self.skipped_duplicate),
            ("SkippedStaleEvent", self.skipped_stale_event),
            ("SkippedObjectGone", self.skipped_object_gone),
            ("SkippedOutsidePrefix", self.skipped_outside_prefix),
            (
                "SkippedNoTransformSegment",
                self.skipped_no_transform_segment,
            ),
            ("SkippedFolderMarker", self.skipped_folder_marker),
            ("SkippedNotObjectCreated", self.skipped_not_object_created),
            ("Failed", failed),
            ("FailedPermanent", self.failed_permanent),
            ("FailedRetryable", self.failed_retryable),
            ("FailedInvalidEvent", self.failed_invalid_event),
            ("ImportSucceeded", self.import_succeeded),
            ("ImportFailed", self.import_failed),
        ]
    }

    /// The EMF document: `_aws` metadata, the `FunctionName` dimension and every count.
    pub fn to_emf(&self, namespace: &str, function_name: &str, timestamp_ms: u64) -> Value {
        let counts = self.counts();
        let mut definitions: Vec<Value> = counts
            .iter()
            .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
            .collect();
        if !self.import_seconds.is_empty() {
            definitions.push(json!({"Name": "ImportSeconds", "Unit": "Seconds"}));
        }
        if self.queue.is_some() {
            definitions.push(json!({"Name": "Queued", "Unit": "Count"}));
            definitions.push(json!({"Name": "OldestQueuedSeconds", "Unit": "Seconds"}));
        }
        let mut line = Map::new();
        line.insert(
            "_aws".into(),
            json!({"Timestamp": timestamp_ms,
                   "CloudWatchMetrics": [{"Namespace": namespace,
                                          "Dimensions": [["FunctionName"]],
                                          "Metrics": definitions}]}),
        );
        line.insert("FunctionName".into(), json!(function_name));
        for (name, count) in counts {
            line.insert(name.into(), json!(count));
        }
        if !self.import_seconds.is_empty() {
            line.insert("ImportSeconds".into(), json!(self.import_seconds));
        }
        if let Some((waiting, oldest)) = self.queue {
            line.insert("Queued".into(), json!(waiting));
            line.insert("OldestQueuedSeconds".into(), json!(oldest));
        }
        Value::Object(line)
    }

    /// Writes the line to standard output (CloudWatch Logs reads EMF from there, in text and
    /// JSON log format alike).
    pub fn emit(&self, config: &Config) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let line = self.to_emf(&config.metrics_namespace, &config.function_name, now);
        let rounds = self.rounds_to_emf(&config.metrics_namespace, now);
        let mut out = std::io::stdout().lock();
        // A metrics line that cannot be written must not fail the invocation.
        for line in std::iter::once(line).chain(rounds) {
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_evaluated_round_gets_a_line_of_the_figures_glue_gave() {
        let mut metrics = Metrics::default();
        assert_eq!(metrics.rounds_to_emf("NS", 7), Vec::<Value>::new());
        metrics.round_evaluated(RoundFigures {
            transform_id: "tfm-1".into(),
            area_under_pr_curve: Some(0.8314),
            precision: None,
            recall: Some(0.7649),
            f1: None,
            label_count: Some(200),
        });
        assert_eq!(
            metrics.rounds_to_emf("NS", 7),
            [json!({
                "_aws": {"Timestamp": 7, "CloudWatchMetrics": [{"Namespace": "NS",
                    "Dimensions": [["TransformId"]],
                    "Metrics": [{"Name": "AreaUnderPRCurve", "Unit": "None"},
                                {"Name": "Recall", "Unit": "None"},
                                {"Name": "LabelCount", "Unit": "Count"}]}]},
                "TransformId": "tfm-1", "AreaUnderPRCurve": 0.8314, "Recall": 0.7649,
                "LabelCount": 200
            })]
        );
    }
    use crate::upload::outcome::{Failed, ImportError, Imported, Queued, Skipped};

    fn skipped(reason: SkipReason) -> Outcome {
        Outcome::Skipped(Skipped {
            bucket: "b".into(),
            key: "k".into(),
            transform_id: None,
            reason,
        })
    }

    fn failed(error: ImportError) -> Outcome {
        Outcome::Failed(Failed {
            bucket: "b".into(),
            key: "k".into(),
            transform_id: None,
            error,
        })
    }

    #[test]
    fn counts_outcomes_by_reason_and_class_into_one_emf_document() {
        let mut m = Metrics::default();
        m.record(&Outcome::Imported(Imported {
            bucket: "b".into(),
            key: "k".into(),
            transform_id: "t".into(),
            input_s3_path: "s3://b/k".into(),
            replace_all_labels: false,
            task_run_id: "tsk".into(),
            ledger_entry: "s3://b/glue-label-importer/entries/t/0.json".into(),
            warnings: vec![],
        }));
        m.record(&skipped(SkipReason::RepeatedInEvent));
        m.record(&skipped(SkipReason::ReceiptTag {
            task_run_id: "tsk".into(),
        }));
        m.record(&skipped(SkipReason::ObjectGone));
        m.record(&failed(ImportError::EmptyFile));
        m.record(&failed(ImportError::S3 {
            operation: "HeadObject",
            message: "503".into(),
        }));
        m.invalid_event();
        m.import_ended(ImportState::Succeeded, Some(12.5));
        m.import_ended(ImportState::Timeout, Some(3600.0));
        m.import_ended(ImportState::Failed, None);
        m.record(&Outcome::Queued(Queued {
            bucket: "b".into(),
            key: "k2".into(),
            transform_id: "t".into(),
            input_s3_path: "s3://b/k2".into(),
            replace_all_labels: false,
            reason: "waits".into(),
            ledger_entry: "s3://b/glue-label-importer/entries/t/1.json".into(),
        }));
        m.queue(2, 95.5);

        let emf = m.to_emf("GlueLabelImporter", "fn-1", 1_795_946_400_000);
        let mut definitions: Vec<Value> = Metrics::default()
            .counts()
            .iter()
            .map(|(n, _)| json!({"Name": n, "Unit": "Count"}))
            .collect();
        assert_eq!(definitions.len(), 16);
        definitions.push(json!({"Name": "ImportSeconds", "Unit": "Seconds"}));
        definitions.push(json!({"Name": "Queued", "Unit": "Count"}));
        definitions.push(json!({"Name": "OldestQueuedSeconds", "Unit": "Seconds"}));
        assert_eq!(
            emf,
            json!({"_aws": {"Timestamp": 1_795_946_400_000_u64, "CloudWatchMetrics": [{
                       "Namespace": "GlueLabelImporter", "Dimensions": [["FunctionName"]],
                       "Metrics": definitions}]},
                   "FunctionName": "fn-1",
                   "Imported": 1, "ImportQueued": 1, "Skipped": 3, "SkippedDuplicate": 2, "SkippedStaleEvent": 0,
                   "SkippedObjectGone": 1, "SkippedOutsidePrefix": 0, "SkippedNoTransformSegment": 0,
                   "SkippedFolderMarker": 0, "SkippedNotObjectCreated": 0,
                   "Failed": 3, "FailedPermanent": 1, "FailedRetryable": 1, "FailedInvalidEvent": 1,
                   "ImportSucceeded": 1, "ImportFailed": 2, "ImportSeconds": [12.5, 3600.0],
                   "Queued": 2, "OldestQueuedSeconds": 95.5})
        );
    }

    #[test]
    fn import_seconds_are_left_out_when_no_import_ended() {
        let emf = Metrics::default().to_emf("N", "f", 0);
        assert!(emf.get("ImportSeconds").is_none());
        let names: Vec<&str> = emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert!(!names.contains(&"ImportSeconds"));
        assert!(!names.contains(&"Queued") && emf.get("OldestQueuedSeconds").is_none());
        assert_eq!(
            (&emf["ImportSucceeded"], &emf["ImportFailed"]),
            (&json!(0), &json!(0))
        );
    }
}
