//! Turns the invocation payload into the records to process.

use aws_lambda_events::s3::S3Event;
use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;
use serde_json::Value;

/// What an invocation payload holds.
#[derive(Debug, PartialEq)]
pub enum Notification {
    /// `s3:TestEvent`, sent when a notification is configured: nothing to do.
    Test,
    /// The records of an S3 event notification, in order.
    Records(Vec<Record>),
}

/// One S3 notification record, with the key still as S3 encoded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub bucket: String,
    pub raw_key: String,
    pub event_name: String,
    pub event_time: DateTime<Utc>,
    pub etag: Option<String>,
}

/// The payload is not an S3 event notification.
#[derive(Debug, thiserror::Error)]
#[error("the event is not an S3 event notification ({0}); invoke the function with an S3 ObjectCreated notification ({{\"Records\": [...]}}), e.g. a file from events/")]
pub struct NotS3Notification(String);

/// Reads an invocation payload.
pub fn parse(payload: Value) -> Result<Notification, NotS3Notification> {
    if payload.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Notification::Test);
    }
    if payload.get("Records").is_none() {
        return Err(NotS3Notification("it has no Records".into()));
    }
    let event: S3Event =
        serde_json::from_value(payload).map_err(|e| NotS3Notification(e.to_string()))?;
    event
        .records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let source = r.event_source.as_deref().unwrap_or_default();
            if source != "aws:s3" {
                return Err(NotS3Notification(format!(
                    "record {i} has eventSource {source:?}, not \"aws:s3\""
                )));
            }
            let missing = |what: &str| NotS3Notification(format!("record {i} has no {what}"));
            Ok(Record {
                bucket: r.s3.bucket.name.ok_or_else(|| missing("s3.bucket.name"))?,
                raw_key: r.s3.object.key.ok_or_else(|| missing("s3.object.key"))?,
                event_name: r.event_name.ok_or_else(|| missing("eventName"))?,
                event_time: r.event_time,
                etag: r.s3.object.e_tag.filter(|e| !e.is_empty()),
            })
        })
        .collect::<Result<_, _>>()
        .map(Notification::Records)
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

    #[test]
    fn reads_records_in_order() {
        let parsed = parse(json!({"Records": [record("a+b"), record("c")]})).unwrap();
        let Notification::Records(records) = parsed else {
            panic!("expected records, got {parsed:?}")
        };
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].raw_key, "a+b");
        assert_eq!(records[0].bucket, "bkt");
        assert_eq!(records[0].event_name, "ObjectCreated:Put");
        assert_eq!(records[0].etag.as_deref(), Some("abc"));
        assert_eq!(
            records[0].event_time.to_rfc3339(),
            "2026-11-29T10:00:00+00:00"
        );
        assert_eq!(records[1].raw_key, "c");
    }

    #[test]
    fn recognises_the_test_event() {
        let test = json!({"Service": "Amazon S3", "Event": "s3:TestEvent",
            "Time": "2014-10-13T15:57:02.089Z", "Bucket": "bkt", "RequestId": "1", "HostId": "2"});
        assert_eq!(parse(test).unwrap(), Notification::Test);
    }

    #[test]
    fn rejects_what_is_not_an_s3_notification() {
        let cases = [
            (json!({"hello": "world"}), "it has no Records"),
            (json!([1, 2]), "it has no Records"),
            (
                json!({"Records": [{"eventSource": "aws:sqs"}]}),
                "missing field",
            ),
        ];
        for (payload, want) in cases {
            let err = parse(payload).unwrap_err().to_string();
            assert!(
                err.starts_with("the event is not an S3 event notification ("),
                "{err}"
            );
            assert!(err.contains(want), "{err} should contain {want}");
        }
        let mut sqs_like = record("k");
        sqs_like["eventSource"] = json!("aws:sqs");
        let err = parse(json!({"Records": [sqs_like]}))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("record 0 has eventSource \"aws:sqs\", not \"aws:s3\""),
            "{err}"
        );
    }
}
