//! Turns the invocation payload into the records to process.
//!
//! Three shapes arrive, told apart by their content: an S3 event notification
//! (`{"Records":[{"eventSource":"aws:s3",…}]}`, or the `s3:TestEvent`), an EventBridge
//! event from `aws.s3`, and an SQS batch (`"eventSource":"aws:sqs"`) whose message bodies are
//! either of the first two, possibly inside an SNS notification. Each SQS message is read on
//! its own, so one bad body never hides the others.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsEvent;
use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What an invocation payload holds.
#[derive(Debug, PartialEq)]
pub enum Payload {
    /// An S3 notification or an EventBridge event, invoked directly (asynchronously).
    Event(Notification),
    /// An SQS batch: every message succeeds or fails on its own.
    Batch(Vec<Message>),
    /// EventBridge's `Scheduled Event` (`source: aws.events`): the tick that follows the
    /// ledger's open imports.
    Tick,
}

/// One SQS message and what its body holds.
#[derive(Debug, PartialEq)]
pub struct Message {
    pub message_id: String,
    pub body: Result<Notification, UnknownEvent>,
}

/// What one S3 notification or EventBridge event holds.
#[derive(Debug, PartialEq)]
pub enum Notification {
    /// `s3:TestEvent`, sent when a notification is configured: nothing to do.
    Test,
    /// The records of an S3 event notification in order, or the one object of an
    /// EventBridge event.
    Records(Vec<Record>),
}

/// One object event, with the key still as the event encoded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub bucket: String,
    pub raw_key: String,
    /// `ObjectCreated:Put`… for S3 notifications, the `detail-type` (`Object Created`…) for
    /// EventBridge.
    pub event_name: String,
    pub event_time: DateTime<Utc>,
    pub etag: Option<String>,
    /// The object's size as the event reports it.
    pub size: Option<u64>,
}

impl Record {
    /// Whether the event reports a new object (every `ObjectCreated:*` API, or EventBridge's
    /// `Object Created`).
    pub fn is_object_created(&self) -> bool {
        self.event_name.starts_with("ObjectCreated:") || self.event_name == "Object Created"
    }
}

/// A payload or SQS message body that is none of the shapes this function reads.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnknownEvent {
    #[error("the event is not one this function reads ({0}); send an S3 event notification ({{\"Records\": [...]}}), an EventBridge \"Object Created\" event from aws.s3, an SQS batch of S3 notifications, or the tick's EventBridge \"Scheduled Event\" (events/ has one of each)")]
    Payload(String),
    #[error("the message body is not an S3 event notification, an s3:TestEvent, an EventBridge event from aws.s3 or an SNS notification of one ({0}); check what sends messages to this queue")]
    MessageBody(String),
}

/// Reads an invocation payload.
pub fn parse(payload: Value) -> Result<Payload, UnknownEvent> {
    if payload
        .pointer("/Records/0/eventSource")
        .and_then(Value::as_str)
        == Some("aws:sqs")
    {
        let batch: SqsEvent =
            serde_json::from_value(payload).map_err(|e| UnknownEvent::Payload(e.to_string()))?;
        return batch
            .records
            .into_iter()
            .enumerate()
            .map(|(i, message)| {
                let message_id = message.message_id.ok_or_else(|| {
                    UnknownEvent::Payload(format!("SQS message {i} has no messageId"))
                })?;
                let body = message_body(message.body.as_deref().unwrap_or_default());
                Ok(Message { message_id, body })
            })
            .collect::<Result<_, _>>()
            .map(Payload::Batch);
    }
    if payload.get("source").and_then(Value::as_str) == Some("aws.events")
        && payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
    {
        return Ok(Payload::Tick);
    }
    notification(payload)
        .map(Payload::Event)
        .map_err(UnknownEvent::Payload)
}

/// Reads one SQS message body: a notification, or an SNS notification whose `Message` is one
/// (S3 → SNS → SQS without raw message delivery).
fn message_body(body: &str) -> Result<Notification, UnknownEvent> {
    let invalid = UnknownEvent::MessageBody;
    let value: Value = serde_json::from_str(body).map_err(|e| invalid(format!("not JSON: {e}")))?;
    if value.get("Type").and_then(Value::as_str) == Some("Notification") {
        let message = value
            .get("Message")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let inner: Value = serde_json::from_str(message)
            .map_err(|e| invalid(format!("the SNS Message is not JSON: {e}")))?;
        return notification(inner).map_err(|e| invalid(format!("SNS Message: {e}")));
    }
    notification(value).map_err(invalid)
}

