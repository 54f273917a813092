//! `samen demo`: the whole job in one command.
//!
//! 1. Generate synthetic MijnOverheid-style data (`samen synth`) into a temporary directory.
//! 2. Pick three free loopback ports and write them into the study file.
//! 3. Generate a study CA and party certificates by running this binary's `certs`.
//! 4. Start `bureau` (register), `portal` (usage) and `trustee` (helper) as three OS processes of
//!    this binary (`samen run … --quiet`) talking mutual TLS on 127.0.0.1, with a spinner.
//! 5. Print each revealed table, the time per phase and the bytes each party sent (from the
//!    `<party>-summary.json` files the runners write), and check every file against the study
//!    engine's plaintext reference (`samen_study::reference`, the same declarations evaluated
//!    in the clear on both inputs) — possible only because the demo generated both data sets.
//!    Exact outputs must match byte for byte, at the bureau and at the portal; for a
//!    differentially private output the demo checks every cell is there and reports the noise
//!    (noisy − exact). Exit non-zero if a party fails or a table differs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use samen_study::spec::{Privacy, Study};

use super::synth::{self, Join, SynthConfig, OUTPUTS, PARTIES};
use super::CliError;

mod check;
mod view;

/// Arguments of `samen demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of residents in the synthetic register.
    #[arg(long, default_value_t = synth::DEFAULT_RESIDENTS)]
    residents: usize,
    /// Number of portal users in the synthetic usage table.
    #[arg(long, default_value_t = synth::DEFAULT_USERS)]
    users: usize,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = synth::DEFAULT_SEED)]
    seed: u64,
    /// Keep the data, study file, certificates, outputs and logs in DIR (default: a temporary
    /// directory that is removed at the end).
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    /// Stop the parties if they have not finished after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1800)]
    timeout: u64,
    /// Use the two-party Diffie–Hellman join (minutes for 10^6 rows) instead of the
    /// helper-assisted join (seconds).
    #[arg(long)]
    two_party: bool,
}

/// Errors of `samen demo`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// A file or directory operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What the demo was doing.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A child process (certs or a party) failed.
    #[error("{0}")]
    Child(String),
    /// The demo's own study file or data could not be read back for the plaintext check.
    #[error("cannot read back the generated study or data: {0}")]
    Reference(String),
    /// Some revealed outputs differ from the plaintext computation.
    #[error("{0} of {1} outputs differ from the plaintext computation")]
    Mismatch(usize, usize),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DemoError {
    let what = what.into();
    move |source| DemoError::Io { what, source }
}

/// Three distinct free loopback ports (bound together, then released).
fn free_ports() -> Result<[u16; 3], DemoError> {
    let bind = || TcpListener::bind("127.0.0.1:0").map_err(io("cannot bind a loopback port"));
    let l = [bind()?, bind()?, bind()?];
    let mut ports = [0u16; 3];
    for (p, l) in ports.iter_mut().zip(&l) {
        *p = l.local_addr().map_err(io("cannot read a port"))?.port();
    }
    Ok(ports)
}

/// One party process and where its output goes.
struct Party {
    name: &'static str,
    child: Child,
    stderr: PathBuf,
    out: PathBuf,
    status: Option<ExitStatus>,
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Run `samen demo`.
pub fn run(args: Args) -> Result<(), CliError> {
    let started = Instant::now();
    let exe = std::env::current_exe().map_err(io("cannot find the samen executable"))?;
    let tmp;
    let dir: PathBuf = match &args.keep {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(io(format!("cannot create {}", d.display())))?;
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("samen-demo-")
                .tempdir()
                .map_err(io("cannot create a temporary directory"))?;
            tmp.path().to_path_buf()
        }
    };
    let mut timings: Vec<(&str, Duration)> = Vec::new();

    println!("samen demo: a joint study of a population register and a portal usage log");
    println!(
        "  bureau holds the register, portal the usage log, trustee is the helper (sees no data)\n"
    );

    // 1–2. Data and study file with free ports.
    let t = Instant::now();
    let ports = free_ports()?;
    let data = synth::generate(
        &SynthConfig {
            residents: args.residents,
            users: args.users,
            seed: args.seed,
            ports,
            join: if args.two_party {
                Join::TwoParty
            } else {
                Join::Helper
            },
        },
        &dir,
    )?;
    timings.push(("generate synthetic data", t.elapsed()));
    println!(
        "data      {} register rows (bureau), {} usage rows (portal), seed {}",
        data.residents, data.users, args.seed
    );
    println!("          in {}", dir.display());

