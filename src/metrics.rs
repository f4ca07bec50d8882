//! One CloudWatch Embedded Metric Format line per invocation, on standard output: how many
//! records were imported, skipped (by reason) and failed (by class). CloudWatch Logs turns the
//! line into metrics in `METRICS_NAMESPACE` with the dimension `FunctionName`; no API call.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::outcome::{Outcome, SkipReason};
use crate::Config;

/// Every metric. All are written every time (zeros included), so
/// alarms and dashboards never see missing data.
pub const NAMES: [&str; 13] = [
    "Imported",
    "Skipped",
    "SkippedDuplicate",
    "SkippedStaleEvent",
    "SkippedObjectGone",
    "SkippedOutsidePrefix",
    "SkippedNoTransformSegment",
    "SkippedFolderMarker",
    "SkippedNotObjectCreated",
    "Failed",
    "FailedPermanent",
    "FailedRetryable",
    "FailedInvalidEvent",
];

/// The counts of one invocation.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Metrics {
    counts: [u64; NAMES.len()],
}

impl Metrics {
    /// Counts one record's outcome.
    pub fn record(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Imported(_) => self.add("Imported"),
            Outcome::Skipped(s) => {
                self.add("Skipped");
                self.add(skip_metric(&s.reason));
            }
            Outcome::Failed(f) => {
                self.add("Failed");
                self.add(if f.error.is_retryable() {
                    "FailedRetryable"
                } else {
                    "FailedPermanent"
                });
            }
        }
    }

    /// Counts a payload or SQS message body of no known shape.
    pub fn invalid_event(&mut self) {
        self.add("Failed");
        self.add("FailedInvalidEvent");
    }

    /// The count of one metric of [`NAMES`].
    pub fn get(&self, name: &str) -> u64 {
        NAMES
            .iter()
            .position(|n| *n == name)
            .map_or(0, |i| self.counts[i])
    }

    fn add(&mut self, name: &str) {
        if let Some(i) = NAMES.iter().position(|n| *n == name) {
            self.counts[i] += 1;
        }
    }

    /// The EMF document: `_aws` metadata, the `FunctionName` dimension and every count.
    pub fn to_emf(&self, namespace: &str, function_name: &str, timestamp_ms: u64) -> Value {
        let definitions: Vec<Value> = NAMES
            .iter()
            .map(|name| json!({"Name": name, "Unit": "Count"}))
            .collect();
        let mut line = Map::new();
        line.insert(
            "_aws".into(),
            json!({"Timestamp": timestamp_ms,
                   "CloudWatchMetrics": [{"Namespace": namespace,
                                          "Dimensions": [["FunctionName"]],
                                          "Metrics": definitions}]}),
        );
        line.insert("FunctionName".into(), json!(function_name));
        for (name, count) in NAMES.iter().zip(self.counts) {
            line.insert((*name).into(), json!(count));
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
        let mut out = std::io::stdout().lock();
        // A metrics line that cannot be written must not fail the invocation.
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    }
}

fn skip_metric(reason: &SkipReason) -> &'static str {
    match reason {
        SkipReason::ReceiptTag { .. }
        | SkipReason::GlueHistory { .. }
        | SkipReason::RepeatedInEvent => "SkippedDuplicate",
        SkipReason::StaleEvent { .. } => "SkippedStaleEvent",
        SkipReason::ObjectGone => "SkippedObjectGone",
        SkipReason::OutsidePrefix { .. } => "SkippedOutsidePrefix",
        SkipReason::NoTransformSegment { .. } => "SkippedNoTransformSegment",
        SkipReason::FolderMarker => "SkippedFolderMarker",
        SkipReason::NotObjectCreated(_) => "SkippedNotObjectCreated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Failed, ImportError, Imported, Skipped};

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

        let emf = m.to_emf("GlueLabelImporter", "fn-1", 1_795_946_400_000);
        let definitions: Vec<Value> = NAMES
            .iter()
            .map(|n| json!({"Name": n, "Unit": "Count"}))
            .collect();
        assert_eq!(
            emf,
            json!({"_aws": {"Timestamp": 1_795_946_400_000_u64, "CloudWatchMetrics": [{
                       "Namespace": "GlueLabelImporter", "Dimensions": [["FunctionName"]],
                       "Metrics": definitions}]},
                   "FunctionName": "fn-1",
                   "Imported": 1, "Skipped": 3, "SkippedDuplicate": 2, "SkippedStaleEvent": 0,
                   "SkippedObjectGone": 1, "SkippedOutsidePrefix": 0, "SkippedNoTransformSegment": 0,
                   "SkippedFolderMarker": 0, "SkippedNotObjectCreated": 0,
                   "Failed": 3, "FailedPermanent": 1, "FailedRetryable": 1, "FailedInvalidEvent": 1})
        );
    }
}
