//! `make bench`: the preflight validator on a 10 MB label file — throughput and peak memory.
//! The file is written to disk first and streamed from there, as the Lambda streams from S3.

mod common;

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::time::Instant;

use common::peak_rss_kib;
use glue_label_importer::upload::preflight::{validate, DEFAULT_MAX_BYTES};

fn main() -> std::io::Result<()> {
    let path = std::env::temp_dir().join(format!("preflight-bench-{}.csv", std::process::id()));
    let mut out = BufWriter::new(File::create(&path)?);
    out.write_all(b"labeling_set_id,label,id,first_name,last_name,street,city,email\n")?;
    let mut written = 0u64;
    let mut row = 0u64;
    // Just under the 10 MB quota: sets of 15 rows, quoted fields and non-ASCII names.
    while written < DEFAULT_MAX_BYTES - 200 {
        let line = format!(
            "set-{:08},{},{row},Zoë {row},\"Müller, Jr.\",\"{} Main St, Apt {}\",São Paulo,person{row}@example.com\n",
            row / 15,
            if row.is_multiple_of(3) { "B" } else { "A" },
            row % 997,
            row % 41
        );
        written += line.len() as u64;
        out.write_all(line.as_bytes())?;
        row += 1;
    }
    out.flush()?;
    drop(out);
    let bytes = std::fs::metadata(&path)?.len();
    let before = peak_rss_kib("self");

    let runs = 5;
    let mut best = f64::MAX;
    let mut rows = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let report = validate(BufReader::new(File::open(&path)?), DEFAULT_MAX_BYTES);
        best = best.min(started.elapsed().as_secs_f64());
        assert!(report.is_valid(), "{:?}", report.summary());
        rows = report.rows;
    }
    let after = peak_rss_kib("self");
    std::fs::remove_file(&path)?;
    let mb = bytes as f64 / (1024.0 * 1024.0);
    println!("preflight validator, {mb:.2} MiB label file, {rows} rows, best of {runs}:");
    println!("  time        {:>10.1} ms", best * 1000.0);
    println!("  throughput  {:>10.1} MiB/s", mb / best);
    println!(
        "  peak RSS    {:>10} KiB (process; {} KiB before validating)",
        after, before
    );
    let json = format!(
        "{{\"benchmark\":\"preflight\",\"bytes\":{bytes},\"rows\":{rows},\"seconds\":{best:.6},\"mib_per_second\":{:.1},\"peak_rss_kib\":{after},\"peak_rss_before_kib\":{before}}}\n",
        mb / best
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("preflight.json"), json)?;
    Ok(())
}
