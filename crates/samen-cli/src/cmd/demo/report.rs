//! What the demo prints at the end: each revealed table checked against the plaintext
//! reference, the costs per party and the timings.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use samen_study::spec::{Privacy, Study};

use super::children::Party;
use super::synth::{SynthSummary, OUTPUTS};
use super::view::{grid, Align};
use super::{check, view, DemoError};

pub(super) fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

pub(super) fn human_bytes(b: u64) -> String {
    let mut v = b as f64;
    let mut unit = None;
    for next in ["KiB", "MiB", "GiB", "TiB"] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = Some(next);
    }
    match unit {
        None => format!("{b} B"),
        Some(unit) => format!("{v:.1} {unit}"),
    }
}

/// Every output checked, with the sizes of the inputs of the reference.
pub(super) struct Checked {
    pub(super) verdicts: Vec<Verdict>,
    pub(super) register_rows: usize,
    pub(super) usage_rows: usize,
}

/// Print each revealed table and check it against the plaintext reference of the same study,
/// at the bureau and at the portal.
pub(super) fn check_outputs(
    data: &SynthSummary,
    parties: &[Party],
    dir: &Path,
) -> Result<Checked, DemoError> {
    let study = Study::load(&data.study).map_err(|e| DemoError::Reference(e.to_string()))?;
    let read = |table: &str, path: &Path| {
        samen_study::input::read_csv(&study, table, path)
            .map_err(|e| DemoError::Reference(e.to_string()))
    };
    let register = read("register", &data.register)?;
    let usage = read("usage", &data.usage)?;
    let reference = samen_study::reference::compute(&study, &[&register, &usage]);
    let plan =
        samen_study::plan::Plan::new(&study).map_err(|e| DemoError::Reference(e.to_string()))?;
    let bureau_out = parties
        .first()
        .map(|p| p.out.clone())
        .unwrap_or_else(|| dir.to_path_buf());
    let portal_out = parties.get(1).map(|p| p.out.clone());
    let mut verdicts = Vec::new();
    for ((spec, want), output_plan) in study.outputs().iter().zip(&reference).zip(&plan.outputs) {
        let title = OUTPUTS
            .iter()
            .find(|o| o.name == spec.name)
            .map_or(spec.statistic.as_str(), |o| o.title);
        println!("{} — {title} (min_cell {})", spec.name, spec.min_cell);
        let mut problems: Vec<String> = Vec::new();
        let mut noise: Vec<check::NoiseStats> = Vec::new();
        for (file, want_text) in want.rendered() {
            let path = bureau_out.join(&file);
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    println!("  (no {file}: {e})");
                    problems.push(format!("{} is missing: {e}", path.display()));
                    continue;
                }
            };
            if want.files.len() > 1 {
                println!("  {file}");
            }
            match view::render(&text) {
                Ok(t) => print!("{t}"),
                Err(e) => println!("  (cannot display: {e})"),
            }
            let verdict = match spec.privacy {
                None => check::exact(&text, &want_text),
                Some(_) => {
                    let sd = |column: &str| check::planned_sd(spec, output_plan, column);
                    check::noisy(&text, &want_text, spec.by.len(), &sd).map(|s| noise.extend(s))
                }
            };
            if let Err(e) = verdict {
                problems.push(format!("{file}: {e}"));
            }
            match portal_out
                .as_ref()
                .map(|d| std::fs::read_to_string(d.join(&file)))
            {
                Some(Ok(p)) if p != text => problems.push(format!(
                    "{file}: bureau and portal revealed different bytes"
                )),
                Some(Err(e)) => problems.push(format!("{file}: the portal's copy is missing: {e}")),
                _ => {}
            }
        }
        for note in &want.notes {
            println!("  note: {note}");
        }
        println!();
        verdicts.push(Verdict {
            name: spec.name.clone(),
            privacy: spec.privacy,
            noise,
            problems,
        });
    }
    println!(
        "{} = suppressed inside MPC: fewer than min_cell matched rows (primary); {} = suppressed \
         so that no primary cell follows from the other cells and the known total (secondary); \
         nothing about either but that fact is revealed\n",
        view::SUPPRESSED,
        view::SECONDARY
    );
    Ok(Checked {
        verdicts,
        register_rows: register.len(),
        usage_rows: usage.len(),
    })
}

/// The demo's timings and the total.
pub(super) fn print_timings(timings: &[(&str, Duration)], total: Duration) {
    println!("demo timings");
    for (what, d) in timings {
        println!("  {what:<26}{:>10}", seconds(*d));
    }
    println!("  {:<26}{:>10}\n", "total", seconds(total));
}

/// The summary of the checks; returns the number of outputs that differ.
pub(super) fn print_verdicts(checked: &Checked) -> usize {
    println!(
        "check against the plaintext reference of the same study ({} register rows, {} usage rows; bureau's and portal's files)",
        checked.register_rows, checked.usage_rows,
    );
    println!(
        "  (possible only because the demo generated both data sets; in a real study no party sees both)"
    );
    let width = checked
        .verdicts
        .iter()
        .map(|v| v.name.len())
        .max()
        .unwrap_or(0);
    let mut differ = 0;
    for v in &checked.verdicts {
        let name = &v.name;
        match (v.privacy, v.problems.first()) {
            (None, None) => println!("  {name:<width$}  matches plaintext: yes"),
            (Some(p), None) => {
                println!(
                    "  {name:<width$}  differentially private ({}): every cell present with its levels: yes",
                    budget(p)
                );
                for s in &v.noise {
                    let expected = s
                        .expected_sd
                        .map_or_else(|| "not derived here".to_string(), |e| format!("{e:.3}"));
                    println!(
                        "  {:width$}    noisy {} − exact over {} cells: mean {:+.3}, sd {:.3} (mechanism: {expected}), max |error| {}",
                        "", s.column, s.cells, s.mean, s.sd, s.max_abs
                    );
                }
            }
            (_, Some(_)) => {
                differ += 1;
                println!(
                    "  {name:<width$}  matches plaintext: NO ({})",
                    v.problems.join("; ")
                );
            }
        }
    }
    differ
}