/// Reads an S3 notification, a test event or an EventBridge event from S3.
fn notification(payload: Value) -> Result<Notification, String> {
    if payload.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Notification::Test);
    }
    if payload.get("source").and_then(Value::as_str) == Some("aws.s3")
        && payload.get("detail-type").is_some()
    {
        return eventbridge(payload).map(|record| Notification::Records(vec![record]));
    }
    let Some(Value::Array(records)) = payload.get("Records") else {
        return Err(
            "it has no Records, is no EventBridge event from aws.s3 and no s3:TestEvent".into(),
        );
    };
    records
        .iter()
        .enumerate()
        .map(|(i, record)| s3_record(i, record))
        .collect::<Result<_, _>>()
        .map(Notification::Records)
}

/// The fields of an S3 notification record this function reads; others are ignored, so a
/// record is not rejected over fields it does not need.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Record {
    event_name: String,
    event_time: DateTime<Utc>,
    s3: S3Entity,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: BucketName,
    object: S3Object,
}

#[derive(Deserialize, Serialize)]
struct BucketName {
    name: String,
}

#[derive(Deserialize)]
struct S3Object {
    key: String,
    #[serde(rename = "eTag")]
    etag: Option<String>,
    size: Option<u64>,
}

fn s3_record(i: usize, record: &Value) -> Result<Record, String> {
    let source = record.get("eventSource").and_then(Value::as_str);
    if source != Some("aws:s3") {
        return Err(format!(
            "record {i} has eventSource {}, not \"aws:s3\"",
            source.map_or("none".into(), |s| format!("{s:?}"))
        ));
    }
    let r = S3Record::deserialize(record).map_err(|e| format!("record {i}: {e}"))?;
    Ok(Record {
        bucket: r.s3.bucket.name,
        raw_key: r.s3.object.key,
        event_name: r.event_name,
        event_time: r.event_time,
        etag: r.s3.object.etag.filter(|e| !e.is_empty()),
        size: r.s3.object.size,
    })
}

/// The `detail` of an EventBridge event from S3 (kebab-case, lower-case `etag`).
/// (`Serialize` only because `EventBridgeEvent` requires it.)
#[derive(Deserialize, Serialize)]
struct S3Detail {
    bucket: BucketName,
    object: DetailObject,
}

#[derive(Deserialize, Serialize)]
struct DetailObject {
    key: String,
    etag: Option<String>,
    size: Option<u64>,
}

/// An EventBridge event from S3. Its key is URL-encoded like a notification's (see
/// docs/design/decisions.md, "Events"), and its `time` (whole seconds) stands in for `eventTime`.
fn eventbridge(payload: Value) -> Result<Record, String> {
    let event: EventBridgeEvent<S3Detail> =
        serde_json::from_value(payload).map_err(|e| format!("EventBridge event: {e}"))?;
    let event_time = event.time.ok_or("the EventBridge event has no time")?;
    Ok(Record {
        bucket: event.detail.bucket.name,
        raw_key: event.detail.object.key,
        event_name: event.detail_type,
        event_time,
        etag: event.detail.object.etag.filter(|e| !e.is_empty()),
        size: event.detail.object.size,
    })
}

