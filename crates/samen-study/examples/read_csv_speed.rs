//! Time reading and validating a register-shaped CSV file with `samen_study::input::read_csv`.
//!
//! ```text
//! cargo run --release -p samen-study --example read_csv_speed -- [ROWS] [FILE] [REPEATS]
//! ```
//!
//! The file has the shape of the register written by `samen synth mijnoverheid`: a BSN (about
//! one in ten written with 8 digits, as spreadsheets do), three categories (12, 5 and 5 levels)
//! and an integer income. It is generated with a fixed seed when `FILE` does not exist yet
//! (default `ROWS` = 10^6, `FILE` = `register-<ROWS>.csv` in the temporary directory), so runs of
//! different builds read the same bytes. Prints the best of `REPEATS` (default 5) runs, in
//! seconds and rows per second, and the time of the join's check that the identifiers are
//! distinct, with a hash map of all of them and with sorted fingerprints.
// Example code: a failed unwrap, expect or index is a failed run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use samen_pseudonym::distinct::first_repeat;
use samen_pseudonym::normalise::bsn_digits_from_index;
use samen_pseudonym::IdKind;
use samen_study::input::read_csv;
use samen_study::spec::{Statistic, Study, StudyBuilder};

const PROVINCES: [&str; 12] = [
    "Groningen",
    "Friesland",
    "Drenthe",
    "Overijssel",
    "Flevoland",
    "Gelderland",
    "Utrecht",
    "Noord-Holland",
    "Zuid-Holland",
    "Zeeland",
    "Noord-Brabant",
    "Limburg",
];
const HOUSEHOLDS: [&str; 5] = [
    "single",
    "couple",
    "couple_with_children",
    "single_parent",
    "other",
];
const AGE_BANDS: [&str; 5] = ["18-24", "25-44", "45-64", "65-74", "75+"];
const INCOME_MAX: i64 = 1_000_000;

fn study() -> Study {
    StudyBuilder::new("read-csv-speed")
        .data_party("bureau", "127.0.0.1:7101")
        .data_party("portal", "127.0.0.1:7102")
        .helper("trustee", "127.0.0.1:7103")
        .table("register", "bureau", "bsn", IdKind::Bsn)
        .category("register", "province", &PROVINCES)
        .category("register", "household", &HOUSEHOLDS)
        .category("register", "age_band", &AGE_BANDS)
        .integer("register", "income", 0, INCOME_MAX)
        .table("usage", "portal", "bsn", IdKind::Bsn)
        .integer("usage", "logins", 0, 10_000)
        .output("users", Statistic::Count, None, &["register.province"], 10)
        .build()
        .unwrap()
}

fn generate(path: &Path, rows: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let file = std::fs::File::create(path).unwrap();
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    w.write_all(b"bsn,province,household,age_band,income\n")
        .unwrap();
    for i in 0..rows {
        let bsn = bsn_digits_from_index(i).unwrap();
        let bsn = if bsn[0] == b'0' && rng.random_bool(0.5) {
            &bsn[1..]
        } else {
            &bsn[..]
        };
        w.write_all(bsn).unwrap();
        writeln!(
            w,
            ",{},{},{},{}",
            PROVINCES[rng.random_range(0..PROVINCES.len())],
            HOUSEHOLDS[rng.random_range(0..HOUSEHOLDS.len())],
            AGE_BANDS[rng.random_range(0..AGE_BANDS.len())],
            rng.random_range(0..=INCOME_MAX),
        )
        .unwrap();
    }
    w.flush().unwrap();
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rows: u64 = args.next().map_or(1_000_000, |a| a.parse().unwrap());
    let path: PathBuf = args.next().map_or_else(
        || std::env::temp_dir().join(format!("register-{rows}.csv")),
        PathBuf::from,
    );
    let repeats: usize = args.next().map_or(5, |a| a.parse().unwrap());
    if !path.exists() {
        let t = Instant::now();
        generate(&path, rows);
        eprintln!(
            "generated {} ({rows} rows) in {:.2} s",
            path.display(),
            t.elapsed().as_secs_f64()
        );
    }
    let bytes = std::fs::metadata(&path).unwrap().len();
    let study = study();
    let mut best = f64::INFINITY;
    let mut table = None;
    for _ in 0..repeats {
        let t = Instant::now();
        let read = read_csv(&study, "register", &path).unwrap();
        let s = t.elapsed().as_secs_f64();
        assert_eq!(read.len() as u64, rows);
        best = best.min(s);
        eprintln!("  read_csv: {s:.3} s");
        table = Some(read);
    }
    println!(
        "read_csv {rows} rows ({:.1} MB): best of {repeats} {best:.3} s, {:.2} M rows/s, {:.0} MB/s",
        bytes as f64 / 1e6,
        rows as f64 / best / 1e6,
        bytes as f64 / best / 1e6
    );

    // The join checks its identifiers again: a map of all of them against sorted fingerprints
    // (`first_repeat`, the joins' check).
    let table = table.unwrap();
    let ids: Vec<&[u8]> = table.ids.iter().map(|s| s.as_bytes()).collect();
    let (mut map_best, mut sorted_best) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..repeats {
        let t = Instant::now();
        let mut seen: HashMap<&[u8], usize> = HashMap::with_capacity(ids.len());
        let repeat = ids
            .iter()
            .enumerate()
            .find_map(|(row, id)| seen.insert(id, row));
        assert!(repeat.is_none());
        map_best = map_best.min(t.elapsed().as_secs_f64());
        drop(seen);
        let t = Instant::now();
        assert!(first_repeat(&ids).is_none());
        sorted_best = sorted_best.min(t.elapsed().as_secs_f64());
    }
    println!("distinct check {rows} ids: HashMap {map_best:.3} s, first_repeat {sorted_best:.3} s");
}
