//! End to end, the notifications (NOTIFY_TOPIC_ARN): the real Lambda binary's ticks against
//! moto's SNS (a queue subscribed to the topic reads what a person gets) and glue-local — one
//! message per event with its attributes and the commands to paste, none without a topic,
//! one per event under concurrent ticks, and a publish whose answer was lost not repeated.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::future::join_all;
use glue_local::Settings;
use local_stack::proxy::Proxy;
use local_stack::{response, topic_arn, Message, Stack, Topic, BUCKET, SAMPLE, SAMPLE_ROWS};
use serde_json::Value;

const TFM: &str = "tfm-00000000000000000000000000000000000000ee";
const GLUE_SAYS: &str = "Labeling set 022ce3ed is not one of this transform's labeling sets.";

fn quick() -> Settings {
    Settings {
        ready_label_count: SAMPLE_ROWS.into(),
        task_run_duration: Duration::from_millis(100),
        evaluation_run_duration: Duration::from_millis(100),
        ..Settings::default()
    }
}

/// glue-local's AUPRC for `labels` labels (its documented model, synthetic table).
fn auprc(labels: i64) -> f64 {
    let columns = ["id", "name", "city"].map(String::from);
    glue_local::findmatches::metrics(labels, None, &columns, None)["AreaUnderPRCurve"]
        .as_f64()
        .unwrap()
}

/// Uploads the sample as `labels/<TFM>/<name>.csv` and delivers its event; its key.
async fn upload(stack: &Stack, name: &str, fail: bool) -> String {
    let key = format!("labels/{TFM}/{name}.csv");
    if fail {
        stack.fail_next_run(&key, GLUE_SAYS);
    }
    let file = stack.upload(&key, SAMPLE, &[], None).await;
    response(stack.invoke(&[&file]).await);
    key
}

