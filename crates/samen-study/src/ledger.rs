//! A privacy-budget ledger per population: what earlier runs spent on a data party's table,
//! checked before a new run sends anything.
//!
//! A data party keeps one ledger file (TOML) for the tables it holds. It may set a total per
//! table, and every run that releases noisy outputs appends an entry:
//!
//! ```toml
//! [tables.register]
//! max_epsilon = "2"        # exact decimal or fraction, as in a study file
//! max_rho = "1"
//!
//! [[entries]]
//! run = "3f1c…"            # random run id
//! study = "sha256:…"       # the study file's hash
//! study_name = "mijnoverheid"
//! date = "2026-12-07T23:59:01Z"
//! table = "register"
//! epsilon = "1/5"          # Σε of the run's noisy outputs (basic composition)
//! status = "completed"     # "reserved" while running, "failed" if the run failed
//! ```
//!
//! [`Ledger::reserve`] adds the run's ε and ρ to everything earlier entries of the table spent —
//! entries of every status count, since a run that failed or crashed may have released values
//! before it stopped — and refuses the run, naming the table and the totals, if either total
//! would exceed its limit (from the ledger or given by the caller). Otherwise it writes the
//! entry as `reserved` before the run connects to anyone. [`Reservation::complete`] marks it
//! `completed`; a reservation dropped without completing is marked `failed`. Every write
//! replaces the file atomically (a temporary file, synced, renamed), so a crash at any moment
//! leaves a readable ledger; a lock file next to it keeps two runs from updating it at once.
//!
//! Budgets compose by basic composition under the study's neighbour relation; the ledger
//! adds ε and ρ separately and does not convert between them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use samen_core::dp::Ratio;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::privacy;
use crate::spec::Study;

/// An error of the budget ledger.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The ledger file could not be read or written.
    #[error("budget ledger {path}: {source}")]
    Io {
        /// The ledger file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The ledger file is not a valid ledger.
    #[error("budget ledger {path} is not a valid ledger: {problem}")]
    Invalid {
        /// The ledger file.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// Another run holds the ledger's lock.
    #[error(
        "budget ledger {path} is locked by another run ({lock} exists); wait for it, or remove \
         the lock file if no samen run is using this ledger"
    )]
    Locked {
        /// The ledger file.
        path: String,
        /// The lock file.
        lock: String,
    },
    /// The run would take a table past its total budget.
    #[error("{0}")]
    OverBudget(Box<Overrun>),
}

/// What a refused run would have spent (see [`LedgerError::OverBudget`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overrun {
    /// The table (population).
    pub table: String,
    /// `epsilon` or `rho`.
    pub key: &'static str,
    /// Spent by the earlier entries.
    pub spent: String,
    /// Needed by this run.
    pub this_run: String,
    /// The limit.
    pub limit: String,
    /// The ledger file.
    pub path: String,
}

impl std::fmt::Display for Overrun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Overrun {
            table,
            key,
            spent,
            this_run,
            limit,
            path,
        } = self;
        write!(
            f,
            "the privacy budget of table '{table}' would be exceeded: earlier runs spent {key} = \
             {spent}, this study needs {key} = {this_run}, the total allowed is {key} = {limit} \
             (ledger {path}); nothing was sent"
        )
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerFile {
    #[serde(default)]
    tables: BTreeMap<String, Limits>,
    #[serde(default)]
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_epsilon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_rho: Option<String>,
}

/// One run's spending on one table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Random run id.
    pub run: String,
    /// `sha256:<hex>` of the study file.
    pub study: String,
    /// The study's name.
    pub study_name: String,
    /// When the run reserved its budget (UTC, RFC 3339).
    pub date: String,
    /// The table (population).
    pub table: String,
    /// Σε of the run's noisy outputs, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<String>,
    /// Σρ of the run's noisy outputs, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rho: Option<String>,
    /// `reserved`, `completed` or `failed`.
    pub status: String,
}

/// Limits given by the caller (e.g. command-line flags); they override the ledger's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    /// Total ε allowed per table.
    pub max_epsilon: Option<Ratio>,
    /// Total ρ allowed per table.
    pub max_rho: Option<Ratio>,
}

/// A budget ledger file.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
}

/// A run's reserved budget; marked `failed` in the ledger when dropped without
/// [`Reservation::complete`].
#[derive(Debug)]
pub struct Reservation {
    path: PathBuf,
    run: Option<String>,
}

