//! Every sample event in events/ parses, and decodes and routes as documented.

use std::path::Path;

use glue_label_importer::intake::{decode_key, parse, Notification};
use glue_label_importer::outcome::NotImported;
use glue_label_importer::route::transform_id;

const TFM: &str = "tfm-0123456789abcdef0123456789abcdef01234567";

/// What each file holds: per record, the decoded key and its transform ID (None = skipped).
fn expected(file: &str) -> Option<Vec<(String, Option<&'static str>)>> {
    let tfm2 = "tfm-fedcba9876543210fedcba9876543210fedcba98";
    Some(match file {
        "s3-put.json" => vec![(format!("labels/{TFM}/round-1.csv"), Some(TFM))],
        "s3-put-special-key.json" => {
            vec![(
                format!("labels/{TFM}/Round 2 étiquettes a+b.csv"),
                Some(TFM),
            )]
        }
        "s3-put-multi.json" => vec![
            (format!("labels/{TFM}/batch-1.csv"), Some(TFM)),
            (format!("labels/{TFM}/2026/batch-2.csv"), Some(TFM)),
            (format!("labels/{tfm2}/batch-3.csv"), Some(tfm2)),
        ],
        "s3-put-outside-prefix.json" => vec![(format!("labels-archive/{TFM}/round-0.csv"), None)],
        "s3-test-event.json" => vec![],
        _ => return None,
    })
}

#[test]
fn every_sample_event_parses_and_routes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let want =
            expected(&name).unwrap_or_else(|| panic!("events/{name} has no expectation here"));
        let payload = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let want: Vec<(String, Option<String>)> = want
            .into_iter()
            .map(|(key, id)| (key, id.map(str::to_string)))
            .collect();
        let got: Vec<(String, Option<String>)> = match parse(payload).unwrap() {
            Notification::Test => vec![],
            Notification::Records(records) => records
                .iter()
                .map(|r| {
                    let key = decode_key(&r.raw_key).unwrap();
                    let id = match transform_id("labels/", &key) {
                        Ok(id) => Some(id.to_string()),
                        Err(NotImported::Skipped(_)) => None,
                        Err(NotImported::Failed(e)) => panic!("{name}: {e}"),
                    };
                    (key, id)
                })
                .collect(),
        };
        assert_eq!(got, want, "events/{name}");
        seen += 1;
    }
    assert_eq!(seen, 5, "every file in events/ is checked");
}
