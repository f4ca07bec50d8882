//! `import`: re-drive one upload through the same path as the Lambda (its ledger entry, its
//! lane, exactly one start), and with `--wait` follow it to its end as the tick would.

use std::time::Duration;

use glue_label_importer::handler::respond;
use glue_label_importer::lifecycle::entry::{self, ImportState};
use glue_label_importer::lifecycle::lane;
use glue_label_importer::lifecycle::ledger::{self, Ledger};
use glue_label_importer::lifecycle::tick;
use glue_label_importer::metrics::Metrics;
use glue_label_importer::upload::intake::Record;
use glue_label_importer::upload::order::RecordOrder;
use glue_label_importer::upload::pipeline::{process_key, ImportOptions};
use glue_label_importer::{Config, State};

use crate::{
    flag, glue_client, parse_s3_uri, print_json, sdk_config, CliError, Global, ImportArgs,
};

pub async fn import(global: &Global, args: ImportArgs) -> Result<(), CliError> {
    let (bucket, key) = parse_s3_uri(&args.uri)?;
    let sdk = sdk_config(global).await;
    let mut state = State::from_sdk_config(Config::from_env()?, &sdk);
    state.glue = glue_client(global, &sdk);
    // The object as it is now stands in for the S3 event: its ETag pins it, and Glue runs
    // started after its last modification are imports of this very upload.
    let head = glue_label_importer::aws::s3::head(&state.s3, &bucket, &key, None)
        .await
        .ok();
    let record = Record {
        bucket,
        raw_key: key.clone(),
        event_name: "ObjectCreated:Put".into(),
        event_time: head
            .as_ref()
            .and_then(|h| h.last_modified)
            .unwrap_or_else(glue_label_importer::now),
        etag: head.as_ref().and_then(|h| h.etag.clone()),
        size: head.as_ref().map(|h| h.size),
    };
    let options = ImportOptions {
        replace_all_labels: flag(args.replace_all_labels, args.no_replace_all_labels),
        skip_duplicate_check: args.force,
    };
    let outcome = process_key(&state, record, key, options, RecordOrder::default()).await;
    let report = match respond("import-labels", vec![outcome]) {
        Ok(report) => report,
        Err(error) => return Err(CliError::Import { error }),
    };
    let entry_uri = report
        .imported
        .first()
        .map(|i| i.ledger_entry.clone())
        .or_else(|| report.queued.first().map(|q| q.ledger_entry.clone()));
    let (true, Some(uri)) = (args.wait, entry_uri) else {
        return print_json(&report);
    };
    let entry = follow(&mut state, &uri, args.poll_interval).await?;
    // One document: the report, and the upload's ledger entry as the import ended.
    let mut out = serde_json::to_value(&report).map_err(std::io::Error::other)?;
    out["ended"] = serde_json::to_value(&entry).map_err(std::io::Error::other)?;
    print_json(&out)?;
    if entry.state == ImportState::Succeeded {
        return Ok(());
    }
    Err(CliError::RunEnded {
        task_run_id: entry.task_run_id.unwrap_or_default(),
        status: entry.state.to_string(),
        error: entry.error_string,
    })
}

/// `import --wait`: tells the state the import left the upload's entry in, then ticks the
/// bucket's ledger and reads the entry until its import ended, telling each new state (and
/// what a waiting upload waits for) on standard error.
async fn follow(
    state: &mut State,
    entry_uri: &str,
    poll_interval: f64,
) -> Result<entry::Entry, CliError> {
    let (bucket, entry_key) = parse_s3_uri(entry_uri)?;
    state.config.labels_bucket = Some(bucket.clone());
    let mut told = None;
    let mut ticking = false;
    loop {
        if ticking {
            // The scheduled tick does the same; both at once are safe (compare-and-set).
            tick::run(state, &mut Metrics::default()).await;
        }
        let ledger = Ledger::new(&state.s3, &bucket, &state.config.ledger_prefix);
        let stored = ledger
            .get(&entry_key)
            .await
            .map_err(|e| CliError::Ledger(e.to_string()))?
            .ok_or_else(|| CliError::Ledger(format!("ledger entry {entry_uri} is gone")))?;
        let entry = stored.value;
        let now = (entry.state, entry.task_run_id.clone());
        if told.as_ref() != Some(&now) {
            let detail = match (&entry.task_run_id, entry.state) {
                (_, ImportState::Queued) => {
                    let lane = lane::load(&ledger, &entry.transform_id)
                        .await
                        .map_err(|e| CliError::Ledger(e.to_string()))?;
                    lane.waits_for(ledger::upload_id(&entry_key))
                        .or(entry.last_error.clone())
                        .unwrap_or_default()
                }
                (Some(id), _) => format!("task run {id}"),
                (None, _) => String::new(),
            };
            eprintln!(
                "{} {} {detail}",
                glue_label_importer::now().to_rfc3339(),
                entry.state
            );
            told = Some(now);
        }
        if entry.state.is_final() {
            return Ok(entry);
        }
        if ticking {
            tokio::time::sleep(Duration::from_secs_f64(poll_interval.max(0.05))).await;
        }
        ticking = true;
    }
}