impl Ledger {
    /// The ledger at `path` (created by the first reservation if it does not exist).
    pub fn new(path: &Path) -> Ledger {
        Ledger {
            path: path.to_path_buf(),
        }
    }

    /// The entries of the ledger (empty if the file does not exist).
    pub fn entries(&self) -> Result<Vec<Entry>, LedgerError> {
        Ok(read(&self.path)?.entries)
    }

    /// Reserve the budget `study` spends on `table`, or refuse if it would exceed the table's
    /// total (see the module documentation). A study without noisy outputs reserves nothing.
    pub fn reserve(
        &self,
        study: &Study,
        table: &str,
        caps: Caps,
    ) -> Result<Reservation, LedgerError> {
        let invalid = |problem: String| LedgerError::Invalid {
            path: self.path.display().to_string(),
            problem,
        };
        let (eps, rho) = privacy::totals(study)
            .ok_or_else(|| invalid("the study's budgets do not add up within 64 bits".into()))?;
        if eps.is_none() && rho.is_none() {
            return Ok(Reservation {
                path: self.path.clone(),
                run: None,
            });
        }
        let _lock = Lock::take(&self.path)?;
        let mut file = read(&self.path)?;
        let limits = file.tables.get(table).cloned().unwrap_or_default();
        let parse = |what: &str, s: &str| {
            Ratio::from_decimal_str(s).map_err(|e| invalid(format!("{what} '{s}': {e}")))
        };
        for (key, this_run, cap, written) in [
            (
                "epsilon",
                eps,
                caps.max_epsilon,
                limits.max_epsilon.as_deref(),
            ),
            ("rho", rho, caps.max_rho, limits.max_rho.as_deref()),
        ] {
            let Some(this_run) = this_run else { continue };
            let limit = match (cap, written) {
                (Some(c), _) => Some(c),
                (None, Some(w)) => Some(parse(&format!("max_{key} of table {table}"), w)?),
                (None, None) => None,
            };
            let mut spent: Option<Ratio> = None;
            for e in file.entries.iter().filter(|e| e.table == table) {
                let v = if key == "epsilon" { &e.epsilon } else { &e.rho };
                if let Some(v) = v {
                    let v = parse(&format!("{key} of run {}", e.run), v)?;
                    spent = Some(
                        privacy::add(spent, v)
                            .ok_or_else(|| invalid("the spent budget overflows".into()))?,
                    );
                }
            }
            let total = privacy::add(spent, this_run)
                .ok_or_else(|| invalid("the spent budget overflows".into()))?;
            if let Some(limit) = limit {
                let over = u128::from(total.num()) * u128::from(limit.den())
                    > u128::from(limit.num()) * u128::from(total.den());
                if over {
                    return Err(LedgerError::OverBudget(Box::new(Overrun {
                        table: table.to_string(),
                        key,
                        spent: spent.map_or_else(|| "0".into(), |s| s.to_string()),
                        this_run: this_run.to_string(),
                        limit: limit.to_string(),
                        path: self.path.display().to_string(),
                    })));
                }
            }
        }
        let run = hex::encode(
            samen_core::prg::Seed::random()
                .as_bytes()
                .get(..8)
                .unwrap_or(&[]),
        );
        file.entries.push(Entry {
            run: run.clone(),
            study: format!("sha256:{}", hex::encode(study.hash())),
            study_name: study.name().to_string(),
            date: samen_pseudonym::key::rfc3339_now(),
            table: table.to_string(),
            epsilon: eps.map(|e| e.to_string()),
            rho: rho.map(|r| r.to_string()),
            status: "reserved".into(),
        });
        write(&self.path, &file)?;
        Ok(Reservation {
            path: self.path.clone(),
            run: Some(run),
        })
    }
}

impl Reservation {
    /// Mark the run `completed`.
    pub fn complete(mut self) -> Result<(), LedgerError> {
        self.set_status("completed")
    }

    fn set_status(&mut self, status: &str) -> Result<(), LedgerError> {
        let Some(run) = self.run.take() else {
            return Ok(());
        };
        let _lock = Lock::take(&self.path)?;
        let mut file = read(&self.path)?;
        for e in file.entries.iter_mut().filter(|e| e.run == run) {
            e.status = status.to_string();
        }
        write(&self.path, &file)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.run.is_some() {
            if let Err(e) = self.set_status("failed") {
                tracing::warn!("could not mark the run as failed in the budget ledger: {e}");
            }
        }
    }
}

