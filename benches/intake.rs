//! `make bench`: event parsing + key decoding + routing, the CPU work of every invocation
//! before any AWS call, in records per second (criterion).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use glue_label_importer::upload::intake::{decode_key, parse, Notification, Payload};
use glue_label_importer::upload::route::transform_id;
use serde_json::{json, Value};

const TFM: &str = "tfm-0123456789abcdef0123456789abcdef01234567";

fn s3_record(i: usize) -> Value {
    json!({"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-29T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "labels",
               "bucket": {"name": "bkt", "arn": "arn:aws:s3:::bkt"},
               "object": {"key": format!("labels/{TFM}/round+{i}+%C3%A9tiquettes+a%2Bb.csv"),
                          "size": 318, "eTag": "b5508a3279d92e1bfec5652903f20945",
                          "sequencer": "0055AED6DCD90281E5"}}})
}

/// Parses, decodes and routes every record; returns how many were routed.
fn route_all(payload: Value) -> usize {
    let notifications = match parse(payload).expect("a known shape") {
        Payload::Event(n) => vec![n],
        Payload::Batch(messages) => messages.into_iter().filter_map(|m| m.body.ok()).collect(),
        Payload::Tick => vec![],
    };
    let mut routed = 0;
    for notification in notifications {
        if let Notification::Records(records) = notification {
            for record in records {
                let key = decode_key(&record.raw_key).expect("decodable");
                routed += usize::from(transform_id("labels/", &key).is_ok());
            }
        }
    }
    routed
}

fn bench(c: &mut Criterion) {
    let direct = json!({"Records": (0..100).map(s3_record).collect::<Vec<_>>()});
    let sqs = json!({"Records": (0..10).map(|i| json!({
        "messageId": format!("m-{i}"), "receiptHandle": "AQEB", "eventSource": "aws:sqs",
        "body": json!({"Records": [s3_record(i)]}).to_string(),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:labels", "awsRegion": "us-east-1"}))
        .collect::<Vec<_>>()});
    let eventbridge = json!({"version": "0", "id": "1", "detail-type": "Object Created",
        "source": "aws.s3", "account": "123456789012", "time": "2026-11-29T10:00:00Z",
        "region": "us-east-1", "resources": ["arn:aws:s3:::bkt"],
        "detail": {"version": "0", "bucket": {"name": "bkt"},
                   "object": {"key": format!("labels/{TFM}/round+1.csv"), "size": 318, "etag": "b5508a32"},
                   "reason": "PutObject"}});
    let mut group = c.benchmark_group("intake");
    for (name, event, records) in [
        ("s3_notification_100_records", direct, 100),
        ("sqs_batch_10_messages", sqs, 10),
        ("eventbridge_1_record", eventbridge, 1),
    ] {
        // From the bytes Lambda hands over, as the runtime does.
        let bytes = event.to_string().into_bytes();
        assert_eq!(route_all(serde_json::from_slice(&bytes).unwrap()), records);
        group.throughput(Throughput::Elements(records as u64));
        group.bench_function(name, |b| {
            b.iter_batched(
                || bytes.clone(),
                |bytes| route_all(serde_json::from_slice(&bytes).unwrap()),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