    // 3. Certificates.
    let t = Instant::now();
    let certs = dir.join("certs");
    // With --keep on a directory used before: `samen certs` refuses to overwrite, so remove the
    // previous demo's certificates (only those files).
    for party in ["ca"].iter().chain(PARTIES.iter()) {
        for ext in ["pem", "key"] {
            let _ = std::fs::remove_file(certs.join(format!("{party}.{ext}")));
        }
    }
    let out = Command::new(&exe)
        .arg("certs")
        .arg("--study")
        .arg(&data.study)
        .arg("--out")
        .arg(&certs)
        .stdin(Stdio::null())
        .output()
        .map_err(io("cannot start `samen certs`"))?;
    if !out.status.success() {
        return Err(DemoError::Child(format!(
            "`samen certs` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        ))
        .into());
    }
    timings.push(("certificates", t.elapsed()));
    println!(
        "study     {} (parties on 127.0.0.1 ports {}, {}, {}; {} join), certificates in {}",
        data.study.display(),
        ports[0],
        ports[1],
        ports[2],
        if args.two_party {
            "two-party Diffie–Hellman"
        } else {
            "helper-assisted"
        },
        certs.display()
    );

    // 4. The three parties.
    let t = Instant::now();
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(io(format!("cannot create {}", logs.display())))?;
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
        let mut cmd = Command::new(&exe);
        cmd.arg("run")
            .arg("--study")
            .arg(&data.study)
            .arg("--party")
            .arg(name)
            .arg("--certs")
            .arg(&certs)
            .arg("--out")
            .arg(&out)
            .arg("--io-timeout")
            .arg(args.timeout.to_string())
            .arg("--quiet");
        if let Some((table, file)) = input {
            let mut spec = std::ffi::OsString::from(format!("{table}="));
            spec.push(file);
            cmd.arg("--input").arg(spec);
        }
        // The runner logs each phase and every tenth of the join at `info`; the demo reads that
        // from the log to show progress (unless the user chose their own log filter).
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "warn,samen_study::runner=info");
        }
        cmd.stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).map_err(io("cannot create a log file"))?)
            .stderr(std::fs::File::create(&stderr).map_err(io("cannot create a log file"))?);
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                stop_all(&mut parties);
                return Err(io(format!("cannot start party {name}"))(e).into());
            }
        };
        parties.push(Party {
            name,
            child,
            stderr,
            out,
            status: None,
        });
    }
    println!("parties   started bureau, portal and trustee as three processes (mutual TLS)\n");
    let failures = supervise(&mut parties, Duration::from_secs(args.timeout));
    let party_time = t.elapsed();
    timings.push(("three parties (wall)", party_time));
    if !failures.is_empty() {
        let stopped = if party_time.as_secs() >= args.timeout {
            format!(
                "stopped by the demo: not finished after --timeout {} s",
                args.timeout
            )
        } else {
            "stopped by the demo after another party failed".to_string()
        };
        let mut msg = String::new();
        // Parties that exited on their own first (they say what went wrong), then the ones the
        // demo stopped.
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
        if args.keep.is_some() {
            let _ = writeln!(msg, "logs are in {}", logs.display());
        }
        return Err(DemoError::Child(msg.trim_end().to_string()).into());
    }
    println!("all three parties finished in {}\n", seconds(party_time));

    // 5. Tables, costs, checks.
    let t = Instant::now();
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
        .unwrap_or_else(|| dir.clone());
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
        "{} = suppressed inside MPC: fewer than min_cell matched rows; nothing about the cell but that fact is revealed\n",
        view::SUPPRESSED
    );
    timings.push(("plaintext check", t.elapsed()));

    print_costs(&parties);

    println!("demo timings");
    for (what, d) in &timings {
        println!("  {what:<26}{:>10}", seconds(*d));
    }
    println!("  {:<26}{:>10}\n", "total", seconds(started.elapsed()));

    println!(
        "check against the plaintext reference of the same study ({} register rows, {} usage rows; bureau's and portal's files)",
        register.len(),
        usage.len(),
    );
    println!(
        "  (possible only because the demo generated both data sets; in a real study no party sees both)"
    );
    let width = verdicts.iter().map(|v| v.name.len()).max().unwrap_or(0);
    let mut differ = 0;
    for v in &verdicts {
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
    if let Some(d) = &args.keep {
        println!(
            "\nkept data, study file, certificates, outputs and logs in {}",
            d.display()
        );
    }
    if differ > 0 {
        return Err(DemoError::Mismatch(differ, verdicts.len()).into());
    }
    Ok(())
}

