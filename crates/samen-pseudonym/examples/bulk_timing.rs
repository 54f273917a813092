//! Time one bulk pseudonymisation of a CSV file (wall clock), for comparison with
//! `benches/python_baseline.py` on the same file and key:
//!
//! ```text
//! cargo run --release -p samen-pseudonym --example bulk_timing -- IN.csv OUT.csv [KEYFILE]
//! ```
//!
//! Without KEYFILE the benchmark key is used (32 bytes of 0x42, domain `cbs-2026`). Run it under
//! `perf stat` or `/usr/bin/time` to see the CPU time as well.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::PathBuf;
use std::time::Instant;

use samen_pseudonym::csv_bulk::{pseudonymise_csv, BulkOptions};
use samen_pseudonym::key::PseudonymKey;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(input), Some(output)) = (args.first(), args.get(1)) else {
        return Err("usage: bulk_timing IN.csv OUT.csv [KEYFILE]".into());
    };
    let key = match args.get(2) {
        Some(path) => PseudonymKey::load(&PathBuf::from(path))?,
        None => PseudonymKey::from_parts([0x42; 32], "cbs-2026", 1, "2026-11-29T17:00:00Z")?,
    };
    let opts = BulkOptions::new("bsn");
    let start = Instant::now();
    let summary = pseudonymise_csv(
        input.as_ref(),
        output.as_ref(),
        &key,
        None,
        &opts,
        &mut |_| {},
    )?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{} rows in {secs:.3} s = {:.0} rows/s (threads: {})",
        summary.rows,
        summary.rows as f64 / secs,
        rayon::current_num_threads()
    );
    Ok(())
}
