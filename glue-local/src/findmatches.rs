//! glue-local's FindMatches model: when a transform is `READY`, what an evaluation measures and
//! what a labeling-set generation writes. It is small and deterministic, so that a test can
//! state exact figures, and it is enough to teach a transform end to end. It is not Glue's
//! algorithm.
//!
//! - **Readiness.** A transform is `READY` while its `LabelCount` is at least
//!   `Settings::ready_label_count` (`--ready-label-count`, 10 by default), else `NOT_READY`.
//! - **Quality** ([`metrics`]), with `n` = `LabelCount` when the evaluation starts and `t` =
//!   `PrecisionRecallTradeoff` (0.5 when unset), every figure rounded to 4 decimals:
//!
//!   ```text
//!   AreaUnderPRCurve = 0.95 − 0.45 · e^(−n / 150)          (rises with labels and flattens)
//!   Precision        = min(1, AUPRC · (0.9 + 0.2 · t))
//!   Recall           = min(1, AUPRC · (1.1 − 0.2 · t))
//!   F1               = 2 · Precision · Recall / (Precision + Recall)
//!   ConfusionMatrix  : 1,000 test pairs, 100 of them matches:
//!                      TP = round(100 · Recall), FN = 100 − TP,
//!                      FP = round(TP · (1 − Precision) / Precision), TN = 900 − FP
//!   ColumnImportances: the source columns but the primary key, in order: 0.5, 0.25, 0.125, …
//!   ```
//! - **A labeling set** ([`labeling_file`]): ten labeling sets of ten consecutive source
//!   records, `labeling_set_id,label,<source columns>` with the `label` column empty. Each
//!   generation of a transform starts where the previous one ended, wrapping around. The
//!   source records are the transform's input table as `POST /_glue-local/tables` set it,
//!   or else [`synthetic_table`].

use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Labeling sets per generated file, and records per set.
pub const SETS_PER_FILE: usize = 10;
pub const RECORDS_PER_SET: usize = 10;

/// A source table: its columns and rows, as CSV gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// `POST /_glue-local/tables`: the records of one catalog table, as CSV with a header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TableRequest {
    pub database_name: String,
    pub table_name: String,
    pub csv: String,
}

impl Table {
    /// Reads CSV text with a header; every row as wide as the header, at least one row.
    pub fn from_csv(text: &str) -> Result<Table, String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(text.as_bytes());
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| format!("the table's CSV has no header: {e}"))?
            .iter()
            .map(str::to_string)
            .collect();
        if columns.iter().any(String::is_empty) {
            return Err("the table's header has an empty column name".into());
        }
        let rows = reader
            .records()
            .map(|r| {
                r.map(|r| r.iter().map(str::to_string).collect())
                    .map_err(|e| format!("the table's CSV is not valid: {e}"))
            })
            .collect::<Result<Vec<Vec<String>>, String>>()?;
        if rows.is_empty() {
            return Err("the table has no rows".into());
        }
        Ok(Table { columns, rows })
    }
}