/// The outcome of checking one output.
struct Verdict {
    name: String,
    privacy: Option<Privacy>,
    noise: Vec<check::NoiseStats>,
    problems: Vec<String>,
}

/// `ε = 1` or `ρ = 0.5`.
fn budget(p: Privacy) -> String {
    match p {
        Privacy::Epsilon(e) => format!("ε = {e}"),
        Privacy::Rho(r) => format!("ρ = {r}"),
    }
}

/// Remove the output files and summary a previous run left in `out` (only those: CSV files
/// named after an output of the synthetic study, and `<party>-summary.json`).
fn remove_stale(out: &Path, party: &str) {
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
fn supervise(parties: &mut [Party], timeout: Duration) -> Vec<&'static str> {
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
            .and_then(|p| std::fs::read_to_string(&p.stderr).ok())
            .and_then(|log| latest_progress(&log))
            .map(|(phase, pct)| {
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
            })
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
fn minutes(secs: u64) -> String {
    if secs >= 60 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// The current phase and, if it reports progress, its last logged percentage, from a runner's
/// log (`phase started phase=…` and `progress phase=… percent=…` lines at `info`).
fn latest_progress(log: &str) -> Option<(String, Option<u64>)> {
    fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
        let rest = &line[line.find(key)? + key.len()..];
        let value = rest.split_whitespace().next()?;
        Some(value.trim_matches('"'))
    }
    let mut state: Option<(String, Option<u64>)> = None;
    for line in log.lines() {
        if line.contains("phase started") {
            if let Some(phase) = field(line, "phase=") {
                state = Some((phase.to_string(), None));
            }
        } else if line.contains(" progress ") {
            if let (Some(phase), Some(pct)) = (field(line, "phase="), field(line, "percent=")) {
                if let Ok(pct) = pct.parse() {
                    state = Some((phase.to_string(), Some(pct)));
                }
            }
        }
    }
    state
}

/// Stop every party that is still running (only the processes this demo started).
fn stop_all(parties: &mut [Party]) {
    for p in parties.iter_mut().filter(|p| p.status.is_none()) {
        let _ = p.child.kill();
        let _ = p.child.wait();
    }
}

/// Print time per phase and bytes sent per party from the runners' summary files.
fn print_costs(parties: &[Party]) {
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
    println!("time per phase and bytes sent, per party (from each party's run summary)");
    let widths: Vec<usize> = (0..header.len())
        .map(|k| {
            rows.iter()
                .filter_map(|r| r.get(k))
                .chain(header.get(k))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |r: &[String]| {
        let mut s = String::new();
        for (k, w) in widths.iter().enumerate() {
            let c = r.get(k).map(String::as_str).unwrap_or("");
            if k == 0 || k + 1 == widths.len() {
                let _ = write!(s, "  {c:<w$}");
            } else {
                let _ = write!(s, "  {c:>w$}");
            }
        }
        println!("{}", s.trim_end());
    };
    line(&header);
    for r in &rows {
        line(r);
    }
    println!();
}

#[cfg(test)]
mod tests {
    use super::latest_progress;

    #[test]
    fn progress_is_read_from_the_runner_log() {
        let log = "\
2026-11-29T19:59:25.092735Z  INFO samen_study::runner: connecting to the other parties party=bureau
2026-11-29T19:59:25.172030Z  INFO samen_study::runner: phase started phase=\"join\"
2026-11-29T19:59:25.184419Z  INFO samen_study::runner: progress phase=\"join\" percent=0
2026-11-29T19:59:26.753697Z  INFO samen_study::runner: progress phase=\"join\" percent=10
";
        assert_eq!(latest_progress(log), Some(("join".to_string(), Some(10))));
        let later = format!(
            "{log}2026-11-29T19:59:34.069669Z  INFO samen_study::runner: phase started phase=\"shares\"\n"
        );
        assert_eq!(latest_progress(&later), Some(("shares".to_string(), None)));
        assert_eq!(latest_progress(""), None);
        assert_eq!(latest_progress("WARN something else\n"), None);
    }

    #[test]
    fn time_left_is_written_in_minutes_and_seconds() {
        assert_eq!(super::minutes(95), "1m 35s");
        assert_eq!(super::minutes(40), "40s");
        assert_eq!(super::minutes(600), "10m 00s");
    }
}
