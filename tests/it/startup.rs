//! Start-up stays lean: the real binary reads its configuration, builds its clients and asks
//! for its first event without opening a single connection — no S3, Glue, credential or
//! instance-metadata call before there is work to do.

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use local_stack::runtime_api::RuntimeApi;
use local_stack::spawn_function;
use tokio::net::TcpListener;

#[tokio::test]
async fn the_function_polls_for_its_first_event_without_any_network_call() {
    // One loopback listener stands in for every endpoint the SDK could reach at start-up.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    let accept = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    let runtime = RuntimeApi::start().await;
    let env = [
        ("AWS_EC2_METADATA_DISABLED", "false"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", url.as_str()),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.as_str()),
    ];
    let mut function = spawn_function(&runtime, &url, &url, &env, Stdio::null);

    tokio::time::timeout(Duration::from_secs(30), runtime.first_poll())
        .await
        .expect("the function asks for an event");
    // Anything started eagerly would have connected by now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(connections.load(Ordering::SeqCst), 0);

    let _ = function.kill();
    let _ = function.wait();
    accept.abort();
}
