//! An auditor's walk through one small study, run entirely in this process.
//!
//! Run it with `cargo run --release -p samen --example auditor_walkthrough`.
//!
//! Two data parties (`bureau`, holding a register, and `portal`, holding usage logs) and a
//! helper (`trustee`) compute "mean logins by region" and "users by region × channel" over the
//! residents both hold. The example prints, per party and per protocol step, every message it
//! sent and received as a size and a SHA-256 — exactly what `samen run --transcript` writes —
//! so that the flow can be read next to the protocol pages in `docs/protocols/`. It then prints
//! the revealed tables and checks them against a plaintext computation of the same join.
//!
//! What to look for:
//! - the helper (`trustee`) receives only a few small messages (the sizes it needs to shape its
//!   randomness), never anything whose size depends on the data beyond |A|, |B| and N;
//! - in the join, each data party receives blinded curve points (32 bytes each) in counts that
//!   depend only on |A|, |B| and N;
//! - after the product, the only values opened are masked values and the final, suppressed
//!   table.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashMap};

use samen::study::input::InputTable;
use samen::study::spec::{Statistic, StudyBuilder};
use samen::IdKind;

/// A transcript line, as written by `samen run --transcript`.
#[derive(Debug)]
struct Line {
    step: String,
    peer: String,
    direction: String,
    bytes: u64,
    sha256: String,
}

fn field<'a>(json: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\":");
    let Some(start) = json.find(&pat).map(|i| i + pat.len()) else {
        return "";
    };
    let rest = &json[start..];
    if let Some(stripped) = rest.strip_prefix('"') {
        stripped.split('"').next().unwrap_or("")
    } else {
        rest.split([',', '}']).next().unwrap_or("")
    }
}

fn parse(line: &str) -> Line {
    Line {
        step: field(line, "step").to_string(),
        peer: field(line, "peer").to_string(),
        direction: field(line, "direction").to_string(),
        bytes: field(line, "bytes").parse().unwrap_or(0),
        sha256: field(line, "sha256").to_string(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let regions = ["north", "east", "south", "west"];
    let channels = ["app", "web"];
    let study = StudyBuilder::new("auditor-walkthrough")
        .data_party("bureau", "127.0.0.1:7101")
        .data_party("portal", "127.0.0.1:7102")
        .helper("trustee", "127.0.0.1:7103")
        .table("register", "bureau", "bsn", IdKind::Bsn)
        .category("register", "region", &regions)
        .table("usage", "portal", "bsn", IdKind::Bsn)
        .category("usage", "channel", &channels)
        .integer("usage", "logins", 0, 1000)
        .output(
            "mean_logins_by_region",
            Statistic::Mean,
            Some("usage.logins"),
            &["register.region"],
            5,
        )
        .output(
            "users_by_region_channel",
            Statistic::Count,
            None,
            &["register.region", "usage.channel"],
            5,
        )
        .build()?;

    // Synthetic inputs: 200 residents, 120 portal users of whom 100 are residents.
    let bsn = |i: u64| samen::pseudonym::normalise::bsn_from_index(i).unwrap_or_default();
    let mut register = InputTable::new(&["bsn", "region"]);
    let mut truth_region = HashMap::new();
    for i in 0..200u64 {
        // 'west' is rare, so that some of its cells fall below min_cell and are suppressed.
        let region = if i % 25 == 0 {
            "west"
        } else {
            regions[(i % 3) as usize]
        };
        truth_region.insert(bsn(i), region);
        register.push(vec![bsn(i), region.to_string()]);
    }
    let mut usage = InputTable::new(&["bsn", "channel", "logins"]);
    let mut truth_usage = Vec::new();
    for j in 0..120u64 {
        let id = if j < 100 { bsn(j * 2) } else { bsn(10_000 + j) };
        let channel = channels[(j % 3 == 0) as usize];
        let logins = (j * 37 % 50) as i64;
        truth_usage.push((id.clone(), channel, logins));
        usage.push(vec![id, channel.to_string(), logins.to_string()]);
    }

    let a = register.validate(&study, "register")?;
    let b = usage.validate(&study, "usage")?;
    let run = samen::study::session::run_in_process(&study, [&a, &b], true)?;

    println!("== sizes: |register| = {}, |usage| = {}", a.len(), b.len());
    println!("   (every party learns these and the union size N; nothing else about the join)\n");
    for (party, lines) in &run.transcripts {
        println!("== what '{party}' sent and received, step by step");
        // Aggregate consecutive lines of the same step, peer and direction.
        let mut groups: Vec<(String, String, String, u64, u64, String)> = Vec::new();
        for l in lines.iter().map(|l| parse(l)) {
            match groups.last_mut() {
                Some(g) if g.0 == l.step && g.1 == l.peer && g.2 == l.direction => {
                    g.3 += 1;
                    g.4 += l.bytes;
                }
                _ => groups.push((l.step, l.peer, l.direction, 1, l.bytes, l.sha256)),
            }
        }
        for (step, peer, dir, frames, bytes, first_hash) in groups {
            let arrow = if dir == "sent" { "->" } else { "<-" };
            println!(
                "   {step:<24} {arrow} {peer:<8} {frames:>4} frame(s) {bytes:>9} bytes  first sha256 {}",
                &first_hash.get(..16).unwrap_or(&first_hash)
            );
        }
        println!();
    }

    println!("== the revealed tables (identical at both data parties)");
    for t in &run.tables {
        println!("-- {}\n{}", t.name, t.to_csv());
    }

    // Plaintext check: possible here only because this example holds both data sets.
    let mut mean_cells: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    let mut count_cells: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for (id, channel, logins) in &truth_usage {
        if let Some(region) = truth_region.get(id) {
            let e = mean_cells.entry(region).or_default();
            e.0 += 1;
            e.1 += logins;
            *count_cells.entry((region, channel)).or_default() += 1;
        }
    }
    let mut ok = true;
    for (i, region) in regions.iter().enumerate() {
        let (n, s) = mean_cells.get(region).copied().unwrap_or((0, 0));
        let table = &run.tables[0];
        // Below min_cell: primary. Otherwise shown, or hidden as a secondary cell so that no
        // primary cell follows from the others and the known total.
        let mark = table.get(i, "suppressed");
        ok &= if n < 5 {
            mark == Some("primary")
        } else {
            matches!(mark, Some("false" | "secondary"))
        };
        if mark == Some("false") {
            ok &= table.get(i, "count") == Some(n.to_string().as_str())
                && table
                    .get(i, "mean")
                    .and_then(|m| m.parse::<f64>().ok())
                    .is_some_and(|m| (m - s as f64 / n as f64).abs() < 1e-9);
        }
    }
    for (i, (region, channel)) in regions
        .iter()
        .flat_map(|r| channels.iter().map(move |c| (r, c)))
        .enumerate()
    {
        let n = count_cells.get(&(*region, *channel)).copied().unwrap_or(0);
        let table = &run.tables[1];
        let mark = table.get(i, "suppressed");
        ok &= match mark {
            Some("primary") => n < 5,
            Some("secondary") => n >= 5,
            Some("false") => n >= 5 && table.get(i, "count") == Some(n.to_string().as_str()),
            _ => false,
        };
    }
    // The secondary cells are those the plaintext reference chooses from the same pattern.
    ok &= run.tables == samen::study::reference::compute(&study, &[&a, &b]);
    println!(
        "== plaintext check (possible only because this example holds both data sets): {}",
        if ok { "the tables match" } else { "MISMATCH" }
    );
    if !ok {
        return Err("revealed tables differ from the plaintext computation".into());
    }
    Ok(())
}
