//! The notifications' topic: one `Publish`, sent once.
//!
//! SNS's `Publish` takes no idempotency key on a standard topic, so a retry after a lost answer
//! could deliver a second copy: the call goes out without the SDK's retry, and an answer that
//! did not come back clearly (5xx, a timeout, a connection lost) is reported as such — the
//! message may or may not have gone out — never sent again.

use aws_sdk_sns::config::http::HttpResponse;
use aws_sdk_sns::config::retry::RetryConfig;
use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sns::types::MessageAttributeValue;

use crate::State;

/// SNS's limit for an email subject: less than 100 printable ASCII characters, one line.
pub const SUBJECT_MAX: usize = 99;

/// A message's body is cut to this many bytes (SNS takes 256 KiB with the attributes).
pub const BODY_MAX: usize = 240 * 1024;

/// Refusals that say nothing went out and a later try may pass: tried again, at most
/// [`ATTEMPTS`] in all.
const PASSING: [&str; 3] = ["Throttled", "ThrottlingException", "KMSThrottling"];
pub const ATTEMPTS: u32 = 3;

/// How a publish sent once failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// No clear answer: the message may have gone out, so it is not sent again.
    #[error("SNS Publish to {topic_arn} got no clear answer ({code}: {message}); the message may or may not have been delivered and is not sent again")]
    Unclear {
        topic_arn: String,
        code: String,
        message: String,
    },
    /// SNS refused it: nothing went out.
    #[error("SNS refused Publish to {topic_arn} ({code}: {message}); nothing was sent: check that NOTIFY_TOPIC_ARN names an existing topic and that the function may sns:Publish to it")]
    Refused {
        topic_arn: String,
        code: String,
        message: String,
    },
}

/// A string message attribute (for subscription filter policies).
fn attribute(value: &str) -> Result<MessageAttributeValue, String> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| e.to_string())
}

/// The body cut to [`BODY_MAX`] bytes (on a character boundary), saying so.
pub fn fit_body(body: &str) -> std::borrow::Cow<'_, str> {
    if body.len() <= BODY_MAX {
        return body.into();
    }
    let mut end = BODY_MAX;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n... (cut: the message was longer than SNS takes; the function's log has the whole event)",
        &body[..end]
    )
    .into()
}

/// Publishes one message once, with string message attributes; its MessageId. A refusal that
/// says nothing went out and may pass (throttling) is tried again, at most [`ATTEMPTS`] times
/// in all; an unclear answer never.
pub async fn publish_once(
    state: &State,
    topic_arn: &str,
    subject: &str,
    body: &str,
    attributes: &[(&str, &str)],
) -> Result<String, PublishError> {
    let mut request = state
        .sns
        .publish()
        .topic_arn(topic_arn)
        .subject(subject)
        .message(fit_body(body));
    for (name, value) in attributes {
        let value = attribute(value).map_err(|message| PublishError::Refused {
            topic_arn: topic_arn.to_string(),
            code: "RequestConstruction".into(),
            message,
        })?;
        request = request.message_attributes(*name, value);
    }
    let mut attempt = 1;
    loop {
        let sent = request
            .clone()
            .customize()
            .config_override(aws_sdk_sns::Config::builder().retry_config(RetryConfig::disabled()))
            .send()
            .await;
        match sent.map_err(|e| publish_error(topic_arn, e)) {
            Err(PublishError::Refused { code, .. })
                if attempt < ATTEMPTS && PASSING.contains(&code.as_str()) =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
                attempt += 1;
            }
            sent => return sent.map(|out| out.message_id().unwrap_or_default().to_string()),
        }
    }
}

/// Unclear (it may have gone out) or refused (nothing did), in SNS's words; an unclear 5xx is
/// named by its HTTP status.
fn publish_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    topic_arn: &str,
    err: SdkError<E, HttpResponse>,
) -> PublishError {
    let topic_arn = topic_arn.to_string();
    let (mut code, message) = super::code_and_message(&err);
    if !super::is_unclear(&err) {
        return PublishError::Refused {
            topic_arn,
            code,
            message,
        };
    }
    if let SdkError::ServiceError(service) = &err {
        code = format!("HTTP {}", service.raw().status().as_u16());
    }
    PublishError::Unclear {
        topic_arn,
        code,
        message,
    }
}
