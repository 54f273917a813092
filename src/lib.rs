//! # samen
//!
//! Privacy-preserving secure multiparty computation (MPC) for official statistics. Two data
//! parties — say a statistics bureau with a population register and a portal operator with
//! usage logs — hold tables keyed by a national identifier. samen joins them privately and
//! computes count, sum, mean, variance and covariance tables, correlation matrices and linear
//! regressions over the joined rows with additive secret sharing; cells with fewer than
//! `min_cell` rows are suppressed **inside** the computation, and only the final tables are
//! revealed. A third party, the helper, only produces correlated
//! randomness and never sees data. Security model: semi-honest parties, no two of which
//! collude.
//!
//! This facade re-exports the samen crates ([`core`], [`pseudonym`], [`net`], [`join`],
//! [`study`]) and the types a researcher needs to run a study from Rust: build a [`Study`] in
//! code (or load the TOML file the parties share), give in-memory tables, run all three parties
//! inside this process, and get the tables back as values.
//!
//! ```
//! use samen::{run_in_process, IdKind, InputTable, Statistic, StudyBuilder};
//!
//! let study = StudyBuilder::new("portal-usage")
//!     .data_party("bureau", "127.0.0.1:7101")
//!     .data_party("portal", "127.0.0.1:7102")
//!     .helper("trustee", "127.0.0.1:7103")
//!     .table("register", "bureau", "bsn", IdKind::Bsn)
//!     .category("register", "region", &["Groningen", "Friesland", "Drenthe"])
//!     .table("usage", "portal", "bsn", IdKind::Bsn)
//!     .category("usage", "channel", &["app", "web"])
//!     .integer("usage", "logins", 0, 10_000)
//!     .output("users", Statistic::Count, None, &["usage.channel"], 0)
//!     .output("logins", Statistic::Variance, Some("usage.logins"), &["register.region"], 2)
//!     .build()?;
//!
//! let register = InputTable::new(&["bsn", "region"])
//!     .row(&["111222333", "Groningen"])
//!     .row(&["123456782", "Groningen"])
//!     .row(&["12345672", "Friesland"]) // BSN with a dropped leading zero
//!     .row(&["234567892", "Drenthe"])
//!     .row(&["345678904", "Drenthe"]);
//! let usage = InputTable::new(&["bsn", "channel", "logins"])
//!     .row(&["111222333", "app", "4"])
//!     .row(&["123456782", "web", "8"])
//!     .row(&["012345672", "web", "1"])
//!     .row(&["234567892", "app", "2"])
//!     .row(&["345678904", "web", "6"]);
//!
//! let tables = run_in_process(&study, &[("register", &register), ("usage", &usage)])?;
//! assert_eq!(
//!     tables[0].to_csv(),
//!     "usage.channel,count,suppressed\napp,2,false\nweb,3,false\n"
//! );
//! // Friesland: 1 joined row < min_cell = 2 (primary). Both data parties know that 5 rows
//! // match, so Groningen is hidden too (secondary): 5 − 2 − 2 would give Friesland.
//! assert_eq!(
//!     tables[1].to_csv(),
//!     "register.region,count,mean,variance,suppressed\n\
//!      Groningen,,,,secondary\n\
//!      Friesland,,,,primary\n\
//!      Drenthe,2,4,4,false\n"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! For deployment each party runs `samen run` (see `docs/protocols/study-runner.md`); the
//! same engine ([`study::session::run_party`]) runs there over mutual TLS (the runner lives in
//! the `samen` binary, so this library needs no TLS stack unless you use [`net`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use samen_core as core;
pub use samen_join as join;
pub use samen_net as net;
pub use samen_pseudonym as pseudonym;
pub use samen_study as study;

pub use samen_core::Role;
pub use samen_pseudonym::IdKind;
pub use samen_study::input::{InputTable, PartyTable};
pub use samen_study::output::{OutputFile, OutputTable};
pub use samen_study::spec::{Statistic, Study, StudyBuilder};
pub use samen_study::{run_in_process, StudyError};
