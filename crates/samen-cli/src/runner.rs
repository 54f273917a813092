//! The party runner behind `samen run`: one party over mutual TLS.
//!
//! Order of work: load the study; refuse it unless its hash is the approved one
//! (`--approve`) and unless the credentials fit it (`--keys` needs pins on every party,
//! `--certs` is refused for a study that pins keys); check this party's output folder and
//! validate its own inputs, and reserve its privacy budget in its ledger (`--ledger`; nothing
//! is sent yet); if any of that fails, print every problem at once, then connect to the peers
//! only to tell them (an abort naming this party and the kind of problem, never its details)
//! and stop. Otherwise connect to all peers (`samen_net::connect_all`, whose hello checks the
//! study hash), run the party ([`samen_study::session::run_party`]) and, once every peer has
//! finished too, publish the output folder as one set ([`crate::outdir`]): each output table
//! as `OUT/<name>.csv` (data parties only), a summary `OUT/<party>-summary.json` and the
//! manifest `OUT/run.json`:
//!
//! ```json
//! {"party": "bureau", "role": "first", "study": "portal-usage-2026",
//!  "sizes": {"first": 1000000, "second": 400000, "union": 1100000},
//!  "phases": [{"name": "join", "seconds": 41.2}, ...], "total_seconds": 45.0,
//!  "bytes_sent": {"portal": 123, "trustee": 24}, "bytes_received": {...},
//!  "peak_rss_bytes": 812000000, "outputs": ["users_by_region_channel.csv"],
//!  "suppressed": {"primary": 13, "secondary": 15,
//!                 "outputs": [{"output": "users_by_region_channel", "primary": 9, "secondary": 9}, ...]},
//!  "run_id": "3f1c…"}
//! ```

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use samen_core::channel::{Abort, Channel, StopReason};
use samen_core::Role;
use samen_net::pin::Fingerprint;
use samen_net::{connect_all, NetConfig, NetError, PeerAuth};
use thiserror::Error;

use samen_core::dp::Ratio;
use samen_study::engine::{EngineError, Phases, Sizes};
use samen_study::input::{read_csv, InputError, PartyTable};
use samen_study::output::OutputError;
use samen_study::privacy;
use samen_study::session::{run_party, PartyResult};
use samen_study::spec::{SpecError, Study};
use samen_study::transcript::Transcript;

use crate::outdir::{new_run_id, Manifest, OutDir, OutDirError};
use crate::progress::{self, ProgressFile};

