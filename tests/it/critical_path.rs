//! The idle path's requests, counted and timed: every request takes one round trip (10 ms on
//! tokio's paused clock), so the time an upload takes is its number of sequential round trips.
//! A fresh upload of an idle transform: 11 requests in 5 round trips.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::mocks::*;
use aws_sdk_s3::config::http::HttpRequest;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::client::http::{
    http_client_fn, HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpConnector,
};
use glue_label_importer::config::retry_config;
use glue_label_importer::handler::{handle, Response};
use glue_label_importer::{Config, State};

const ROUND_TRIP: Duration = Duration::from_millis(10);

/// Each request as sent: the round trip it began in, and what it was.
type Sent = Arc<Mutex<Vec<(u128, String)>>>;

/// Answers after one round trip, noting what each request was.
#[derive(Debug)]
struct OneRoundTrip {
    inner: SharedHttpConnector,
    sent: Sent,
    start: tokio::time::Instant,
}

impl HttpConnector for OneRoundTrip {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let round = self.start.elapsed().as_millis() / ROUND_TRIP.as_millis();
        self.sent.lock().unwrap().push((round, describe(&request)));
        let (inner, call) = (self.inner.clone(), request);
        HttpConnectorFuture::new(async move {
            tokio::time::sleep(ROUND_TRIP).await;
            inner.call(call).await
        })
    }
}

/// `S3 GET lane`, `Glue GetMLTaskRuns`…: the service, and the operation or the object's kind.
fn describe(request: &HttpRequest) -> String {
    if let Some(target) = request.headers().get("x-amz-target") {
        return format!("Glue {}", target.trim_start_matches("AWSGlue."));
    }
    let uri = request.uri().to_string();
    let what = if uri.contains("tagging") {
        "tags"
    } else if uri.contains("/lanes/") {
        "lane"
    } else if uri.contains("/open/") {
        "marker"
    } else if uri.contains("/entries/") {
        "entry"
    } else {
        "label file"
    };
    format!("S3 {} {what}", request.method())
}

fn clients(s3: &[&Rule], glue: &[&Rule], sent: &Sent) -> State {
    let start = tokio::time::Instant::now();
    let delayed = {
        let sent = sent.clone();
        http_client_fn(move |settings, components| {
            let inner =
                aws_smithy_mocks::create_mock_http_client().http_connector(settings, components);
            SharedHttpConnector::new(OneRoundTrip {
                inner,
                sent: sent.clone(),
                start,
            })
        })
    };
    let (d1, d2) = (delayed.clone(), delayed);
    State {
        config: Config::default(),
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3, |c| c
            .http_client(d1.clone())
            .retry_config(retry_config())),
        glue: mock_client!(aws_sdk_glue, RuleMode::MatchAny, glue, |c| c
            .http_client(d2.clone())
            .retry_config(retry_config())),
        sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]),
    }
}

#[tokio::test(start_paused = true)]
async fn a_fresh_upload_of_an_idle_transform_makes_11_requests_in_5_round_trips() {
    let key = format!("labels/{TFM}/x.csv");
    // An object without tags: S3 sends no tag count.
    let head = mock!(aws_sdk_s3::Client::head_object)
        .then_output(|| HeadObjectOutput::builder().content_length(64).build());
    let (t, p, lane, writes, labeled) = (
        tags(&[]),
        put_tags(),
        no_lane(),
        ledger_writes(),
        get_object(LABELED),
    );
    let (recent, start) = (
        active_imports(vec![]),
        start_exact(TFM, &format!("s3://bkt/{key}"), false, "tsk-1"),
    );
    let sent = Sent::default();
    let state = clients(
        &[&head, &t, &p, &lane, &labeled, &writes],
        &[&recent, &start],
        &sent,
    );
    let begun = tokio::time::Instant::now();
    let response = handle(&state, event(vec![s3_record(&key, "e")]))
        .await
        .unwrap();
    let took = begun.elapsed();
    let Response::Report(report) = response else {
        panic!("a report")
    };
    assert_eq!(report.imported[0].task_run_id, "tsk-1");

    let mut sent = sent.lock().unwrap().clone();
    sent.sort();
    let sent: Vec<(u128, &str)> = sent.iter().map(|(r, s)| (*r, s.as_str())).collect();
    assert_eq!(
        sent,
        [
            // HeadObject, Glue's page of recent imports (the duplicate check's and the
            // lane's), the preflight's read of the file and the lane, side by side.
            (0, "Glue GetMLTaskRuns"),
            (0, "S3 GET label file"),
            (0, "S3 GET lane"),
            (0, "S3 HEAD label file"),
            // The marker beside the lane's write (the place, its turn given).
            (1, "S3 PUT lane"),
            (1, "S3 PUT marker"),
            // The entry created marked.
            (2, "S3 PUT entry"),
            // The start, sent once, and beside it the object's tags read.
            (3, "Glue StartImportLabelsTaskRun"),
            (3, "S3 GET tags"),
            // The run recorded, and beside it the receipt and status tags written.
            (4, "S3 PUT entry"),
            (4, "S3 PUT tags"),
        ]
    );
    assert_eq!(took, ROUND_TRIP * 5, "5 sequential round trips");
}
