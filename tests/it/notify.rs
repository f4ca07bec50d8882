//! Notifications: the SNS adapter driven through aws-smithy-mocks (the exact Publish, sent
//! once; a lost answer and a refusal told apart; a lost claim publishes nothing), and the
//! claim raced on moto (of 8 senders of one message, one publishes, 50 times).

use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{mock, Rule};
use futures_util::future::join_all;
use glue_label_importer::lifecycle::ledger::Ledger;
use glue_label_importer::notify::{self, Event, Notice, Sent};
use glue_label_importer::{Config, State};
use local_stack::{Stack, BUCKET};

use crate::mocks::{state, with_sns, TFM};

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:labels-news";

fn notice(name: &str) -> Notice {
    Notice {
        event: Event::RoundEvaluated,
        transform_id: TFM.into(),
        name: name.into(),
        subject: "Round 1 of tfm: AUPRC 0.5234 (first)".into(),
        body: "Round 1 was evaluated.".into(),
    }
}

fn config() -> Config {
    Config {
        notify_topic_arn: Some(TOPIC.into()),
        ..Config::default()
    }
}

fn sns_error(status: u16, code: &str, message: &str) -> Rule {
    let body = format!(
        "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
    );
    mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_status(status, Some(body))
        .repeatedly()
        .build()
}

#[tokio::test]
async fn a_message_is_published_once_with_its_subject_body_and_attributes() {
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| {
            let attribute = |name: &str| {
                r.message_attributes()
                    .and_then(|a| a.get(name))
                    .map(|v| (v.data_type(), v.string_value()))
            };
            r.topic_arn() == Some(TOPIC)
                && r.subject() == Some("Round 1 of tfm: AUPRC 0.5234 (first)")
                && r.message() == Some("Round 1 was evaluated.")
                && attribute("event") == Some(("String", Some("round-evaluated")))
                && attribute("transformId") == Some(("String", Some(TFM)))
                && r.message_attributes().map(|a| a.len()) == Some(2)
        })
        .then_output(|| PublishOutput::builder().message_id("m-1").build());
    let state = with_sns(state(config(), &[], &[]), &[&publish]);
    let ledger = Ledger::new(&state.s3, "bkt", &state.config.ledger_prefix);
    let sent = notify::send(&state, &ledger, notice("round-evaluated-tsk-1")).await;
    assert_eq!(
        sent,
        Sent::Published {
            message_id: "m-1".into()
        }
    );
    assert_eq!(publish.num_calls(), 1);
}

#[tokio::test]
async fn a_publish_without_a_clear_answer_is_not_sent_again() {
    let lost = sns_error(500, "InternalError", "We encountered an internal error");
    let state = with_sns(state(config(), &[], &[]), &[&lost]);
    let ledger = Ledger::new(&state.s3, "bkt", &state.config.ledger_prefix);
    let sent = notify::send(&state, &ledger, notice("round-evaluated-tsk-2")).await;
    assert_eq!(
        sent,
        Sent::Unclear(format!("SNS Publish to {TOPIC} got no clear answer (HTTP 500: We encountered an internal error); the message may or may not have been delivered and is not sent again"))
    );
    assert_eq!(lost.num_calls(), 1, "the SDK's retry is off for Publish");
}

#[tokio::test]
async fn a_refused_publish_says_what_to_check() {
    let refused = sns_error(404, "NotFound", "Topic does not exist");
    let state = with_sns(state(config(), &[], &[]), &[&refused]);
    let ledger = Ledger::new(&state.s3, "bkt", &state.config.ledger_prefix);
    let sent = notify::send(&state, &ledger, notice("round-evaluated-tsk-3")).await;
    assert_eq!(
        sent,
        Sent::NotSent(format!("SNS refused Publish to {TOPIC} (NotFound: Topic does not exist); nothing was sent: check that NOTIFY_TOPIC_ARN names an existing topic and that the function may sns:Publish to it"))
    );
    assert_eq!(refused.num_calls(), 1);
}

#[tokio::test]
async fn without_a_topic_nothing_is_claimed_or_published() {
    let publish = mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("m-1").build());
    let writes = mock!(aws_sdk_s3::Client::put_object)
        .then_output(|| aws_sdk_s3::operation::put_object::PutObjectOutput::builder().build());
    let state = with_sns(state(Config::default(), &[&writes], &[]), &[&publish]);
    let ledger = Ledger::new(&state.s3, "bkt", &state.config.ledger_prefix);
    let sent = notify::send(&state, &ledger, notice("round-evaluated-tsk-4")).await;
    assert_eq!(sent, Sent::Off);
    assert_eq!((publish.num_calls(), writes.num_calls()), (0, 0));
}

/// The state of a deployment whose S3 and SNS are moto (path-style), publishing to `topic`.
async fn on_moto(stack: &Stack, topic: &str) -> State {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .endpoint_url(stack.lease.moto.url())
        .load()
        .await;
    let config = Config {
        notify_topic_arn: Some(topic.into()),
        s3_force_path_style: true,
        ..Config::default()
    };
    State::from_sdk_config(config, &sdk)
}

#[tokio::test]
async fn of_concurrent_senders_of_one_message_one_publishes_50_times() {
    let stack = Stack::start(&[]).await;
    let topic = stack.topic("race").await;
    let state = on_moto(&stack, &topic.arn).await;
    let ledger = Ledger::new(&state.s3, BUCKET, &state.config.ledger_prefix);
    for round in 0..50 {
        let n = notice(&format!("round-evaluated-race-{round}"));
        let sent = join_all((0..8).map(|_| notify::send(&state, &ledger, n.clone()))).await;
        let published = sent
            .iter()
            .filter(|s| matches!(s, Sent::Published { .. }))
            .count();
        let elsewhere = sent
            .iter()
            .filter(|s| **s == Sent::ClaimedElsewhere)
            .count();
        assert_eq!((published, elsewhere), (1, 7), "round {round}: {sent:?}");
    }
    let messages = stack.messages(&topic).await;
    assert_eq!(messages.len(), 50);
}
