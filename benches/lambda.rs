//! `make bench`: the release Lambda binary against the local stack (moto S3, glue-local, a
//! loopback Runtime API) — cold start, warm latency, a 100-record event, a five-file burst
//! through one transform's lane (in ticks), peak memory and sizes — printed as a table and
//! written to `<target>/bench/lambda.json`.
//!
//! Each 1-record invocation imports a fresh file into its own transform, so every run does
//! the full pipeline against an empty history: HeadObject ‖ Glue's recent imports ‖ the
//! preflight's GetObject ‖ the lane's GetObject; the lane's write ‖ the marker; the entry; the
//! start ‖ the tags read; the recorded run ‖ the tags written — 11 requests in 5 round trips. The
//! floor beside the latencies is the local stack itself: the same requests made directly from
//! here, with the same concurrency.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_glue::types::{TaskRunFilterCriteria, TaskType};
use common::peak_rss_kib;
use local_stack::proxy::Proxy;
use local_stack::runtime_api::{Reply, RuntimeApi};
use local_stack::{glue_client, s3_event, spawn_function, Stack, Uploaded, BUCKET, SAMPLE};
use serde_json::json;

const COLD_STARTS: usize = 20;
const WARM_RUNS: usize = 50;
const BATCH_RECORDS: usize = 100;
const BURST_FILES: usize = 5;
/// Modelled network latency per request, and its runs.
const LATENCY: Duration = Duration::from_millis(20);
const LATENCY_RUNS: usize = 20;
/// The bench's tick interval (deployed: TickSchedule, 1 minute); glue-local's imports take
/// 600 ms, so each tick finds the import ahead ended.
const TICK_EVERY: Duration = Duration::from_secs(1);
/// Goals from the issue: cold start to first poll, peak RSS, arm64 zip.
const GOAL_FIRST_POLL_MS: f64 = 10.0;
const GOAL_RSS_MIB: f64 = 20.0;
const GOAL_ZIP_BYTES: u64 = 3_000_000;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median and 90th percentile (nearest rank) of `samples`, in ms.
fn median_p90(samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at =
        |q: f64| samples[((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
    (at(0.5), at(0.9))
}

fn transform_id(n: usize) -> String {
    format!("tfm-{n:040x}")
}

fn imported(reply: &Reply, records: usize) {
    match reply {
        Reply::Response(r) if r["imported"].as_array().map(Vec::len) == Some(records) => {}
        other => panic!("expected {records} imported record(s), got {other:?}"),
    }
}

/// A fresh transform and a fresh file for it.
async fn fresh_file(stack: &Stack, n: usize) -> Uploaded {
    let id = transform_id(n);
    stack.transform(&id).await;
    stack
        .upload(&format!("labels/{id}/round-1.csv"), SAMPLE, &[], None)
        .await
}

/// The eleven requests the function makes for one record, made directly with the same
/// concurrency (five round trips): the stack's own time.
async fn floor(
    (s3, glue): (&aws_sdk_s3::Client, &aws_sdk_glue::Client),
    file: &Uploaded,
    transform: &str,
) -> f64 {
    let started = Instant::now();
    let ledger = format!("glue-label-importer/entries/{transform}/floor.json");
    let lane_key = format!("glue-label-importer/lanes/{transform}-floor.json");
    let marker_key = format!("glue-label-importer/open/{transform}/floor");
    // 1: HeadObject ‖ Glue's recent imports ‖ the preflight's read ‖ the lane.
    let filter = TaskRunFilterCriteria::builder()
        .task_run_type(TaskType::ImportLabels)
        .build();
    let head = s3.head_object().bucket(BUCKET).key(&file.key).send();
    let recent = glue
        .get_ml_task_runs()
        .transform_id(transform)
        .filter(filter)
        .send();
    let file_read = async {
        let object = s3.get_object().bucket(BUCKET).key(&file.key).send().await;
        object
            .expect("GetObject")
            .body
            .collect()
            .await
            .expect("object body");
    };
    let lane_read = s3.get_object().bucket(BUCKET).key(&lane_key).send();
    let (head, recent, (), _absent) = tokio::join!(head, recent, file_read, lane_read);
    head.expect("HeadObject");
    recent.expect("GetMLTaskRuns");
    // 2: the lane's write ‖ the marker.
    let lane = s3
        .put_object()
        .bucket(BUCKET)
        .key(&lane_key)
        .if_none_match("*");
    let lane = lane.body(b"{\"revision\":1}".to_vec().into()).send();
    let marker = s3
        .put_object()
        .bucket(BUCKET)
        .key(&marker_key)
        .if_none_match("*");
    let (lane, marker) = tokio::join!(lane, marker.send());
    lane.expect("PutObject (lane)");
    marker.expect("PutObject (marker)");
    // 3: the entry created marked.
    let create = s3
        .put_object()
        .bucket(BUCKET)
        .key(&ledger)
        .if_none_match("*");
    let created = create
        .body(b"{\"revision\":1}".to_vec().into())
        .send()
        .await;
    let etag = created
        .expect("PutObject (entry)")
        .e_tag
        .unwrap_or_default();
    // 4: the start ‖ the object's tags read.
    let path = format!("s3://{BUCKET}/{}", file.key);
    let start = glue.start_import_labels_task_run().transform_id(transform);
    let start = start.input_s3_path(path).send();
    let tags = s3.get_object_tagging().bucket(BUCKET).key(&file.key).send();
    let (started_run, tags) = tokio::join!(start, tags);
    started_run.expect("StartImportLabelsTaskRun");
    tags.expect("GetObjectTagging");
    // 5: the recorded run ‖ the receipt and status tags written.
    let record = s3.put_object().bucket(BUCKET).key(&ledger).if_match(etag);
    let record = record.body(b"{\"revision\":2}".to_vec().into()).send();
    let tagging = aws_sdk_s3::types::Tagging::builder()
        .tag_set(
            aws_sdk_s3::types::Tag::builder()
                .key("glue-import-task-run-id")
                .value("tsk-floor")
                .build()
                .expect("tag"),
        )
        .build()
        .expect("tagging");
    let put = s3.put_object_tagging().bucket(BUCKET).key(&file.key);
    let (recorded, tagged) = tokio::join!(record, put.tagging(tagging).send());
    recorded.expect("PutObject (record)");
    tagged.expect("PutObjectTagging");
    ms(started.elapsed())
}

/// The boto3 peer (benches/peer/handler.py) as a Lambda custom runtime against `runtime`.
fn spawn_peer(runtime: &RuntimeApi, s3_url: &str, glue_url: &str) -> std::process::Child {
    let python = std::env::var("VENV_PYTHON").unwrap_or_else(|_| ".venv/bin/python".into());
    std::process::Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/peer/handler.py"
        ))
        .env_clear()
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", runtime.addr.to_string().as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_ENDPOINT_URL_S3", s3_url),
            ("AWS_ENDPOINT_URL_GLUE", glue_url),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/nonexistent"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the boto3 peer (VENV_PYTHON with boto3)")
}

