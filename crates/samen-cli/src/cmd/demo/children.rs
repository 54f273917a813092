//! The three party processes: starting, supervising with a spinner, stopping, and the report
//! of the ones that failed.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::synth::{SynthSummary, OUTPUTS, PARTIES};
use super::{io, Args, DemoError};
use crate::progress::ProgressEvent;

/// One party process and where its output goes.
pub(super) struct Party {
    pub(super) name: &'static str,
    pub(super) child: Child,
    pub(super) stderr: PathBuf,
    /// The party's progress file (`samen run --progress-file`).
    pub(super) progress: PathBuf,
    pub(super) out: PathBuf,
    pub(super) status: Option<ExitStatus>,
}

/// Start `bureau`, `portal` and `trustee` as processes of this binary (`samen run`), their
/// stdout and stderr in `logs`. On a failure to start one, the others are stopped.
pub(super) fn start(
    exe: &Path,
    args: &Args,
    dir: &Path,
    data: &SynthSummary,
    certs: &Path,
    logs: &Path,
) -> Result<Vec<Party>, DemoError> {
    std::fs::create_dir_all(logs).map_err(io(format!("cannot create {}", logs.display())))?;
    let mut parties = Vec::new();
    let inputs: [Option<(&str, &Path)>; 3] = [
        Some(("register", &data.register)),
        Some(("usage", &data.usage)),
        None,
    ];
    for (name, input) in PARTIES.iter().zip(inputs) {
        let out = dir.join("out").join(name);
        std::fs::create_dir_all(&out).map_err(io(format!("cannot create {}", out.display())))?;
        // With --keep on a directory used before: never show a previous run's tables (any
        // file of an output: `<output>.csv`, `<output>.<suffix>.csv`).
        remove_stale(&out, name);
        let stderr = logs.join(format!("{name}.stderr"));
        let stdout = logs.join(format!("{name}.stdout"));
        let progress = logs.join(format!("{name}.progress.jsonl"));
        let mut cmd = Command::new(exe);
        cmd.arg("run")
            .arg("--study")
            .arg(&data.study)
            .arg("--party")
            .arg(name)
            .arg("--certs")
            .arg(certs)
            .arg("--out")
            .arg(&out)
            // With --keep on a directory used before: replace that run's folder.
            .arg("--force")
            .arg("--io-timeout")
            .arg(args.timeout.to_string())
            .arg("--quiet")
            .arg("--progress-file")
            .arg(&progress);
        if let Some((table, file)) = input {
            let mut spec = std::ffi::OsString::from(format!("{table}="));
            spec.push(file);
            cmd.arg("--input").arg(spec);
        }
        cmd.stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).map_err(io("cannot create a log file"))?)
            .stderr(std::fs::File::create(&stderr).map_err(io("cannot create a log file"))?);
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                stop_all(&mut parties);
                return Err(io(format!("cannot start party {name}"))(e));
            }
        };
        parties.push(Party {
            name,
            child,
            stderr,
            progress,
            out,
            status: None,
        });
    }
    Ok(parties)
}

/// What went wrong, party by party: those that exited on their own first (they say what went
/// wrong), then the ones the demo stopped; with where the logs are, if they are kept.
pub(super) fn failure_report(
    parties: &[Party],
    failures: &[&str],
    party_time: Duration,
    timeout: u64,
    logs: Option<&Path>,
) -> String {
    let stopped = if party_time.as_secs() >= timeout {
        format!("stopped by the demo: not finished after --timeout {timeout} s")
    } else {
        "stopped by the demo after another party failed".to_string()
    };
    let mut msg = String::new();
    let mut failed: Vec<&Party> = parties
        .iter()
        .filter(|p| failures.contains(&p.name))
        .collect();
    failed.sort_by_key(|p| p.status.is_none());
    for p in failed {
        let err = std::fs::read_to_string(&p.stderr).unwrap_or_default();
        let err = err.trim_end();
        let status = p
            .status
            .map_or_else(|| stopped.to_string(), |s| s.to_string());
        let colon = if err.is_empty() { "" } else { ":" };
        let _ = writeln!(msg, "party {} failed ({status}){colon}", p.name);
        for l in err.lines() {
            let _ = writeln!(msg, "  {l}");
        }
    }
    if let Some(logs) = logs {
        let _ = writeln!(msg, "logs are in {}", logs.display());
    }
    msg.trim_end().to_string()
}