/// An error of `samen run`.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RunError {
    /// The study file is invalid.
    #[error(transparent)]
    Spec(Box<SpecError>),
    /// This party's input is invalid.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The command line does not fit the study (party or tables).
    #[error("{0}")]
    Usage(String),
    /// The study file is not the one approved with `--approve`.
    #[error(
        "the study file {path} has hash {actual}, not the approved {approved}: it differs from \
         the file that was reviewed (run `samen review` on this file and approve again, or use \
         the approved file); nothing was sent"
    )]
    NotApproved {
        /// The study file.
        path: String,
        /// The hash given with `--approve`.
        approved: String,
        /// The study file's hash.
        actual: String,
    },
    /// Connecting to the peers failed.
    #[error("cannot connect to the other parties: {0}")]
    Net(NetError),
    /// A peer stopped (or reported that another party stopped) before the computation, e.g.
    /// because its input failed validation: `party 'bureau' stopped: its input failed
    /// validation`.
    #[error("{0}")]
    PeerStopped(StopReason),
    /// This party's own checks failed before the computation; the problems were printed when
    /// they were found, and the peers were told.
    #[error("party '{party}' stopped before the computation: {reason} (see the problems above)")]
    OwnChecks {
        /// This party.
        party: String,
        /// The reason told to the peers.
        reason: String,
    },
    /// The output folder cannot be used or written.
    #[error(transparent)]
    OutDir(#[from] OutDirError),
    /// The joint computation failed or a peer aborted.
    #[error(transparent)]
    Engine(Box<EngineError>),
    /// Writing an output failed.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The progress file could not be created.
    #[error("cannot create progress file {path}: {source}")]
    ProgressFile {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The privacy-budget ledger refused the run or could not be updated.
    #[error(transparent)]
    Ledger(#[from] samen_study::ledger::LedgerError),
    /// The transcript file could not be written.
    #[error("cannot write transcript {path}: {source}")]
    Transcript {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl From<SpecError> for RunError {
    fn from(e: SpecError) -> Self {
        RunError::Spec(Box::new(e))
    }
}

impl From<NetError> for RunError {
    fn from(e: NetError) -> Self {
        match e {
            NetError::Stopped(r) => RunError::PeerStopped(r),
            e => RunError::Net(e),
        }
    }
}

impl From<EngineError> for RunError {
    fn from(e: EngineError) -> Self {
        RunError::Engine(Box::new(e))
    }
}

/// Options of one party's run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The study file.
    pub study: PathBuf,
    /// This party's name.
    pub party: String,
    /// For demos and tests: directory with `ca.pem`, `<party>.pem`, `<party>.key` (one study
    /// CA). Exactly one of `certs` and `keys` is given.
    pub certs: Option<PathBuf>,
    /// Directory with this party's own `<party>.key` and `<party>.pem` (`samen keys`); peers
    /// are authenticated by the keys pinned in the study file.
    pub keys: Option<PathBuf>,
    /// The approved study hash (`sha256:<hex>`): the run refuses, before anything else, a
    /// study file with another hash.
    pub approve: Option<String>,
    /// `(table, csv file)` pairs: this party's own table (data parties only).
    pub inputs: Vec<(String, PathBuf)>,
    /// Output folder: written only when the run succeeds, as one set ([`crate::outdir`]).
    pub out: PathBuf,
    /// Replace an earlier run's output folder (one holding a `run.json` manifest).
    pub force: bool,
    /// Optional transcript file (JSON lines).
    pub transcript: Option<PathBuf>,
    /// Show a progress spinner per phase (only if stderr is a terminal).
    pub progress: bool,
    /// Optional progress file: one JSON line per phase start and per whole percent
    /// ([`crate::progress`]).
    pub progress_file: Option<PathBuf>,
    /// Total time to wait for all peers to connect.
    pub connect_timeout: Duration,
    /// How long a peer may stay silent (peers send a keep-alive every half second while they
    /// compute, so this bounds how long a crashed or unreachable peer goes unnoticed).
    pub io_timeout: Duration,
    /// A privacy-budget ledger for this data party's table ([`samen_study::ledger`]): the
    /// run's ε and ρ are reserved in it before anything is sent.
    pub ledger: Option<PathBuf>,
    /// Totals per table that override the ledger's own `max_epsilon` / `max_rho`.
    pub caps: samen_study::ledger::Caps,
}

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct RunSummary {
    /// This party.
    pub party: String,
    /// This party's role (written `"first"`, `"second"` or `"helper"`).
    pub role: Role,
    /// |A|, |B|, N.
    pub sizes: Sizes,
    /// Phases and durations.
    pub phases: Vec<(String, Duration)>,
    /// Total wall time of the run (after loading the study).
    pub total: Duration,
    /// Payload bytes sent per peer.
    pub bytes_sent: BTreeMap<String, u64>,
    /// Payload bytes received per peer.
    pub bytes_received: BTreeMap<String, u64>,
    /// Peak resident memory of the process, if known (Linux).
    pub peak_rss_bytes: Option<u64>,
    /// Output files written.
    pub outputs: Vec<PathBuf>,
    /// Notes about outputs (e.g. why a model has no estimates).
    pub notes: Vec<String>,
    /// This run's id, also in the output folder's manifest.
    pub run_id: String,
    /// The differential-privacy budget of each output that has one, and the run's totals.
    pub privacy: PrivacyBudget,
    /// Suppressed cells per output (data parties; empty at the helper): `(output, primary,
    /// secondary)`.
    pub suppressed: Vec<(String, usize, usize)>,
    /// The population of each output with `where` filters: (output, its filters in canonical
    /// form joined with ` and `).
    pub populations: Vec<(String, String)>,
}

/// The privacy budgets of a study's outputs, their noise and accuracy, and the run's totals
/// (basic composition: the run's total is the sum), all from [`samen_study::privacy`].
#[derive(Clone, Debug, Default)]
pub struct PrivacyBudget {
    /// Per output with a budget: its noise, accuracy and guarantee.
    pub outputs: Vec<privacy::OutputNoise>,
    /// Σ ε over the outputs with `epsilon`, exactly.
    pub total_epsilon: Option<Ratio>,
    /// Σ ρ over the outputs with `rho`, exactly.
    pub total_rho: Option<Ratio>,
}

impl PrivacyBudget {
    /// The budgets of `study` (validated studies always have a report; an output whose noise
    /// cannot be drawn is refused at validation).
    pub fn of(study: &Study) -> PrivacyBudget {
        let (total_epsilon, total_rho) = privacy::totals(study).unwrap_or_default();
        PrivacyBudget {
            outputs: privacy::report(study).unwrap_or_default(),
            total_epsilon,
            total_rho,
        }
    }

    /// Lines for the log (each output's guarantee and accuracy, and the totals); empty without
    /// budgets.
    pub fn lines(&self) -> Vec<String> {
        if self.outputs.is_empty() {
            return Vec::new();
        }
        let mut lines = Vec::new();
        for o in &self.outputs {
            lines.push(format!(
                "differential privacy of '{}': {}",
                o.output,
                o.guarantee()
            ));
            for q in &o.quantities {
                lines.push(format!(
                    "  noise on {}: standard deviation {:.4}, 95 % of the time within ±{}",
                    q.label, q.sd, q.half_width
                ));
            }
        }
        let show = |r: Option<Ratio>| r.map_or_else(|| "0".to_string(), |r| r.to_string());
        lines.push(format!(
            "differential privacy of this run: total epsilon = {}, total rho = {} (basic \
             composition over its outputs; add the budgets of earlier runs on the same people, \
             or keep a ledger with --ledger)",
            show(self.total_epsilon),
            show(self.total_rho)
        ));
        lines
    }

    fn to_json(&self) -> serde_json::Value {
        let ratio = |r: Option<Ratio>| r.map(|r| r.to_string());
        let float = |r: Option<Ratio>| r.map(|r| r.to_f64());
        serde_json::json!({
            "outputs": self.outputs.iter().map(|o| serde_json::json!({
                "output": o.output,
                o.privacy.key(): o.privacy.value().to_f64(),
                "budget": o.privacy.value().to_string(),
                "neighbours": o.neighbours.as_str(),
                "guarantee": o.guarantee(),
                "noise": o.quantities.iter().map(|q| serde_json::json!({
                    "quantity": q.label,
                    "mechanism": mechanism_json(&q.mechanism),
                    "draws": privacy::DRAWS,
                    "sd": q.sd,
                    "ci95_half_width": q.half_width,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "total_epsilon": float(self.total_epsilon),
            "total_rho": float(self.total_rho),
            "total_epsilon_exact": ratio(self.total_epsilon),
            "total_rho_exact": ratio(self.total_rho),
        })
    }
}

fn mechanism_json(m: &samen_core::dp::Mechanism) -> serde_json::Value {
    match m {
        samen_core::dp::Mechanism::DiscreteLaplace { scale } => {
            serde_json::json!({"discrete_laplace_scale": scale.to_string()})
        }
        samen_core::dp::Mechanism::DiscreteGaussian { sigma2 } => {
            serde_json::json!({"discrete_gaussian_sigma2": sigma2.to_string()})
        }
        _ => serde_json::Value::Null,
    }
}

impl RunSummary {
    /// A human-readable multi-line report (phases, bytes per peer).
    pub fn report(&self) -> String {
        let mut s = format!(
            "samen run: party '{}' ({}) done in {:.2} s; |A| = {}, |B| = {}, N = {}\n",
            self.party,
            self.role,
            self.total.as_secs_f64(),
            self.sizes.first,
            self.sizes.second,
            self.sizes.union
        );
        for (name, d) in &self.phases {
            s.push_str(&format!("  phase {name:<11} {:>9.3} s\n", d.as_secs_f64()));
        }
        for (peer, b) in &self.bytes_sent {
            let r = self.bytes_received.get(peer).copied().unwrap_or(0);
            s.push_str(&format!(
                "  peer {peer}: sent {b} bytes, received {r} bytes\n"
            ));
        }
        if let Some(m) = self.peak_rss_bytes {
            s.push_str(&format!("  peak memory {:.1} MiB\n", m as f64 / 1048576.0));
        }
        for o in &self.outputs {
            s.push_str(&format!("  wrote {}\n", o.display()));
        }
        for n in &self.notes {
            s.push_str(&format!("  note: {n}\n"));
        }
        for (o, filters) in &self.populations {
            s.push_str(&format!("  output {o}: only rows where {filters}\n"));
        }
        for l in self.privacy.lines() {
            s.push_str(&format!("  {l}\n"));
        }
        if let Some(l) = self.suppression_line() {
            s.push_str(&format!("  {l}\n"));
        }
        s
    }

    /// `(primary, secondary)` suppressed cells over all outputs.
    pub fn suppressed_totals(&self) -> (usize, usize) {
        self.suppressed
            .iter()
            .fold((0, 0), |(p, s), (_, a, b)| (p + a, s + b))
    }

    /// One line for the log about suppressed cells, or `None` at the helper.
    fn suppression_line(&self) -> Option<String> {
        if self.suppressed.is_empty() {
            return None;
        }
        let (p, s) = self.suppressed_totals();
        Some(format!(
            "suppressed cells: {p} primary (below min_cell), {s} secondary (hidden so that no \
             primary cell follows from the released cells and the known total)"
        ))
    }

    fn to_json(&self, study: &str) -> serde_json::Value {
        serde_json::json!({
            "party": self.party,
            "role": self.role.as_str(),
            "study": study,
            "sizes": {"first": self.sizes.first, "second": self.sizes.second, "union": self.sizes.union},
            "phases": self.phases.iter().map(|(n, d)| serde_json::json!({"name": n, "seconds": d.as_secs_f64()})).collect::<Vec<_>>(),
            "total_seconds": self.total.as_secs_f64(),
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "peak_rss_bytes": self.peak_rss_bytes,
            "outputs": self.outputs.iter().filter_map(|p| p.file_name().map(|f| f.to_string_lossy().to_string())).collect::<Vec<_>>(),
            "notes": self.notes,
            "run_id": self.run_id,
            "populations": self.populations.iter().map(|(o, f)| serde_json::json!({"output": o, "where": f})).collect::<Vec<_>>(),
            "privacy": self.privacy.to_json(),
            "suppressed": {
                "primary": self.suppressed_totals().0,
                "secondary": self.suppressed_totals().1,
                "outputs": self.suppressed.iter().map(|(n, p, s)| serde_json::json!({"output": n, "primary": p, "secondary": s})).collect::<Vec<_>>(),
            },
        })
    }
}

/// Peak resident set size of this process (Linux `/proc/self/status` `VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// This party's role, or a usage error naming the study's parties.
fn own_role(study: &Study, opts: &RunOptions) -> Result<Role, RunError> {
    study.party(&opts.party).map(|p| p.role).ok_or_else(|| {
        RunError::Usage(format!(
            "party '{}' is not in the study (parties: {})",
            opts.party,
            study
                .parties()
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// Validate this party's command-line inputs against the study and read its table.
fn load_inputs(
    study: &Study,
    opts: &RunOptions,
    role: Role,
) -> Result<Option<PartyTable>, RunError> {
    match role {
        Role::Helper => {
            if !opts.inputs.is_empty() {
                return Err(RunError::Usage(format!(
                    "party '{}' is the helper and takes no --input",
                    opts.party
                )));
            }
            Ok(None)
        }
        Role::First | Role::Second => {
            let own = study
                .table_of(&opts.party)
                .map(|t| t.name.clone())
                .unwrap_or_default();
            for (t, _) in &opts.inputs {
                if *t != own {
                    return Err(RunError::Usage(format!(
                        "--input {t}=...: party '{}' holds table '{own}', not '{t}'",
                        opts.party
                    )));
                }
            }
            match opts.inputs.as_slice() {
                [(t, path)] => Ok(Some(read_csv(study, t, path)?)),
                [] => Err(RunError::Usage(format!(
                    "party '{}' must give its table with --input {own}=FILE.csv",
                    opts.party
                ))),
                _ => Err(RunError::Usage(format!(
                    "--input {own}=... given more than once"
                ))),
            }
        }
    }
}

/// What a party whose own checks failed before the computation tells its peers (no paths,
/// line numbers or rows: those stay in the local error).
fn local_failure_reason(party: &str, e: &RunError) -> StopReason {
    let reason = match e {
        RunError::Input(_) => "its input failed validation",
        RunError::Usage(_) | RunError::NotApproved { .. } => {
            "it was started with options that do not fit the study"
        }
        RunError::Spec(_) => "its table is too large for the study (overflow rule)",
        RunError::Output(_) | RunError::OutDir(_) => "it cannot use its output folder",
        RunError::ProgressFile { .. } => "it cannot write its progress file",
        RunError::Ledger(samen_study::ledger::LedgerError::OverBudget(_)) => {
            "its privacy-budget ledger refused the study: a table's total budget would be exceeded"
        }
        RunError::Ledger(_) => "it cannot use its privacy-budget ledger",
        _ => "it failed before the computation",
    };
    StopReason::new(party, reason)
}

/// Refuse a study file whose hash is not the approved one (`--approve`).
fn check_approved(study: &Study, opts: &RunOptions) -> Result<(), RunError> {
    match &opts.approve {
        Some(approved) if !approved.eq_ignore_ascii_case(&study.hash_hex()) => {
            Err(RunError::NotApproved {
                path: opts.study.display().to_string(),
                approved: approved.clone(),
                actual: study.hash_hex(),
            })
        }
        _ => Ok(()),
    }
}

/// How this party authenticates its peers: pinned keys (`--keys`, the study must pin every
/// party) or one study CA (`--certs`, for demos and tests; refused for a study that pins keys,
/// since the pins would be ignored).
fn peer_auth(study: &Study, opts: &RunOptions) -> Result<(PathBuf, PeerAuth), RunError> {
    match (&opts.keys, &opts.certs) {
        (Some(dir), None) => {
            if !study.pinned() {
                return Err(RunError::Usage(
                    "--keys needs the study file to pin every party's key (key = \"sha256:…\" \
                     under each [parties.NAME], as printed by `samen keys`)"
                        .to_string(),
                ));
            }
            let pins = study
                .parties()
                .iter()
                .filter_map(|p| p.key.map(|k| (p.name.clone(), Fingerprint(k))))
                .collect();
            Ok((dir.clone(), PeerAuth::Pinned(pins)))
        }
        (None, Some(dir)) => {
            if study.pinned() {
                return Err(RunError::Usage(
                    "the study file pins every party's key: run with --keys DIR (this party's \
                     own key from `samen keys`), not --certs"
                        .to_string(),
                ));
            }
            Ok((dir.clone(), PeerAuth::StudyCa))
        }
        _ => Err(RunError::Usage(
            "give exactly one of --keys DIR and --certs DIR".to_string(),
        )),
    }
}

/// Environment variable of the test-only fault injection hook: `exit:<phase>` makes the
/// process exit at once (status 86, without closing its connections, like a crash) when
/// `<phase>` starts; `exit:<phase>:<ms>` does so `<ms>` milliseconds into the phase. Phases:
/// `start` (before connecting), `connect` (right after all connections are up) and the
/// engine's phases (`join`, `shares`, `products`, `comparison`, `open`). Used by the fault
/// suite (`crates/samen-cli/tests/faults.rs`); not meant for production runs.
pub const FAULT_ENV: &str = "SAMEN_FAULT";

/// Exit status of a process ended by [`FAULT_ENV`].
pub const FAULT_EXIT_CODE: i32 = 86;

/// The fault-injection hook (see [`FAULT_ENV`]): called when `phase` starts.
fn inject_fault(phase: &str) {
    let Ok(spec) = std::env::var(FAULT_ENV) else {
        return;
    };
    let mut parts = spec.split(':');
    if parts.next() != Some("exit") || parts.next() != Some(phase) {
        return;
    }
    match parts.next().and_then(|ms| ms.parse::<u64>().ok()) {
        Some(ms) => {
            let spawned = std::thread::Builder::new()
                .name("samen-fault".to_string())
                .spawn(move || {
                    std::thread::sleep(Duration::from_millis(ms));
                    std::process::exit(FAULT_EXIT_CODE);
                });
            if spawned.is_err() {
                std::process::exit(FAULT_EXIT_CODE);
            }
        }
        None => std::process::exit(FAULT_EXIT_CODE),
    }
}

/// Run one party over mutual TLS (see the module documentation).
pub fn run(opts: &RunOptions) -> Result<RunSummary, RunError> {
    let study = Study::load(&opts.study)?;
    check_approved(&study, opts)?;
    let (certs_dir, auth) = peer_auth(&study, opts)?;
    let started = Instant::now();
    inject_fault("start");
    // Without a party name there is nobody to connect as.
    let role = own_role(&study, opts)?;
    // The output folder first (cheap), then the input; both are reported if both fail.
    let out_dir = OutDir::prepare(&opts.out, opts.force);
    let local = load_inputs(&study, opts, role);
    let input_time = started.elapsed();
    let (local, out_dir) = match (local, out_dir) {
        (Ok(t), Ok(o)) => (Ok(t), Some(o)),
        (Err(e), Ok(_)) => (Err(e), None),
        (Ok(_), Err(e)) => (Err(e.into()), None),
        (Err(e), Err(o)) => {
            eprintln!("error: {o}");
            (Err(e), None)
        }
    };
    let local = local.and_then(|t| {
        if let Some(t) = &t {
            // One row must fit; the full rule needs the intersection size (after the join).
            if !t.is_empty() {
                study.check_overflow(1)?;
            }
        }
        Ok(t)
    });
    // Created before connecting, so that a failure is told to the peers like any local one.
    let local = local.and_then(|t| {
        let file = match &opts.progress_file {
            Some(path) => {
                Some(
                    ProgressFile::create(path).map_err(|source| RunError::ProgressFile {
                        path: path.display().to_string(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        Ok((t, file))
    });
    // The budget is reserved after the input is checked and before anything is sent; a
    // refusal is told to the peers like any other local failure.
    let local = local.and_then(|(t, file)| {
        let reservation = match (&opts.ledger, study.table_of(&opts.party)) {
            (Some(path), Some(table)) => Some(samen_study::ledger::Ledger::new(path).reserve(
                &study,
                &table.name,
                opts.caps,
            )?),
            (Some(_), None) => {
                return Err(RunError::Usage(
                    "--ledger is for data parties: the helper holds no table".into(),
                ))
            }
            (None, _) => None,
        };
        Ok((t, file, reservation))
    });

    let cfg = NetConfig {
        me: opts.party.clone(),
        parties: study
            .parties()
            .iter()
            .map(|p| (p.name.clone(), p.address.clone()))
            .collect(),
        listen: study.party(&opts.party).and_then(|p| p.listen.clone()),
        certs_dir,
        auth,
        study_name: study.name().to_string(),
        study_hash: study.hash(),
        connect_timeout: opts.connect_timeout,
        io_timeout: opts.io_timeout,
    };
    let (input, progress_file, reservation) = match local {
        Ok(t) => t,
        Err(e) => return Err(stop_before_run(&cfg, &opts.party, e)),
    };
    let out_dir = out_dir.ok_or_else(|| RunError::Usage("no output folder".to_string()))?;
    tracing::info!(party = %opts.party, "connecting to the other parties");
    for l in PrivacyBudget::of(&study).lines() {
        tracing::info!(party = %opts.party, "{l}");
    }
    let tls = connect_all(&cfg)?;
    inject_fault("connect");

    let transcript = match &opts.transcript {
        Some(path) => {
            let f = std::fs::File::create(path).map_err(|source| RunError::Transcript {
                path: path.display().to_string(),
                source,
            })?;
            Some(Transcript::to_writer(Box::new(std::io::BufWriter::new(f))))
        }
        None => None,
    };
    let mut channels: BTreeMap<String, Box<dyn Channel>> = tls
        .into_iter()
        .map(|(k, c)| {
            let b: Box<dyn Channel> = match &transcript {
                Some(t) => Box::new(t.wrap(c)),
                None => Box::new(c),
            };
            (k, b)
        })
        .collect();

    let bar = (opts.progress && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(Duration::from_millis(120));
        b
    });
    let party_name = opts.party.clone();
    let (bar_cb, tr_cb, file_cb) = (bar.clone(), transcript.clone(), progress_file.clone());
    let spinner_style = indicatif::ProgressStyle::default_spinner();
    let mut phases = Phases::with_callback(move |name| {
        if let Some(t) = &tr_cb {
            if !name.is_empty() {
                t.set_step(name);
            }
        }
        if let Some(b) = &bar_cb {
            if name.is_empty() {
                b.finish_and_clear();
            } else {
                b.set_style(spinner_style.clone());
                b.unset_length();
                b.set_message(format!("{party_name}: {name}"));
            }
        }
        if !name.is_empty() {
            tracing::info!(phase = name, "phase started");
            if let Some(f) = &file_cb {
                f.event(name, None);
            }
            inject_fault(name);
        }
    })
    .with_progress(progress::reporter(bar.clone(), progress_file));
    let result = run_party(
        &study,
        &opts.party,
        input.as_ref(),
        &mut channels,
        &mut phases,
    );
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let result = result?;
    finish_all(&opts.party, &mut channels)?;
    drop(input);

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut notes = Vec::new();
    let mut suppressed = Vec::new();
    if let PartyResult::Data {
        tables, pattern, ..
    } = &result
    {
        for (i, o) in study.outputs().iter().enumerate() {
            let (p, s) = pattern.counts(i);
            suppressed.push((o.name.clone(), p, s));
        }
        for t in tables {
            files.extend(
                t.rendered()
                    .into_iter()
                    .map(|(name, text)| (name, text.into_bytes())),
            );
            for n in &t.notes {
                tracing::warn!("{n}");
                notes.push(n.clone());
            }
        }
    }
    let run_id = new_run_id();
    let outputs: Vec<PathBuf> = files.iter().map(|(f, _)| opts.out.join(f)).collect();
    if let Some(t) = &transcript {
        t.finish().map_err(|source| RunError::Transcript {
            path: opts
                .transcript
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            source,
        })?;
    }
    let summary_name = format!("{}-summary.json", opts.party);
    let summary = RunSummary {
        party: opts.party.clone(),
        role,
        sizes: result.sizes(),
        phases: std::iter::once(("input".to_string(), input_time))
            .chain(phases.durations().iter().cloned())
            .collect(),
        total: started.elapsed(),
        bytes_sent: channels
            .iter()
            .map(|(k, c)| (k.clone(), c.stats().bytes_sent))
            .collect(),
        bytes_received: channels
            .iter()
            .map(|(k, c)| (k.clone(), c.stats().bytes_received))
            .collect(),
        peak_rss_bytes: peak_rss_bytes(),
        outputs,
        notes,
        privacy: PrivacyBudget::of(&study),
        suppressed,
        populations: study
            .outputs()
            .iter()
            .filter(|o| !o.filters.is_empty())
            .map(|o| {
                (
                    o.name.clone(),
                    samen_study::spec::describe_filters(&o.filters),
                )
            })
            .collect(),
        run_id: run_id.clone(),
    };
    let json = serde_json::to_string_pretty(&summary.to_json(study.name())).unwrap_or_default();
    files.push((summary_name, json.into_bytes()));
    drop(channels);
    let manifest = Manifest {
        run_id,
        study: study.name().to_string(),
        study_sha256: hex::encode(study.hash()),
        party: opts.party.clone(),
    };
    out_dir.publish(&files, &manifest)?;
    if let Some(r) = reservation {
        r.complete()?;
    }
    Ok(summary)
}

/// This party's own checks failed before the computation: print the problem at once (before
/// any wait), then connect to the peers only to tell them that this party stopped and why
/// (the kind of problem, never its details), and return an error that points to the printed
/// problem.
fn stop_before_run(cfg: &NetConfig, me: &str, e: RunError) -> RunError {
    let reason = local_failure_reason(me, &e);
    eprintln!("error: {e}");
    eprintln!(
        "samen run: party '{me}' stops; telling the other parties that {} (waiting up to {} s \
         for them to connect; Ctrl-C ends the wait)",
        reason.reason,
        cfg.connect_timeout.as_secs()
    );
    match connect_all(cfg) {
        Ok(mut tls) => {
            let message = Abort::from(&reason);
            for ch in tls.values_mut() {
                ch.abort(&message);
                let _ = ch.flush();
            }
        }
        // Already told the peers it reached (connect_all aborts them), or a peer stopped too.
        Err(NetError::Stopped(r)) if r.party != me => {
            eprintln!("samen run: {r}");
        }
        Err(_) => {}
    }
    RunError::OwnChecks {
        party: me.to_string(),
        reason: reason.reason,
    }
}

/// End a successful run on every channel at once: tell each peer this party is done and wait
/// until each is done too, so that a peer that fails after this party's last message (the
/// helper finishes before the data parties open the outputs) still makes this party fail
/// instead of report success. On a failure the other peers get an abort.
fn finish_all(me: &str, channels: &mut BTreeMap<String, Box<dyn Channel>>) -> Result<(), RunError> {
    let results: Vec<Result<(), samen_core::channel::ChannelError>> = std::thread::scope(|s| {
        let handles: Vec<_> = channels
            .values_mut()
            .map(|ch| s.spawn(move || ch.finish()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Ok(())))
            .collect()
    });
    let Some(err) = results.into_iter().find_map(Result::err) else {
        return Ok(());
    };
    let err = EngineError::Channel(err);
    let message = Abort::from(&samen_study::session::peer_reason(me, &err));
    for ch in channels.values_mut() {
        ch.abort(&message);
    }
    Err(err.into())
}