/// The records of a table nobody set: 1,000 people, `id,name,city`, in pairs that name the same
/// person twice (`Person 0001` and `Person 0001 Jr`), so a labeling set has matches to find.
pub fn synthetic_table() -> Table {
    const CITIES: [&str; 4] = ["Seattle", "Portland", "Austin", "Boston"];
    let rows = (0..1000)
        .map(|n: usize| {
            let person = n / 2 + 1;
            let suffix = if n.is_multiple_of(2) { "" } else { " Jr" };
            vec![
                format!("{}", n + 1),
                format!("Person {person:04}{suffix}"),
                CITIES[person % CITIES.len()].to_string(),
            ]
        })
        .collect();
    Table {
        columns: vec!["id".into(), "name".into(), "city".into()],
        rows,
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The `FindMatchesMetrics` of an evaluation that starts with `label_count` labels, for a
/// transform with this `PrecisionRecallTradeoff` and these columns (the model above).
pub fn metrics(
    label_count: i64,
    precision_recall_tradeoff: Option<f64>,
    columns: &[String],
    primary_key: Option<&str>,
) -> Value {
    let n = label_count.max(0) as f64;
    let t = precision_recall_tradeoff.unwrap_or(0.5).clamp(0.0, 1.0);
    let auprc = round4(0.95 - 0.45 * (-n / 150.0).exp());
    let precision = round4((auprc * (0.9 + 0.2 * t)).min(1.0));
    let recall = round4((auprc * (1.1 - 0.2 * t)).min(1.0));
    let f1 = round4(2.0 * precision * recall / (precision + recall));
    let tp = (100.0 * recall).round() as i64;
    let fp = (tp as f64 * (1.0 - precision) / precision).round() as i64;
    let importances: Vec<Value> = columns
        .iter()
        .filter(|c| Some(c.as_str()) != primary_key)
        .zip((1..).map(|k| 0.5f64.powi(k)))
        .map(|(c, importance)| json!({"ColumnName": c, "Importance": round4(importance)}))
        .collect();
    json!({
        "AreaUnderPRCurve": auprc,
        "Precision": precision,
        "Recall": recall,
        "F1": f1,
        "ConfusionMatrix": {
            "NumTruePositives": tp,
            "NumFalsePositives": fp,
            "NumTrueNegatives": 900 - fp,
            "NumFalseNegatives": 100 - tp,
        },
        "ColumnImportances": importances,
    })
}

/// The `EvaluationMetrics` member of GetMLTransform around `find_matches`.
pub fn evaluation_metrics(find_matches: &Map<String, Value>) -> Value {
    json!({"TransformType": "FIND_MATCHES", "FindMatchesMetrics": find_matches})
}

/// The labeling file of a transform's `generation`-th generation (0 first), with these
/// labeling-set IDs (one per set), and where the next generation starts.
pub fn labeling_file(table: &Table, generation: usize, set_ids: &[String]) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["labeling_set_id".to_string(), "label".to_string()];
    header.extend(table.columns.iter().cloned());
    let mut write = |record: &[String]| {
        // Writing to a Vec cannot fail but for a record of the wrong width, which the table's
        // reader already refused.
        let _ = out.write_record(record);
    };
    write(&header);
    let per_file = SETS_PER_FILE * RECORDS_PER_SET;
    let start = generation * per_file;
    for (set, set_id) in set_ids.iter().enumerate().take(SETS_PER_FILE) {
        for k in 0..RECORDS_PER_SET {
            let row = &table.rows[(start + set * RECORDS_PER_SET + k) % table.rows.len()];
            let mut record = vec![set_id.clone(), String::new()];
            record.extend(row.iter().cloned());
            write(&record);
        }
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<String> {
        ["id", "name", "city"].map(String::from).to_vec()
    }

    #[test]
    fn quality_rises_with_labels_and_flattens() {
        let auprc = |n| metrics(n, None, &columns(), Some("id"))["AreaUnderPRCurve"].as_f64();
        assert_eq!(auprc(0), Some(0.5));
        assert_eq!(auprc(100), Some(0.719));
        assert_eq!(auprc(200), Some(0.8314));
        let gains: Vec<f64> = [100, 200, 300, 400, 500, 600, 700]
            .windows(2)
            .map(|w| auprc(w[1]).unwrap() - auprc(w[0]).unwrap())
            .collect();
        assert!(gains.windows(2).all(|g| g[1] < g[0]), "{gains:?}");
        assert!(gains[gains.len() - 1] < 0.01, "{gains:?}");
    }

    #[test]
    fn the_figures_are_the_documented_function() {
        let m = metrics(200, Some(0.9), &columns(), Some("id"));
        assert_eq!(
            m,
            json!({
                "AreaUnderPRCurve": 0.8314,
                "Precision": 0.8979,
                "Recall": 0.7649,
                "F1": 0.8261,
                "ConfusionMatrix": {"NumTruePositives": 76, "NumFalsePositives": 9,
                                    "NumTrueNegatives": 891, "NumFalseNegatives": 24},
                "ColumnImportances": [{"ColumnName": "name", "Importance": 0.5},
                                      {"ColumnName": "city", "Importance": 0.25}],
            })
        );
    }

    #[test]
    fn a_labeling_file_holds_ten_sets_of_ten_records_and_the_next_one_goes_on() {
        let table = synthetic_table();
        let ids: Vec<String> = (0..10).map(|k| format!("set-{k}")).collect();
        let first = labeling_file(&table, 0, &ids);
        let lines: Vec<&str> = first.lines().collect();
        assert_eq!(lines.len(), 101);
        assert_eq!(lines[0], "labeling_set_id,label,id,name,city");
        assert_eq!(lines[1], "set-0,,1,Person 0001,Portland");
        assert_eq!(lines[2], "set-0,,2,Person 0001 Jr,Portland");
        assert_eq!(lines[100], "set-9,,100,Person 0050 Jr,Austin");
        let tenth = labeling_file(&table, 10, &ids);
        assert_eq!(tenth.lines().nth(1), Some("set-0,,1,Person 0001,Portland"));
        let second = labeling_file(&table, 1, &ids);
        assert_eq!(second.lines().nth(1), Some("set-0,,101,Person 0051,Boston"));
    }

    #[test]
    fn a_table_is_csv_with_a_header_and_rows() {
        assert_eq!(
            Table::from_csv("id,name\n1,\"Doe, J\"\n"),
            Ok(Table {
                columns: vec!["id".into(), "name".into()],
                rows: vec![vec!["1".into(), "Doe, J".into()]],
            })
        );
        assert_eq!(
            Table::from_csv("id,name\n"),
            Err("the table has no rows".into())
        );
        assert!(Table::from_csv("id,name\n1\n")
            .unwrap_err()
            .starts_with("the table's CSV is not valid"));
    }
}
