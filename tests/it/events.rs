//! Every sample event in events/ parses, and decodes and routes as documented.

use std::path::Path;

use glue_label_importer::upload::intake::{decode_key, parse, Notification, Payload};
use glue_label_importer::upload::outcome::NotImported;
use glue_label_importer::upload::route::transform_id;

const TFM: &str = "tfm-0123456789abcdef0123456789abcdef01234567";

/// Where a record's key leads.
#[derive(Debug, PartialEq)]
enum Route {
    Transform(String),
    Skipped,
    Fails,
}

/// What each file holds: per notification (one for a direct event, one per SQS message), the
/// decoded key and route of each record.
fn expected(file: &str) -> Option<Vec<Vec<(String, Route)>>> {
    let tfm2 = "tfm-fedcba9876543210fedcba9876543210fedcba98";
    let to = |id: &str| Route::Transform(id.to_string());
    let round_1 = || (format!("labels/{TFM}/round-1.csv"), to(TFM));
    Some(match file {
        "s3-put.json" | "eventbridge-object-created.json" | "sqs-sns-envelope.json" => {
            vec![vec![round_1()]]
        }
        "s3-put-special-key.json" => vec![vec![(
            format!("labels/{TFM}/Round 2 étiquettes a+b.csv"),
            to(TFM),
        )]],
        "s3-put-multi.json" => vec![vec![
            (format!("labels/{TFM}/batch-1.csv"), to(TFM)),
            (format!("labels/{TFM}/2026/batch-2.csv"), to(TFM)),
            (format!("labels/{tfm2}/batch-3.csv"), to(tfm2)),
        ]],
        "s3-put-outside-prefix.json" => vec![vec![(
            format!("labels-archive/{TFM}/round-0.csv"),
            Route::Skipped,
        )]],
        "s3-test-event.json" => vec![vec![]],
        // The tick names no upload.
        "scheduled-tick.json" => vec![],
        // A test event, a good record, a record whose transform ID is empty.
        "sqs-batch.json" => vec![
            vec![],
            vec![round_1()],
            vec![("labels//round-1.csv".to_string(), Route::Fails)],
        ],
        _ => return None,
    })
}

fn routes(notification: Notification) -> Vec<(String, Route)> {
    match notification {
        Notification::Test => vec![],
        Notification::Records(records) => records
            .iter()
            .map(|r| {
                let key = decode_key(&r.raw_key).unwrap();
                let route = match transform_id("labels/", &key) {
                    Ok(id) => Route::Transform(id.to_string()),
                    Err(NotImported::Skipped(_)) => Route::Skipped,
                    Err(NotImported::Failed(_)) => Route::Fails,
                };
                (key, route)
            })
            .collect(),
    }
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
        let got: Vec<Vec<(String, Route)>> = match parse(payload).unwrap() {
            Payload::Event(notification) => vec![routes(notification)],
            Payload::Batch(messages) => messages
                .into_iter()
                .map(|m| routes(m.body.unwrap()))
                .collect(),
            Payload::Tick => {
                assert_eq!(name, "scheduled-tick.json", "only the tick event is a tick");
                vec![]
            }
        };
        assert_eq!(got, want, "events/{name}");
        seen += 1;
    }
    assert_eq!(seen, 9, "every file in events/ is checked");
}