/// The outcome of checking one output.
pub(super) struct Verdict {
    pub(super) name: String,
    pub(super) privacy: Option<Privacy>,
    pub(super) noise: Vec<check::NoiseStats>,
    pub(super) problems: Vec<String>,
}

/// `ε = 1` or `ρ = 0.5`.
pub(super) fn budget(p: Privacy) -> String {
    match p {
        Privacy::Epsilon(e) => format!("ε = {e}"),
        Privacy::Rho(r) => format!("ρ = {r}"),
    }
}

/// Print time per phase and bytes sent per party from the runners' summary files.
pub(super) fn print_costs(parties: &[Party]) {
    let mut summaries = Vec::new();
    for p in parties {
        let path = p.out.join(format!("{}-summary.json", p.name));
        let json = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok());
        summaries.push((p.name, json));
    }
    if summaries.iter().all(|(_, j)| j.is_none()) {
        println!("(the parties wrote no run summaries: no phase times or byte counts to show)\n");
        return;
    }
    // Phase names in order of first appearance.
    let mut phases: Vec<String> = Vec::new();
    for (_, j) in &summaries {
        for ph in j
            .as_ref()
            .and_then(|j| j.get("phases"))
            .and_then(|p| p.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(n) = ph.get("name").and_then(|n| n.as_str()) {
                if !phases.iter().any(|p| p == n) {
                    phases.push(n.to_string());
                }
            }
        }
    }
    let mut header = vec!["party".to_string()];
    header.extend(phases.iter().cloned());
    header.extend(["total", "sent", "peak memory", "sent to"].map(String::from));
    let mut rows = Vec::new();
    for (name, j) in &summaries {
        let mut row = vec![name.to_string()];
        let Some(j) = j else {
            row.push("(no summary)".to_string());
            rows.push(row);
            continue;
        };
        let times: BTreeMap<&str, f64> = j
            .get("phases")
            .and_then(|p| p.as_array())
            .into_iter()
            .flatten()
            .filter_map(|ph| Some((ph.get("name")?.as_str()?, ph.get("seconds")?.as_f64()?)))
            .collect();
        for ph in &phases {
            row.push(
                times
                    .get(ph.as_str())
                    .map_or_else(String::new, |s| format!("{s:.2} s")),
            );
        }
        row.push(
            j.get("total_seconds")
                .and_then(|t| t.as_f64())
                .map_or_else(String::new, |s| format!("{s:.2} s")),
        );
        let sent: Vec<(String, u64)> = j
            .get("bytes_sent")
            .and_then(|b| b.as_object())
            .into_iter()
            .flatten()
            .filter_map(|(peer, b)| Some((peer.clone(), b.as_u64()?)))
            .collect();
        let total: u64 = sent.iter().map(|s| s.1).sum();
        row.push(if sent.is_empty() {
            String::new()
        } else {
            human_bytes(total)
        });
        row.push(
            j.get("peak_rss_bytes")
                .and_then(|b| b.as_u64())
                .map_or_else(String::new, human_bytes),
        );
        let detail: Vec<String> = sent
            .iter()
            .map(|(peer, b)| format!("{peer} {}", human_bytes(*b)))
            .collect();
        row.push(detail.join(", "));
        rows.push(row);
    }
    let sizes = summaries
        .iter()
        .filter_map(|(_, j)| j.as_ref()?.get("sizes"))
        .find_map(|s| {
            Some((
                s.get("first")?.as_u64()?,
                s.get("second")?.as_u64()?,
                s.get("union")?.as_u64()?,
            ))
        });
    if let Some((a, b, n)) = sizes {
        println!(
            "sizes every party learns: |A| = {a} (bureau), |B| = {b} (portal), union N = {n}, so {} in both",
            (a + b).saturating_sub(n)
        );
        println!("  (and nothing about which records are in both)\n");
    }
    let suppressed = summaries
        .iter()
        .filter_map(|(_, j)| j.as_ref()?.get("suppressed"))
        .find_map(|s| Some((s.get("primary")?.as_u64()?, s.get("secondary")?.as_u64()?)));
    if let Some((p, s)) = suppressed {
        println!(
            "suppressed cells: {p} primary (below min_cell), {s} secondary (so that no primary \
             cell follows from the released cells and the known total)\n"
        );
    }
    println!("time per phase and bytes sent, per party (from each party's run summary)");
    let align: Vec<Align> = (0..header.len())
        .map(|k| {
            if k == 0 || k + 1 == header.len() {
                Align::Left
            } else {
                Align::Right
            }
        })
        .collect();
    print!("{}", grid(&header, &align, &rows));
    println!();
}
