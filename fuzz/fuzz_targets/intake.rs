//! Any bytes into the event intake and the key routing: as a whole invocation payload, as one
//! SQS message body, and as an object key. Never a panic (libFuzzer reports one as a crash),
//! and the memory one input makes the code hold at its peak stays within a fixed multiple of
//! the input's size (checked here with a counting allocator).

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use glue_label_importer::upload::intake::{decode_key, parse, Notification, Payload};
use glue_label_importer::upload::route::transform_id;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

/// Live bytes now, and the most since the last reset.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The bound: 64 bytes held per input byte, plus 64 KiB. A JSON value costs a few dozen bytes
/// per element (`[0,0,…]` is 2 input bytes per 32-byte `Value`, doubled while a Vec grows).
const BYTES_PER_INPUT_BYTE: usize = 64;
const SLACK: usize = 64 * 1024;

fn route_all(payload: Payload) {
    let notifications: Vec<Notification> = match payload {
        Payload::Event(n) => vec![n],
        Payload::Batch(messages) => messages.into_iter().filter_map(|m| m.body.ok()).collect(),
        Payload::Tick => vec![],
    };
    for notification in notifications {
        if let Notification::Records(records) = notification {
            for record in records {
                let _ = record.is_object_created();
                if let Ok(key) = decode_key(&record.raw_key) {
                    let _ = transform_id("labels/", &key);
                }
            }
        }
    }
}

fn run(data: &[u8]) {
    // The whole invocation payload.
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        if let Ok(payload) = parse(value) {
            route_all(payload);
        }
    }
    let text = String::from_utf8_lossy(data);
    // One SQS message body, in a well-formed batch.
    let batch = json!({"Records": [{"messageId": "m-1", "body": text, "eventSource": "aws:sqs",
                                     "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q"}]});
    if let Ok(payload) = parse(batch) {
        route_all(payload);
    }
    // An object key, under any prefix.
    if let Ok(key) = decode_key(&text) {
        let _ = transform_id("labels/", &key);
        let _ = transform_id("", &key);
    }
}

fuzz_target!(|data: &[u8]| {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    run(data);
    let held = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let bound = BYTES_PER_INPUT_BYTE * data.len() + SLACK;
    assert!(
        held <= bound,
        "{held} bytes held at the peak for a {}-byte input (bound {bound})",
        data.len()
    );
});
