//! Notifications: one message for a person per event, through the SNS topic
//! `NOTIFY_TOPIC_ARN` (nothing is sent without one).
//!
//! ```text
//!  an event recorded (by the one writer whose compare-and-set recorded it)
//!    ──► claim <LEDGER_PREFIX>notifications/<transform-id>/<event>-<id>.json   (If-None-Match: *)
//!          lost: another process claimed it ──► nothing
//!    ──► Publish once, without the SDK's retry (attributes event, transformId)
//!    ──► the claim records the MessageId, or that the answer was lost (not sent again)
//! ```
//!
//! At most once per event: concurrent ticks meet the same claim key, and a publish whose answer
//! was lost is never repeated (the log and the claim say so). The events: [`Event`]; their
//! texts: [`message`].

pub mod message;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::{error, info, warn};

use crate::aws::documents::{Document, Replaced};
use crate::aws::sns::{self, PublishError};
use crate::lifecycle::ledger::Ledger;
use crate::State;

/// What a person is told about. A successful import sends nothing (the object's tag shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    /// An import Glue ran and ended FAILED or TIMEOUT, or refused to start.
    ImportFailed,
    /// A labeling set was generated: download it, label it, upload it.
    LabelingSetReady,
    /// A round's evaluation SUCCEEDED.
    RoundEvaluated,
    /// The loop stopped generating labeling sets (target reached or plateau).
    LoopStopped,
}

impl Event {
    /// The `event` message attribute, for subscription filter policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::ImportFailed => "import-failed",
            Event::LabelingSetReady => "labeling-set-ready",
            Event::RoundEvaluated => "round-evaluated",
            Event::LoopStopped => "loop-stopped",
        }
    }
}

/// One message for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub event: Event,
    pub transform_id: String,
    /// Unique to the event (`<event>-<upload or task run id>`): its claim's name.
    pub name: String,
    pub subject: String,
    pub body: String,
}

/// How a claimed message's publish came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Delivery {
    /// Claimed; the publish's answer is not recorded yet (or this process stopped before it).
    Claimed,
    Published,
    /// No clear answer: it may have gone out; never sent again.
    Unclear,
    /// SNS refused it: nothing went out.
    Refused,
}

/// The claim of one message in the ledger: created only when absent, so one process publishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claim {
    pub format: u32,
    pub revision: u64,
    pub event: Event,
    pub transform_id: String,
    pub topic_arn: String,
    pub subject: String,
    pub claimed_at: DateTime<Utc>,
    pub delivery: Delivery,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Document for Claim {
    const NAME: &'static str = "notification claim";
    const FORMAT: u32 = 1;
    fn revision_mut(&mut self) -> &mut u64 {
        &mut self.revision
    }
}

/// What [`send`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// No topic is configured.
    Off,
    /// Another process claimed this message first.
    ClaimedElsewhere,
    Published {
        message_id: String,
    },
    /// Not sent: the claim could not be written (S3) or SNS refused.
    NotSent(String),
    /// Sent without a clear answer: not repeated.
    Unclear(String),
}

/// Sends the notice once for its event: claim, publish once, record the delivery. Never fails
/// the caller: every outcome is logged.
pub async fn send(state: &State, ledger: &Ledger<'_>, notice: Notice) -> Sent {
    let Some(topic_arn) = state.config.notify_topic_arn.as_deref() else {
        return Sent::Off;
    };
    let (event, transform_id) = (notice.event.as_str(), notice.transform_id.as_str());
    let key = ledger.notification_key(transform_id, &notice.name);
    let claim = Claim {
        format: Claim::FORMAT,
        revision: 0,
        event: notice.event,
        transform_id: transform_id.to_string(),
        topic_arn: topic_arn.to_string(),
        subject: notice.subject.clone(),
        claimed_at: crate::now(),
        delivery: Delivery::Claimed,
        message_id: None,
        error: None,
    };
    let held = match ledger.documents().create(&key, claim).await {
        Ok(Replaced::Written(held)) => held,
        Ok(Replaced::Superseded | Replaced::Gone) => return Sent::ClaimedElsewhere,
        Err(e) => {
            error!(
                event,
                transform_id,
                claim = key,
                "notification not sent: its claim could not be written: {e}"
            );
            return Sent::NotSent(e.to_string());
        }
    };
    let attributes = [("event", event), ("transformId", transform_id)];
    let published =
        sns::publish_once(state, topic_arn, &notice.subject, &notice.body, &attributes).await;
    let (delivery, message_id, failure, sent) = match published {
        Ok(message_id) => {
            info!(
                event,
                transform_id,
                message_id,
                subject = notice.subject,
                "notification sent"
            );
            let sent = Sent::Published {
                message_id: message_id.clone(),
            };
            (Delivery::Published, Some(message_id), None, sent)
        }
        Err(e @ PublishError::Unclear { .. }) => {
            warn!(
                event,
                transform_id,
                claim = key,
                "notification not repeated: {e}"
            );
            (
                Delivery::Unclear,
                None,
                Some(e.to_string()),
                Sent::Unclear(e.to_string()),
            )
        }
        Err(e @ PublishError::Refused { .. }) => {
            error!(
                event,
                transform_id,
                claim = key,
                "notification not sent: {e}"
            );
            (
                Delivery::Refused,
                None,
                Some(e.to_string()),
                Sent::NotSent(e.to_string()),
            )
        }
    };
    let recorded = ledger
        .documents()
        .replace(held, |claim| {
            claim.delivery = delivery;
            claim.message_id = message_id;
            claim.error = failure;
        })
        .await;
    if let Err(e) = recorded {
        warn!(
            event,
            transform_id,
            claim = key,
            "the notification's delivery was not recorded in its claim: {e}"
        );
    }
    sent
}
