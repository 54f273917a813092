//! # samen-study
//!
//! The study engine of samen: a study file names two data parties, one helper, one table per
//! data party and the output tables (count, sum, mean or variance over zero to two grouping
//! columns from either table). This crate
//!
//! - parses and validates study files ([`spec`]), including the overflow rule;
//! - reads and validates a party's input ([`input`]) before anything is sent;
//! - lays out the joint computation as one cross-party matrix product ([`plan`]);
//! - runs one party's side of the computation over any channel ([`engine`], [`session`]):
//!   private join, local matrices, the product with a helper triple, suppression of small
//!   cells **inside MPC**, and the reveal of the final tables only;
//! - writes the tables ([`output`]) and auditor transcripts ([`transcript`]);
//! - computes the same tables in the clear for tests and audits ([`mod@reference`]).
//!
//! Security model: semi-honest parties, no two of which collude. The data parties learn |A|,
//! |B|, the union size N, the revealed tables and which cells were suppressed (primary or
//! secondary, [`disclosure`]); the helper
//! learns |A|, |B|, N and the table shapes. See `docs/protocols/study-runner.md`.
//!
//! ```
//! use samen_study::input::InputTable;
//! use samen_pseudonym::IdKind;
//! use samen_study::spec::{Statistic, StudyBuilder};
//!
//! let study = StudyBuilder::new("example")
//!     .data_party("bureau", "127.0.0.1:7101")
//!     .data_party("portal", "127.0.0.1:7102")
//!     .helper("trustee", "127.0.0.1:7103")
//!     .table("register", "bureau", "id", IdKind::Text)
//!     .category("register", "region", &["north", "south", "east"])
//!     .table("usage", "portal", "id", IdKind::Text)
//!     .integer("usage", "logins", 0, 100)
//!     .output("logins", Statistic::Mean, Some("usage.logins"), &["register.region"], 2)
//!     .build()
//!     .unwrap();
//! let register = InputTable::new(&["id", "region"])
//!     .row(&["a", "north"]).row(&["b", "north"]).row(&["c", "south"]).row(&["d", "south"])
//!     .row(&["e", "east"]).row(&["f", "east"]);
//! let usage = InputTable::new(&["id", "logins"])
//!     .row(&["a", "3"]).row(&["b", "4"]).row(&["c", "10"]).row(&["e", "6"]).row(&["f", "8"])
//!     .row(&["x", "99"]);
//! let tables = samen_study::run_in_process(&study, &[("register", &register), ("usage", &usage)])
//!     .unwrap();
//! let t = &tables[0];
//! assert_eq!(t.get(1, "suppressed"), Some("primary"));   // south: only c joins (1 < 2)
//! // The data parties know that 5 rows match: north is hidden too, or 5 − 2 − 2 gives south.
//! assert_eq!(t.get(0, "suppressed"), Some("secondary"));
//! assert_eq!(t.get(2, "mean"), Some("7"));                // east: e, f
//! assert_eq!(
//!     t.to_csv(),
//!     "register.region,count,mean,suppressed\nnorth,,,secondary\nsouth,,,primary\neast,2,7,false\n"
//! );
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod disclosure;
pub mod engine;
pub mod input;
pub mod ledger;
pub mod output;
pub mod plan;
pub mod privacy;
pub mod reference;
pub mod review;
pub mod session;
pub mod spec;
pub mod statistic;
pub mod stats;
pub mod transcript;

pub use engine::{EngineError, Sizes};
pub use input::{InputError, InputTable, PartyTable};
pub use output::{OutputFile, OutputTable};
pub use session::{run_in_process as run_validated_in_process, LocalRun};
pub use spec::{SpecError, Statistic, Study, StudyBuilder};

use thiserror::Error;

/// An error of the in-process library API.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StudyError {
    /// An input table is invalid or missing.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The computation failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A data party's table was not given.
    #[error("no input given for table '{0}'")]
    MissingInput(String),
}

/// Validate both data parties' in-memory tables (`(table name, table)` pairs) and run all three
/// parties inside this process; returns the revealed tables in study order.
pub fn run_in_process(
    study: &Study,
    inputs: &[(&str, &InputTable)],
) -> Result<Vec<OutputTable>, StudyError> {
    let mut validated = Vec::new();
    for spec in study.tables() {
        let raw = inputs
            .iter()
            .find(|(n, _)| *n == spec.name)
            .ok_or_else(|| StudyError::MissingInput(spec.name.clone()))?;
        validated.push(raw.1.validate(study, &spec.name)?);
    }
    match validated.as_slice() {
        [a, b] => Ok(session::run_in_process(study, [a, b], false)?.tables),
        _ => Err(StudyError::MissingInput("(both tables)".into())),
    }
}