/// Ticks until the topic's queue has received `count` messages in all (more would show up in
/// the caller's assertions); all of them.
async fn tick_until_messages(stack: &Stack, topic: &Topic, count: usize) -> Vec<Message> {
    let mut got = Vec::new();
    for _ in 0..300 {
        stack.tick().await;
        got.extend(stack.messages(topic).await);
        if got.len() >= count {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!(
        "{} of {count} messages: {got:#?}\n{}",
        got.len(),
        stack.logs()
    )
}

async fn claims(stack: &Stack) -> Vec<Value> {
    let prefix = format!("glue-label-importer/notifications/{TFM}/");
    let mut claims = Vec::new();
    for uri in stack.keys(&prefix).await {
        claims.push(stack.ledger_entry(&Value::String(uri)).await);
    }
    claims
}

#[tokio::test]
async fn each_event_sends_one_message_a_person_can_act_on() {
    // Round 1 (8 labels) stays under the target; round 2 (16) reaches it: the loop stops.
    let target = (auprc(8) + auprc(16)) / 2.0;
    let target_env = format!("{target:.6}");
    let arn = topic_arn("labels-news");
    let env = [
        ("TEACHING_LOOP", "evaluate-and-generate"),
        ("LOOP_QUIET_SECONDS", "0"),
        ("TARGET_AUPRC", target_env.as_str()),
        ("NOTIFY_TOPIC_ARN", arn.as_str()),
    ];
    let stack = Stack::start_with(quick(), &env).await;
    let topic = stack.topic("labels-news").await;
    assert_eq!(topic.arn, arn);
    stack.transform(TFM).await;

    // An import Glue fails.
    let bad = upload(&stack, "bad", true).await;
    let got = tick_until_messages(&stack, &topic, 1).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let failed = &got[0];
    assert_eq!(
        (failed.event.as_str(), failed.transform_id.as_str()),
        ("import-failed", TFM)
    );
    assert_eq!(
        failed.subject,
        format!("Label import FAILED ({TFM}): bad.csv")
    );
    let object = format!("s3://{BUCKET}/{bad}");
    for line in [
        format!("The label file {object} was not imported into FindMatches transform {TFM}."),
        format!("    {GLUE_SAYS}"),
        "    import-labels validate bad.csv".to_string(),
        format!("    aws s3 cp bad.csv {object}"),
        format!("    import-labels import {object} --force"),
    ] {
        assert!(
            failed.body.lines().any(|l| l == line),
            "{line:?} in\n{}",
            failed.body
        );
    }

    // Round 1: evaluated, then its labeling set.
    upload(&stack, "round-1", false).await;
    let got = tick_until_messages(&stack, &topic, 2).await;
    let events: Vec<&str> = got.iter().map(|m| m.event.as_str()).collect();
    assert_eq!(
        events,
        ["round-evaluated", "labeling-set-ready"],
        "{got:#?}"
    );
    let evaluated = &got[0];
    assert_eq!(
        evaluated.subject,
        format!("Round 1 of {TFM}: AUPRC {:.4} (first)", auprc(8))
    );
    assert!(
        evaluated.body.contains(&format!(
            "AreaUnderPRCurve  {:>10}  -",
            format!("{:.4}", auprc(8))
        )),
        "{}",
        evaluated.body
    );
    let ready = &got[1];
    assert_eq!(ready.transform_id, TFM);
    assert_eq!(
        ready.subject,
        format!("Labeling set ready: round 2 of {TFM}")
    );
    let listed = stack.keys(&format!("labeling-sets/{TFM}/round-2/")).await;
    assert_eq!(listed.len(), 1);
    let set = &listed[0];
    for line in [
        format!("    aws s3 cp {set} round-2.csv"),
        "    import-labels validate round-2.csv".to_string(),
        format!("    aws s3 cp round-2.csv s3://{BUCKET}/labels/{TFM}/round-2.csv"),
    ] {
        assert!(
            ready.body.lines().any(|l| l == line),
            "{line:?} in\n{}",
            ready.body
        );
    }

    // Round 2 reaches the target: evaluated, with its change, and the loop stops.
    upload(&stack, "round-2", false).await;
    let got = tick_until_messages(&stack, &topic, 2).await;
    let events: Vec<&str> = got.iter().map(|m| m.event.as_str()).collect();
    assert_eq!(events, ["round-evaluated", "loop-stopped"], "{got:#?}");
    let change = ((auprc(16) - auprc(8)) * 10_000.0).round() / 10_000.0;
    assert_eq!(
        got[0].subject,
        format!("Round 2 of {TFM}: AUPRC {:.4} ({change:+.4})", auprc(16))
    );
    assert!(
        got[0].body.contains("change from round 1"),
        "{}",
        got[0].body
    );
    let stopped = &got[1];
    assert_eq!(
        stopped.subject,
        format!("Loop stopped (target reached) after round 2 of {TFM}")
    );
    let target_read: f64 = format!("{target:.6}").parse().unwrap();
    assert!(
        stopped
            .body
            .contains(&format!("reached TARGET_AUPRC {target_read}")),
        "{}",
        stopped.body
    );
    assert!(
        stopped.body.contains(&format!(
            "    import-labels generate --transform-id {TFM} --bucket {BUCKET}"
        )),
        "{}",
        stopped.body
    );

    // Nothing more: more ticks send nothing again; each message has its claim, PUBLISHED.
    for _ in 0..3 {
        stack.tick().await;
    }
    assert_eq!(stack.messages(&topic).await, vec![]);
    let claims = claims(&stack).await;
    assert_eq!(claims.len(), 5, "{claims:#?}");
    assert!(
        claims
            .iter()
            .all(|c| c["delivery"] == "PUBLISHED" && c["messageId"].is_string()),
        "{claims:#?}"
    );
}

#[tokio::test]
async fn without_a_topic_nothing_is_sent_or_claimed() {
    let stack = Stack::start_with(quick(), &[]).await;
    let topic = stack.topic("labels-news").await;
    stack.transform(TFM).await;
    upload(&stack, "bad", true).await;
    for _ in 0..100 {
        let tick = stack.tick().await;
        if tick["tick"]["finished"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(stack.logs().contains("import finished"), "{}", stack.logs());
    assert_eq!(stack.messages(&topic).await, vec![]);
    assert_eq!(claims(&stack).await, Vec::<Value>::new());
}

#[tokio::test]
async fn concurrent_ticks_send_one_message_per_event() {
    let arn = topic_arn("labels-news");
    let env = [("NOTIFY_TOPIC_ARN", arn.as_str())];
    let stack = Stack::start_with(quick(), &env).await;
    let _others = stack.more_instances(2, &env);
    let topic = stack.topic("labels-news").await;
    stack.transform(TFM).await;
    for round in 0..50 {
        let key = upload(&stack, &format!("bad-{round}"), true).await;
        let mut got = Vec::new();
        for _ in 0..100 {
            join_all((0..3).map(|_| stack.tick())).await;
            got.extend(stack.messages(&topic).await);
            if !got.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Late copies would arrive with the next ticks.
        join_all((0..3).map(|_| stack.tick())).await;
        got.extend(stack.messages(&topic).await);
        assert_eq!(got.len(), 1, "round {round}: {got:#?}");
        assert_eq!(got[0].event, "import-failed");
        assert!(got[0].body.contains(&key), "round {round}: {}", got[0].body);
    }
}

#[tokio::test]
async fn a_publish_whose_answer_was_lost_is_not_repeated() {
    // SNS behind a proxy that loses the answer of the next POST: the message goes out, the
    // function gets a 500.
    let moto_url = {
        let lease = glue_local::moto::lease().await.expect("moto");
        let url = lease.moto.url();
        drop(lease);
        url
    };
    let proxy = Proxy::start(&moto_url, Duration::ZERO).await;
    let arn = topic_arn("labels-news");
    let env = [
        ("NOTIFY_TOPIC_ARN", arn.as_str()),
        ("AWS_ENDPOINT_URL_SNS", proxy.url.as_str()),
    ];
    let stack = Stack::start_with(quick(), &env).await;
    let topic = stack.topic("labels-news").await;
    stack.transform(TFM).await;
    proxy.lose_next_post().store(true, Ordering::SeqCst);
    upload(&stack, "bad", true).await;
    let got = tick_until_messages(&stack, &topic, 1).await;
    for _ in 0..3 {
        stack.tick().await;
    }
    let mut all = got;
    all.extend(stack.messages(&topic).await);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(
        !proxy.lose_next_post().load(Ordering::SeqCst),
        "the answer was lost"
    );
    let logs = stack.logs();
    assert!(
        logs.contains("notification not repeated: SNS Publish to arn:aws:sns:us-east-1:123456789012:labels-news got no clear answer"),
        "{logs}"
    );
    let claims = claims(&stack).await;
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0]["delivery"], "UNCLEAR", "{claims:#?}");
}