/// Remove the output files and summary a previous run left in `out` (only those: CSV files
/// named after an output of the synthetic study, and `<party>-summary.json`).
pub(super) fn remove_stale(out: &Path, party: &str) {
    let _ = std::fs::remove_file(out.join(format!("{party}-summary.json")));
    let Ok(entries) = std::fs::read_dir(out) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name();
        let Some(file) = file.to_str() else {
            continue;
        };
        let ours = file.strip_suffix(".csv").is_some_and(|stem| {
            OUTPUTS
                .iter()
                .any(|o| stem == o.name || stem.starts_with(&format!("{}.", o.name)))
        });
        if ours {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Wait for all parties, with a spinner on a terminal. Returns the names of parties that failed
/// (or were stopped). After the first failure the others get a grace period to exit on their
/// own (they should notice the lost peer), then are stopped; likewise after `timeout`.
pub(super) fn supervise(parties: &mut [Party], timeout: Duration) -> Vec<&'static str> {
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}") {
            b.set_style(style);
        }
        b.enable_steady_tick(Duration::from_millis(100));
        b
    } else {
        ProgressBar::hidden()
    };
    const GRACE: Duration = Duration::from_secs(20);
    let start = Instant::now();
    // The bureau's current phase and when the demo first saw it (for the time-left estimate).
    let mut phase_start: Option<(String, Instant)> = None;
    let mut first_failure: Option<Instant> = None;
    loop {
        let mut running = Vec::new();
        for p in parties.iter_mut() {
            if p.status.is_none() {
                match p.child.try_wait() {
                    Ok(Some(s)) => {
                        p.status = Some(s);
                        if !s.success() && first_failure.is_none() {
                            first_failure = Some(Instant::now());
                        }
                    }
                    Ok(None) => running.push(p.name),
                    Err(_) => {
                        // Cannot query the child: treat it as failed and stop it.
                        let _ = p.child.kill();
                        let _ = p.child.wait();
                        first_failure.get_or_insert_with(Instant::now);
                        running.push(p.name);
                    }
                }
            }
        }
        if running.is_empty() {
            break;
        }
        let progress = parties
            .first()
            .and_then(|p| std::fs::read_to_string(&p.progress).ok())
            .and_then(|text| ProgressEvent::last_in(&text))
            .map(
                |ProgressEvent {
                     phase,
                     percent: pct,
                 }| {
                    if phase_start.as_ref().is_none_or(|(p, _)| *p != phase) {
                        phase_start = Some((phase.clone(), Instant::now()));
                    }
                    let since = phase_start
                        .as_ref()
                        .map_or(Duration::ZERO, |(_, t)| t.elapsed());
                    match pct {
                        Some(pct) if (1..100).contains(&pct) => {
                            let left = since.as_secs() * (100 - pct) / pct;
                            format!("bureau: {phase} {pct}%, about {} left · ", minutes(left))
                        }
                        Some(pct) => format!("bureau: {phase} {pct}% · "),
                        None => format!("bureau: {phase} · "),
                    }
                },
            )
            .unwrap_or_default();
        bar.set_message(format!("{progress}running: {}", running.join(", ")));
        let overdue = start.elapsed() > timeout;
        let given_up = first_failure.is_some_and(|t| t.elapsed() > GRACE);
        if overdue || given_up {
            stop_all(parties);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bar.finish_and_clear();
    parties
        .iter()
        .filter(|p| !p.status.is_some_and(|s| s.success()))
        .map(|p| p.name)
        .collect()
}

/// `95` → `1m 35s`, `40` → `40s`.
pub(super) fn minutes(secs: u64) -> String {
    if secs >= 60 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// Stop every party that is still running (only the processes this demo started).
pub(super) fn stop_all(parties: &mut [Party]) {
    for p in parties.iter_mut().filter(|p| p.status.is_none()) {
        let _ = p.child.kill();
        let _ = p.child.wait();
    }
}