/// Decodes an object key as S3 writes it into notifications
/// (`application/x-www-form-urlencoded`: `+` is a space, `%2B` a plus, UTF-8 percent-encoded).
pub fn decode_key(raw: &str) -> Result<String, std::str::Utf8Error> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|k| k.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn decodes_keys_as_s3_encodes_them() {
        let cases = [
            ("labels/tfm-1/x.csv", "labels/tfm-1/x.csv"),
            (
                "labels/tfm-1/round+1+labels.csv",
                "labels/tfm-1/round 1 labels.csv",
            ),
            ("labels/tfm-1/a%2Bb.csv", "labels/tfm-1/a+b.csv"),
            ("labels/tfm-1/a+%2B+b.csv", "labels/tfm-1/a + b.csv"),
            (
                "labels/tfm-1/%C3%A9tiquettes+%E2%9C%93.csv",
                "labels/tfm-1/étiquettes ✓.csv",
            ),
            ("labels/tfm-1/100%25.csv", "labels/tfm-1/100%.csv"),
            ("labels%2Ftfm-1%2Fx.csv", "labels/tfm-1/x.csv"),
            ("labels/tfm-1/a%3Ab%3Dc%26d.csv", "labels/tfm-1/a:b=c&d.csv"),
        ];
        for (raw, want) in cases {
            assert_eq!(decode_key(raw).as_deref(), Ok(want), "decoding {raw}");
        }
    }

    #[test]
    fn rejects_keys_that_decode_to_invalid_utf8() {
        assert!(decode_key("labels/tfm-1/%FF.csv").is_err());
        assert!(decode_key("labels/tfm-1/%C3.csv").is_err());
    }

    proptest! {
        #[test]
        fn form_encoded_keys_decode_to_the_original(key in "\\PC{0,64}") {
            let encoded: String = percent_encoding_form(&key);
            prop_assert_eq!(decode_key(&encoded).ok(), Some(key));
        }
    }

    /// What S3 does to a key: percent-encode everything but letters and digits, space as `+`.
    fn percent_encoding_form(key: &str) -> String {
        use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
        utf8_percent_encode(key, NON_ALPHANUMERIC)
            .to_string()
            .replace("%20", "+")
    }

    fn record(key: &str) -> Value {
        json!({
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-29T10:00:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "labels",
                   "bucket": {"name": "bkt", "arn": "arn:aws:s3:::bkt"},
                   "object": {"key": key, "size": 10, "eTag": "abc", "sequencer": "01"}}
        })
    }

    fn records_in(payload: Value) -> Vec<Record> {
        match parse(payload) {
            Ok(Payload::Event(Notification::Records(records))) => records,
            other => panic!("expected records, got {other:?}"),
        }
    }

    #[test]
    fn reads_records_in_order() {
        let records = records_in(json!({"Records": [record("a+b"), record("c")]}));
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].raw_key, "a+b");
        assert_eq!(records[0].bucket, "bkt");
        assert_eq!(records[0].event_name, "ObjectCreated:Put");
        assert!(records[0].is_object_created());
        assert_eq!(records[0].etag.as_deref(), Some("abc"));
        assert_eq!(
            records[0].event_time.to_rfc3339(),
            "2026-11-29T10:00:00+00:00"
        );
        assert_eq!(records[1].raw_key, "c");
    }

    #[test]
    fn ignores_fields_it_does_not_read() {
        // moto and LocalStack leave out userIdentity, requestParameters, sequencer…
        let minimal = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
            "eventTime": "2026-11-29T10:00:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "bkt"}, "object": {"key": "k", "size": 1, "eTag": "e"}}}]});
        let records = records_in(minimal);
        assert_eq!(
            (records[0].raw_key.as_str(), records[0].etag.as_deref()),
            ("k", Some("e"))
        );
    }

    fn eventbridge_event(key: &str) -> Value {
        json!({"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
            "detail-type": "Object Created", "source": "aws.s3", "account": "111122223333",
            "time": "2026-11-29T10:00:01Z", "region": "us-east-1",
            "resources": ["arn:aws:s3:::bkt"],
            "detail": {"version": "0", "bucket": {"name": "bkt"},
                "object": {"key": key, "size": 5, "etag": "b1946ac92492d2347c6235b4d2611184",
                           "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", "sequencer": "617f08299329d189"},
                "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012",
                "source-ip-address": "1.2.3.4", "reason": "PutObject"}})
    }

    #[test]
    fn reads_an_eventbridge_object_created_event() {
        let records = records_in(eventbridge_event("labels/tfm-1/round+1.csv"));
        assert_eq!(
            records,
            [Record {
                bucket: "bkt".into(),
                raw_key: "labels/tfm-1/round+1.csv".into(),
                event_name: "Object Created".into(),
                event_time: "2026-11-29T10:00:01Z".parse().unwrap(),
                etag: Some("b1946ac92492d2347c6235b4d2611184".into()),
                size: Some(5),
            }]
        );
        assert!(records[0].is_object_created());
        let mut deleted = eventbridge_event("k");
        deleted["detail-type"] = json!("Object Deleted");
        assert!(!records_in(deleted)[0].is_object_created());
    }

    fn sqs(bodies: &[(&str, String)]) -> Value {
        let records: Vec<Value> = bodies
            .iter()
            .map(|(id, body)| {
                json!({"messageId": id, "receiptHandle": "AQEB", "body": body,
                    "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                    "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3", "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:labels",
                    "awsRegion": "us-east-1"})
            })
            .collect();
        json!({ "Records": records })
    }

    #[test]
    fn reads_each_sqs_message_on_its_own() {
        let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent",
            "Time": "2014-10-13T15:57:02.089Z", "Bucket": "bkt"});
        let sns = json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t",
            "Subject": "Amazon S3 Notification",
            "Message": json!({"Records": [record("via-sns")]}).to_string()});
        let payload = sqs(&[
            (
                "m1",
                json!({"Records": [record("a"), record("b")]}).to_string(),
            ),
            ("m2", test_event.to_string()),
            ("m3", "Test message.".to_string()),
            ("m4", sns.to_string()),
            ("m5", eventbridge_event("eb").to_string()),
            (
                "m6",
                json!({"Records": [{"eventSource": "aws:s3"}]}).to_string(),
            ),
        ]);
        let Ok(Payload::Batch(messages)) = parse(payload) else {
            panic!("expected a batch")
        };
        let ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
        assert_eq!(ids, ["m1", "m2", "m3", "m4", "m5", "m6"]);
        let keys = |m: &Message| -> Vec<String> {
            match &m.body {
                Ok(Notification::Records(r)) => r.iter().map(|r| r.raw_key.clone()).collect(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(keys(&messages[0]), ["a", "b"]);
        assert_eq!(messages[1].body, Ok(Notification::Test));
        assert!(
            matches!(&messages[2].body, Err(UnknownEvent::MessageBody(why)) if why.starts_with("not JSON: "))
        );
        assert_eq!(keys(&messages[3]), ["via-sns"]);
        assert_eq!(keys(&messages[4]), ["eb"]);
        let err = messages[5].body.as_ref().unwrap_err().to_string();
        assert!(err.starts_with("the message body is not an S3 event notification, an s3:TestEvent, an EventBridge event from aws.s3 or an SNS notification of one (record 0: missing field `eventName`)"), "{err}");
    }

    #[test]
    fn an_sqs_message_without_an_id_fails_the_batch() {
        let mut payload = sqs(&[("m1", "{}".to_string())]);
        payload["Records"][0]
            .as_object_mut()
            .unwrap()
            .remove("messageId");
        assert_eq!(
            parse(payload).unwrap_err(),
            UnknownEvent::Payload("SQS message 0 has no messageId".into())
        );
    }

    #[test]
    fn recognises_the_test_event() {
        let test = json!({"Service": "Amazon S3", "Event": "s3:TestEvent",
            "Time": "2014-10-13T15:57:02.089Z", "Bucket": "bkt", "RequestId": "1", "HostId": "2"});
        assert_eq!(parse(test).unwrap(), Payload::Event(Notification::Test));
    }

    #[test]
    fn rejects_what_is_none_of_the_shapes() {
        let no_shape = "it has no Records, is no EventBridge event from aws.s3 and no s3:TestEvent";
        let cases = [
            (json!({"hello": "world"}), no_shape.to_string()),
            (json!([1, 2]), no_shape.to_string()),
            (json!({"Records": {"a": 1}}), no_shape.to_string()),
            (
                json!({"Records": [{"eventSource": "aws:sns"}]}),
                "record 0 has eventSource \"aws:sns\", not \"aws:s3\"".to_string(),
            ),
            (
                json!({"Records": [{}]}),
                "record 0 has eventSource none, not \"aws:s3\"".to_string(),
            ),
            (
                json!({"source": "aws.s3", "detail-type": "Object Created"}),
                "EventBridge event: missing field `detail`".to_string(),
            ),
        ];
        for (payload, why) in cases {
            let err = parse(payload).unwrap_err();
            assert_eq!(err, UnknownEvent::Payload(why));
            assert!(err
                .to_string()
                .starts_with("the event is not one this function reads ("));
        }
        let mut no_time = eventbridge_event("k");
        no_time.as_object_mut().unwrap().remove("time");
        assert_eq!(
            parse(no_time).unwrap_err(),
            UnknownEvent::Payload("the EventBridge event has no time".into())
        );
    }
}