/// Records per second of the criterion intake benchmarks (`benches/intake.rs`), from their
/// latest estimates, when `make bench` ran them first.
fn intake_rates(target: &std::path::Path) -> Vec<(&'static str, f64)> {
    [
        ("s3_notification_100_records", 100.0),
        ("sqs_batch_10_messages", 10.0),
        ("eventbridge_1_record", 1.0),
    ]
    .into_iter()
    .filter_map(|(name, records)| {
        let path = target.join(format!("criterion/intake/{name}/new/estimates.json"));
        let estimates: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        let ns = estimates["mean"]["point_estimate"].as_f64()?;
        Some((name, records * 1e9 / ns))
    })
    .collect()
}

fn zip_size() -> Option<u64> {
    let path = std::env::var_os("ARM64_ZIP")?;
    std::fs::metadata(path).ok().map(|m| m.len())
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let stack = Stack::start(&[]).await;
    let (moto, glue) = (stack.lease.moto.url(), stack.glue_local.url());
    // Counts the transforms: each 1-record run gets a new one.
    let mut n = 0;

    // Cold starts: a new process per run; first poll, then its first (real) invocation.
    let mut first_poll = Vec::new();
    let mut first_response = Vec::new();
    for _ in 0..COLD_STARTS {
        n += 1;
        let file = fresh_file(&stack, n).await;
        let runtime = RuntimeApi::start().await;
        let spawned = Instant::now();
        let mut child = spawn_function(&runtime, &moto, &glue, &[], Stdio::null);
        let polled = runtime.first_poll().await;
        let reply = runtime.invoke(&s3_event(&[&file])).await;
        let responded = Instant::now();
        imported(&reply, 1);
        first_poll.push(ms(polled - spawned));
        first_response.push(ms(responded - spawned));
        let _ = child.kill();
        let _ = child.wait();
    }

    // Warm: the stack's own function process, after one warm-up invocation.
    n += 1;
    let warm_up = fresh_file(&stack, n).await;
    imported(&stack.invoke(&[&warm_up]).await, 1);
    let mut warm = Vec::new();
    let mut floors = Vec::new();
    for _ in 0..WARM_RUNS {
        n += 1;
        let file = fresh_file(&stack, n).await;
        let started = Instant::now();
        let reply = stack.invoke(&[&file]).await;
        warm.push(ms(started.elapsed()));
        imported(&reply, 1);
        n += 1;
        let other = fresh_file(&stack, n).await;
        floors.push(floor((&stack.s3, &stack.glue), &other, &transform_id(n)).await);
    }

    // The peer: a plain boto3 handler making the six requests of the design before the ledger
    // one after another (benches/peer/handler.py), warm, on the same stack.
    let peer_runtime = RuntimeApi::start().await;
    let mut peer = spawn_peer(&peer_runtime, &moto, &glue);
    let mut peers = Vec::new();
    for i in 0..=WARM_RUNS {
        n += 1;
        let file = fresh_file(&stack, n).await;
        let started = Instant::now();
        let reply = peer_runtime.invoke(&s3_event(&[&file])).await;
        if i > 0 {
            peers.push(ms(started.elapsed())); // the first is the peer's warm-up
        }
        imported(&reply, 1);
    }
    let mut peer_batch = Vec::new();
    for _ in 0..BATCH_RECORDS {
        n += 1;
        peer_batch.push(fresh_file(&stack, n).await);
    }
    let refs: Vec<&Uploaded> = peer_batch.iter().collect();
    let started = Instant::now();
    let reply = peer_runtime.invoke(&s3_event(&refs)).await;
    let peer_batch_ms = ms(started.elapsed());
    imported(&reply, BATCH_RECORDS);
    let _ = peer.kill();
    let _ = peer.wait();

    // Modelled network latency: every request of the function, the peer and the floor held
    // LATENCY before it reaches moto or glue-local, as between Lambda and S3/Glue.
    let (s3_proxy, glue_proxy) = (
        Proxy::start(&moto, LATENCY).await,
        Proxy::start(&glue, LATENCY).await,
    );
    let (s3_slow, glue_slow) = (s3_proxy.url.clone(), glue_proxy.url.clone());
    let slow_s3 = glue_local::s3_client(&s3_slow, "us-east-1").await;
    let slow_glue = glue_client(&glue_slow);
    let slow_runtime = RuntimeApi::start().await;
    let mut slow_function = spawn_function(&slow_runtime, &s3_slow, &glue_slow, &[], Stdio::null);
    let peer_runtime = RuntimeApi::start().await;
    let mut slow_peer = spawn_peer(&peer_runtime, &s3_slow, &glue_slow);
    let (mut slow, mut slow_peers, mut slow_floors) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..=LATENCY_RUNS {
        for (runtime, samples) in [(&slow_runtime, &mut slow), (&peer_runtime, &mut slow_peers)] {
            n += 1;
            let file = fresh_file(&stack, n).await;
            let started = Instant::now();
            let reply = runtime.invoke(&s3_event(&[&file])).await;
            if i > 0 {
                samples.push(ms(started.elapsed()));
            }
            imported(&reply, 1);
        }
        n += 1;
        let other = fresh_file(&stack, n).await;
        let at = floor((&slow_s3, &slow_glue), &other, &transform_id(n)).await;
        if i > 0 {
            slow_floors.push(at);
        }
    }
    for child in [&mut slow_function, &mut slow_peer] {
        let _ = child.kill();
        let _ = child.wait();
    }

    // One event of 100 records, each for its own transform, so each starts (one transform's
    // would start one and queue 99 behind it in its lane).
    let mut files = Vec::new();
    for _ in 0..BATCH_RECORDS {
        n += 1;
        files.push(fresh_file(&stack, n).await);
    }
    let refs: Vec<&Uploaded> = files.iter().collect();
    let started = Instant::now();
    let reply = stack.invoke(&refs).await;
    let batch_ms = ms(started.elapsed());
    imported(&reply, BATCH_RECORDS);

    // One tick settles every import above (all ended in Glue by now): its time, and a clean
    // ledger for the burst.
    let settle_started = Instant::now();
    let settled = stack.tick().await;
    let settle_ms = ms(settle_started.elapsed());
    let settled_imports = settled["tick"]["finished"].as_array().map_or(0, Vec::len);

    // A burst: five files for one transform, each its own event (`aws s3 cp --recursive`),
    // then a tick every TICK_EVERY; how many ticks until the last one's import started.
    n += 1;
    let burst_transform = transform_id(n);
    stack.transform(&burst_transform).await;
    let mut burst = Vec::new();
    for i in 0..BURST_FILES {
        let key = format!("labels/{burst_transform}/burst-{i}.csv");
        let file = stack.upload(&key, SAMPLE, &[], None).await;
        match stack.invoke(&[&file]).await {
            Reply::Response(_) => burst.push(file),
            other => panic!("burst upload {i} failed: {other:?}"),
        }
    }
    let last_path = format!("s3://{BUCKET}/{}", burst[BURST_FILES - 1].key);
    let burst_started = Instant::now();
    let mut burst_ticks = 0;
    loop {
        tokio::time::sleep(TICK_EVERY).await;
        stack.tick().await;
        burst_ticks += 1;
        let runs = stack.import_runs(&burst_transform).await;
        let started = runs.iter().any(|r| local_stack::input_path(r) == last_path);
        if started || burst_ticks >= 50 {
            assert!(started, "the burst's last import never started");
            break;
        }
    }
    let burst_seconds = burst_started.elapsed().as_secs_f64();

    let rss_kib = peak_rss_kib(&stack.function_pid().to_string());
    let binary = env!("CARGO_BIN_EXE_glue-label-importer");
    let binary_bytes = std::fs::metadata(binary).map_or(0, |m| m.len());
    let zip_bytes = zip_size();

    let (poll_med, poll_p90) = median_p90(&mut first_poll);
    let (resp_med, resp_p90) = median_p90(&mut first_response);
    let (warm_med, warm_p90) = median_p90(&mut warm);
    let (floor_med, floor_p90) = median_p90(&mut floors);
    let (peer_med, peer_p90) = median_p90(&mut peers);
    let (slow_med, slow_p90) = median_p90(&mut slow);
    let (slow_peer_med, slow_peer_p90) = median_p90(&mut slow_peers);
    let (slow_floor_med, slow_floor_p90) = median_p90(&mut slow_floors);
    let latency_ms = ms(LATENCY);
    let rss_mib = rss_kib as f64 / 1024.0;

    println!();
    println!(
        "glue-label-importer, release binary, local stack on loopback ({} CPUs)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<44} {:>10} {:>10} {:>12}",
        "measure", "median", "p90", "goal"
    );
    println!(
        "{:<44} {:>7.2} ms {:>7.2} ms {:>12}",
        format!("cold start to first poll ({COLD_STARTS} spawns)"),
        poll_med,
        poll_p90,
        format!(
            "<= {GOAL_FIRST_POLL_MS} ms {}",
            verdict(poll_med <= GOAL_FIRST_POLL_MS)
        )
    );
    println!(
        "{:<44} {:>7.2} ms {:>7.2} ms",
        "cold start to first response (1 record)", resp_med, resp_p90
    );
    println!(
        "{:<44} {:>7.2} ms {:>7.2} ms",
        format!("warm 1-record event ({WARM_RUNS} runs)"),
        warm_med,
        warm_p90
    );
    println!(
        "{:<44} {:>7.2} ms {:>7.2} ms",
        "  floor: the same 11 requests, 5 round trips, made directly", floor_med, floor_p90
    );
    println!(
        "{:<44} {:>7.2} ms {:>7.2} ms {:>12}",
        "  peer: boto3, 6 requests one after another",
        peer_med,
        peer_p90,
        format!("{:.2}x", peer_med / warm_med)
    );
    println!(
        "{:<44} {:>7.2} ms {:>7.2} ms",
        format!("warm 1-record, {latency_ms} ms a request ({LATENCY_RUNS} runs)"),
        slow_med,
        slow_p90
    );
    println!(
        "{:<44} {:>7.2} ms {:>7.2} ms",
        "  floor: the same, 5 round trips", slow_floor_med, slow_floor_p90
    );
    println!(
        "{:<44} {:>7.2} ms {:>7.2} ms {:>12}",
        "  peer: boto3, 6 round trips",
        slow_peer_med,
        slow_peer_p90,
        format!("{:.2}x", slow_peer_med / slow_med)
    );
    println!(
        "{:<44} {:>7.1} ms",
        format!("{BATCH_RECORDS}-record event, wall time"),
        batch_ms
    );
    println!(
        "{:<44} {:>7.1} ms {:>23}",
        "  peer: the same 100 records",
        peer_batch_ms,
        format!("{:.2}x", peer_batch_ms / batch_ms)
    );
    println!(
        "{:<44} {:>7.1} ms",
        format!("one tick settling {settled_imports} ended imports"),
        settle_ms
    );
    println!(
        "{:<44} {:>7} ticks ({:.1} s)",
        format!("{BURST_FILES}-file burst: last upload to its start"),
        burst_ticks,
        burst_seconds
    );
    println!(
        "{:<44} {:>7.2} MiB {:>21}",
        "peak RSS (VmHWM) of the warm process",
        rss_mib,
        format!("<= {GOAL_RSS_MIB} MiB {}", verdict(rss_mib <= GOAL_RSS_MIB))
    );
    println!("{:<44} {:>10}", "release binary (x86_64)", binary_bytes);
    match zip_bytes {
        Some(z) => println!(
            "{:<44} {:>10} {:>23}",
            "arm64 deployment zip",
            z,
            format!("<= {GOAL_ZIP_BYTES} B {}", verdict(z <= GOAL_ZIP_BYTES))
        ),
        None => println!(
            "{:<44} {:>10}",
            "arm64 deployment zip", "not built (set ARM64_ZIP; make bench does)"
        ),
    }

    let target = std::path::PathBuf::from(
        std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()),
    );
    let rates = intake_rates(&target);
    for (name, per_second) in &rates {
        println!(
            "{:<44} {:>10.0} records/s",
            format!("intake: {name}"),
            per_second
        );
    }

    let results = json!({
        "intake_records_per_second": rates.iter().map(|(n, r)| (n.to_string(), json!(r))).collect::<serde_json::Map<_, _>>(),
        "cold_start_first_poll_ms": {"median": poll_med, "p90": poll_p90, "runs": COLD_STARTS, "goal_median": GOAL_FIRST_POLL_MS},
        "cold_start_first_response_ms": {"median": resp_med, "p90": resp_p90, "runs": COLD_STARTS},
        "warm_one_record_ms": {"median": warm_med, "p90": warm_p90, "runs": WARM_RUNS},
        "local_stack_floor_one_record_ms": {"median": floor_med, "p90": floor_p90, "runs": WARM_RUNS, "requests": 11, "round_trips": 5},
        "peer_boto3_one_record_ms": {"median": peer_med, "p90": peer_p90, "runs": WARM_RUNS, "requests": 6, "round_trips": 6},
        "peer_boto3_batch_ms": peer_batch_ms,
        "modelled_latency": {"per_request_ms": latency_ms, "runs": LATENCY_RUNS,
            "function_ms": {"median": slow_med, "p90": slow_p90},
            "floor_ms": {"median": slow_floor_med, "p90": slow_floor_p90},
            "peer_ms": {"median": slow_peer_med, "p90": slow_peer_p90}},
        "batch_event": {"records": BATCH_RECORDS, "transforms": BATCH_RECORDS, "wall_ms": batch_ms},
        "tick_settling": {"imports": settled_imports, "wall_ms": settle_ms},
        "burst": {"files": BURST_FILES, "max_imports_per_transform": 1, "tick_every_s": TICK_EVERY.as_secs_f64(),
                  "glue_run_s": 0.6, "last_upload_to_start_ticks": burst_ticks, "last_upload_to_start_s": burst_seconds},
        "peak_rss_kib": rss_kib,
        "release_binary_bytes": binary_bytes,
        "arm64_zip_bytes": zip_bytes,
        "goals_met": {
            "cold_start_first_poll": poll_med <= GOAL_FIRST_POLL_MS,
            "peak_rss": rss_mib <= GOAL_RSS_MIB,
            "arm64_zip": zip_bytes.map(|z| z <= GOAL_ZIP_BYTES),
        },
    });
    let dir = target.join("bench");
    std::fs::create_dir_all(&dir).expect("bench directory");
    let path = dir.join("lambda.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results).expect("json"))
        .expect("write results");
    println!("results: {}", path.display());
}
