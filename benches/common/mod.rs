//! What the benchmarks share.

/// Peak resident set size (VmHWM) of a process (`"self"` or a PID), in KiB; 0 if unknown.
pub fn peak_rss_kib(process: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{process}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}