/// A lock file next to the ledger, removed when dropped.
struct Lock {
    path: PathBuf,
}

impl Lock {
    fn take(ledger: &Path) -> Result<Lock, LedgerError> {
        let mut name = ledger.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let path = ledger.with_file_name(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(_) => Ok(Lock { path }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(LedgerError::Locked {
                path: ledger.display().to_string(),
                lock: path.display().to_string(),
            }),
            Err(source) => Err(LedgerError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn read(path: &Path) -> Result<LedgerFile, LedgerError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| LedgerError::Invalid {
            path: path.display().to_string(),
            problem: e.to_string().trim().to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LedgerFile::default()),
        Err(source) => Err(LedgerError::Io {
            path: path.display().to_string(),
            source,
        }),
    }
}

fn write(path: &Path, file: &LedgerFile) -> Result<(), LedgerError> {
    let text = toml::to_string(file).map_err(|e| LedgerError::Invalid {
        path: path.display().to_string(),
        problem: e.to_string(),
    })?;
    let text = format!("# samen privacy-budget ledger (see samen_study::ledger)\n{text}");
    samen_core::atomic::write_atomic(path, text.as_bytes(), 0o600).map_err(|source| {
        LedgerError::Io {
            path: path.display().to_string(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use samen_pseudonym::IdKind;

    use super::*;
    use crate::spec::{Statistic, StudyBuilder};

    fn study(eps: &str) -> Study {
        StudyBuilder::new("s")
            .data_party("a", "x:1")
            .data_party("b", "x:2")
            .helper("h", "x:3")
            .table("ta", "a", "id", IdKind::Text)
            .category("ta", "c", &["p", "q"])
            .table("tb", "b", "id", IdKind::Text)
            .output("n", Statistic::Count, None, &["ta.c"], 0)
            .epsilon_text(eps)
            .build()
            .unwrap()
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("samen-ledger-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_run_past_the_total_is_refused_and_failures_count() {
        let d = dir("total");
        let path = d.join("ledger.toml");
        std::fs::write(&path, "[tables.ta]\nmax_epsilon = \"0.5\"\n").unwrap();
        let ledger = Ledger::new(&path);
        ledger
            .reserve(&study("0.2"), "ta", Caps::default())
            .unwrap()
            .complete()
            .unwrap();
        // a failed run (dropped reservation) still counts
        drop(
            ledger
                .reserve(&study("0.1"), "ta", Caps::default())
                .unwrap(),
        );
        let e = ledger
            .reserve(&study("0.3"), "ta", Caps::default())
            .unwrap_err();
        let msg = e.to_string();
        for part in [
            "'ta'",
            "epsilon = 0.3",
            "epsilon = 0.5",
            "spent epsilon = 0.3",
        ] {
            assert!(msg.contains(part), "{part} missing: {msg}");
        }
        let entries = ledger.entries().unwrap();
        let status: Vec<&str> = entries.iter().map(|e| e.status.as_str()).collect();
        assert_eq!(status, ["completed", "failed"]);
        assert_eq!(entries[0].epsilon.as_deref(), Some("0.2"));
        assert!(entries[0].study.starts_with("sha256:") && entries[0].date.ends_with('Z'));
        // exactly at the limit is allowed; a cap given by the caller overrides the file
        ledger
            .reserve(&study("0.2"), "ta", Caps::default())
            .unwrap()
            .complete()
            .unwrap();
        let caps = Caps {
            max_epsilon: Some(Ratio::new(10, 1).unwrap()),
            max_rho: None,
        };
        assert!(ledger.reserve(&study("1"), "ta", caps).is_ok());
        // another table is its own population
        assert!(ledger.reserve(&study("0.4"), "tb", Caps::default()).is_ok());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_crash_mid_run_leaves_a_readable_ledger_with_the_reservation() {
        let d = dir("crash");
        let path = d.join("ledger.toml");
        let ledger = Ledger::new(&path);
        let r = ledger.reserve(&study("1"), "ta", Caps::default()).unwrap();
        std::mem::forget(r); // the process dies: no drop, no status update
        let entries = Ledger::new(&path).entries().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].status, "reserved");
        assert!(!d.join("ledger.toml.lock").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn dates_are_utc_rfc3339() {
        let d = samen_pseudonym::key::rfc3339_now();
        assert_eq!(d.len(), 20, "{d}");
        assert!(d.starts_with("20") && d.as_bytes()[10] == b'T', "{d}");
    }
}
