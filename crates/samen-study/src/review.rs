//! The review statement: what a study makes one party send and learn, and what it releases to
//! whom, in plain language, for the party's data protection officer to approve before anything
//! runs (`samen review`).
//!
//! The statement is generated from the same validated study the engine runs: every output with
//! its statistic, columns, grouping, `min_cell` and privacy budget; the join method and what
//! it leaks, also under collusion; the sizes each party learns; the helper's view; the pinned
//! peers; and, on its last line, the study hash `sha256:<hex>` that `samen run --approve`
//! checks and that every hello compares, so what is approved is what runs.
//!
//! ```
//! use samen_pseudonym::IdKind;
//! use samen_study::spec::{Statistic, StudyBuilder};
//! let study = StudyBuilder::new("s")
//!     .data_party("bureau", "bureau.example.org:7101")
//!     .data_party("portal", "portal.example.org:7102")
//!     .helper("trustee", "trustee.example.org:7103")
//!     .table("register", "bureau", "id", IdKind::Bsn)
//!     .category("register", "region", &["north", "south"])
//!     .table("usage", "portal", "id", IdKind::Bsn)
//!     .output("users", Statistic::Count, None, &["register.region"], 10)
//!     .build()
//!     .unwrap();
//! let text = samen_study::review::statement(&study, "portal").unwrap();
//! assert!(text.contains("users: count of matched rows by register.region"));
//! assert_eq!(text.lines().last(), Some(study.hash_hex().as_str()));
//! ```

use std::collections::BTreeSet;

use samen_core::Role;
use samen_join::JoinMethod;
use thiserror::Error;

use crate::spec::{OutputSpec, Privacy, Statistic, Study};

/// An error making a review statement.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReviewError {
    /// The party is not in the study.
    #[error("party '{party}' is not in the study (parties: {parties})")]
    NotAParty {
        /// The name given.
        party: String,
        /// The study's parties, comma-separated.
        parties: String,
    },
    /// The noise of an output could not be derived (validated studies always have it); the
    /// message says why.
    #[error("{0}")]
    Noise(String),
}

impl From<crate::spec::SpecError> for ReviewError {
    fn from(e: crate::spec::SpecError) -> Self {
        ReviewError::Noise(e.to_string())
    }
}

/// The review statement of `study` for `party` (see the module documentation). Its last line
/// is the study hash, `sha256:<64 hex>`.
pub fn statement(study: &Study, party: &str) -> Result<String, ReviewError> {
    let me = study.party(party).ok_or_else(|| ReviewError::NotAParty {
        party: party.to_string(),
        parties: names(study.parties().iter().map(|p| p.name.as_str())),
    })?;
    let [first, second] = study.data_parties();
    let helper = study.helper();
    let data = format!("'{}' and '{}'", first.name, second.name);
    let mut s = String::new();
    let mut line = |text: String| {
        s.push_str(&text);
        s.push('\n');
    };

    line(format!(
        "Study '{}': review for party '{}' ({})",
        study.name(),
        me.name,
        role_words(me.role)
    ));
    line(String::new());

    line("What this party sends".into());
    match me.role {
        Role::Helper => {
            line(format!(
                "  No data: this party holds no table. It sends {data} random seeds and \
                 correlated randomness for the computation (and, for outputs with a privacy \
                 budget, shares of the noise), all drawn from the operating system's random \
                 number generator."
            ));
            if study.join() == JoinMethod::Helper {
                line(
                    "  For the join it sends each data party one position per row in a random \
                     order of all rows."
                        .to_string(),
                );
            }
        }
        Role::First | Role::Second => {
            let table = study.table_of(&me.name);
            let tname = table.map(|t| t.name.as_str()).unwrap_or_default();
            let used = used_columns(study, tname);
            line(format!(
                "  Its table '{tname}': the number of rows; the identifiers of column '{}' only \
                 in protected form ({}); the values of the columns the outputs use, only as \
                 random shares or masked values that no single other party can read: {}.",
                table.map(|t| t.id.column.as_str()).unwrap_or_default(),
                match study.join() {
                    JoinMethod::Helper => format!(
                        "keyed tags, HMAC-SHA256 under a key that '{}' never sees, sent to '{}'",
                        helper.name, helper.name
                    ),
                    JoinMethod::TwoParty =>
                        "blinded group elements, exchanged with the other data party only"
                            .to_string(),
                },
                if used.is_empty() {
                    "none".to_string()
                } else {
                    used.join(", ")
                }
            ));
            line(
                "  Columns of the input file that no output uses never enter the computation."
                    .into(),
            );
        }
    }
    line(String::new());

    line("What this party learns".into());
    match me.role {
        Role::Helper => line(format!(
            "  The sizes |A| (rows of '{}'), |B| (rows of '{}') and N (rows in either table), \
             {}and the shapes of the computation, which follow from this study file. No \
             identifier, no data value and no output table.",
            first.name,
            second.name,
            if study.join() == JoinMethod::Helper {
                "one pseudorandom tag per row of each data party, "
            } else {
                ""
            }
        )),
        Role::First | Role::Second => {
            line(format!(
                "  The sizes |A| (rows of '{}'), |B| (rows of '{}') and N (rows in either \
                 table), hence the number of matched rows |A| + |B| - N.",
                first.name, second.name
            ));
            line(
                "  The released tables below, including which cells were suppressed. Not \
                 which of its own rows matched, and nothing about the other party's rows \
                 beyond the released tables."
                    .into(),
            );
        }
    }
    line(String::new());

    line(format!(
        "What the study releases ({} output{}, to {data}; '{}' receives none)",
        study.outputs().len(),
        if study.outputs().len() == 1 { "" } else { "s" },
        helper.name
    ));
    for o in study.outputs() {
        for l in output_lines(o, study)? {
            line(format!("  {l}"));
        }
    }
    let (eps, rho) = crate::privacy::totals(study).unwrap_or_default();
    if eps.is_some() || rho.is_some() {
        let show =
            |r: Option<samen_core::dp::Ratio>| r.map_or_else(|| "0".into(), |r| r.to_string());
        line(format!(
            "  Total privacy budget of one run: epsilon = {}, rho = {} (basic composition; runs \
             on the same people add up: keep a ledger with samen run --ledger).",
            show(eps),
            show(rho)
        ));
    }
    for o in crate::disclosure::allowed_overlaps(study) {
        line(format!(
            "  WARNING: exact output '{}' releases the same or finer cells as noisy output '{}', \
             so its noise protects nothing there (released anyway: '{}' sets \
             allow_exact_overlap = true).",
            o.exact, o.noisy, o.noisy
        ));
    }
    line(String::new());

    line(format!("Join method: {}", study.join().as_str()));
    for l in join_lines(study) {
        line(format!("  {l}"));
    }
    line(String::new());

    line("Sizes each party learns".into());
    for p in study.parties() {
        line(format!(
            "  {}: |A|, |B| and N{}",
            p.name,
            if p.role == Role::Helper {
                " (and the shapes of the computation)"
            } else {
                ""
            }
        ));
    }
    line(String::new());

    line(format!("The helper's view ('{}')", helper.name));
    line(format!(
        "  The study file, the sizes |A|, |B| and N, {}the shapes of the computation and the \
         timing. It knows the noise it dealt but sees no output, no identifier and no data \
         value.",
        if study.join() == JoinMethod::Helper {
            "one pseudorandom tag per row of each data party (unlinkable to identifiers and \
             across runs), "
        } else {
            ""
        }
    ));
    if study.outputs().iter().any(|o| o.privacy.is_some()) {
        line(format!(
            "  It deals the noise of the outputs with a privacy budget, so '{}' together with \
             a data party would learn their exact values.",
            helper.name
        ));
    }
    line(String::new());

    line("Peers".into());
    for p in study.parties().iter().filter(|p| p.name != me.name) {
        line(format!(
            "  {} ({}) at {}, key {}",
            p.name,
            role_words(p.role),
            p.address,
            p.key
                .map(|k| format!("sha256:{}", hex::encode(k)))
                .unwrap_or_else(|| "not pinned (one study CA: for demos and tests)".into())
        ));
    }
    line(format!(
        "  this party: listens on {}{}",
        me.listen.as_deref().unwrap_or(&me.address),
        me.key
            .map(|k| format!(", key sha256:{}", hex::encode(k)))
            .unwrap_or_default()
    ));
    line(String::new());

    line(
        "To approve exactly this study file, run `samen run --approve` with the hash on the \
         next line; a study file that differs in any byte is refused before connecting."
            .into(),
    );
    line(study.hash_hex());
    Ok(s)
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

fn role_words(role: Role) -> &'static str {
    match role {
        Role::First => "first data party",
        Role::Second => "second data party",
        Role::Helper => "helper",
    }
}

/// The columns of `table` that some output uses (`of`, `x` or `by`), as `table.column`.
fn used_columns(study: &Study, table: &str) -> Vec<String> {
    let set: BTreeSet<String> = study
        .outputs()
        .iter()
        .flat_map(|o| o.of.iter().chain(&o.x).chain(&o.by))
        .filter(|c| c.table == table)
        .map(|c| c.to_string())
        .collect();
    set.into_iter().collect()
}

fn list(cols: &[crate::spec::ColumnRef]) -> String {
    cols.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One output: what it computes, its disclosure control and its privacy budget, one line each.
fn output_lines(o: &OutputSpec, study: &Study) -> Result<Vec<String>, ReviewError> {
    let what = match o.statistic {
        Statistic::Count => "count of matched rows".to_string(),
        Statistic::Rate => "own row count, matched count and their share (the own count is \
                            part of the release)"
            .to_string(),
        Statistic::Sum => format!("count and sum of {}", list(&o.of)),
        Statistic::Mean => format!("count and mean of {}", list(&o.of)),
        Statistic::Variance => format!("count, mean and variance of {}", list(&o.of)),
        Statistic::Covariance => format!("count and covariance of {}", list(&o.of)),
        Statistic::Correlation => format!("correlation matrix of {}", list(&o.of)),
        Statistic::Regression => format!(
            "least-squares regression of {} on {} (with intercept)",
            list(&o.of),
            list(&o.x)
        ),
    };
    let by = if o.by.is_empty() {
        String::new()
    } else {
        format!(" by {}", list(&o.by))
    };
    let mut lines = vec![format!("{}: {what}{by}", o.name)];
    if !o.filters.is_empty() {
        lines.push(format!(
            "    population: matched rows where {}",
            crate::spec::describe_filters(&o.filters)
        ));
    }
    for (column, bands) in &o.bands {
        lines.push(format!(
            "    {column} in bands {}",
            bands.levels().join(" ")
        ));
    }
    lines.push(if o.min_cell == 0 {
        "    min_cell = 0: no suppression, every cell opens (also counts of 0 and 1)".to_string()
    } else if o.by.is_empty() {
        format!(
            "    min_cell = {}: withheld if fewer than {} rows match",
            o.min_cell, o.min_cell
        )
    } else {
        format!(
            "    min_cell = {}: cells with fewer than {} matched rows are suppressed inside \
             MPC (primary), and more cells where needed so that none follows from the other \
             outputs and the matched total (secondary); the pattern opens, the values do not",
            o.min_cell, o.min_cell
        )
    });
    lines.push(budget_line(o));
    if o.privacy.is_some() {
        let report = crate::privacy::report(study)?;
        if let Some(noise) = report.iter().find(|n| n.output == o.name) {
            lines.push(format!("    guarantee: {}", noise.guarantee()));
            for q in &noise.quantities {
                lines.push(format!(
                    "    accuracy of {}: noise standard deviation {:.4}, 95 % of the time within \
                     ±{} (the sum of one draw by each data party; no party knows it)",
                    q.label, q.sd, q.half_width
                ));
            }
        }
    }
    Ok(lines)
}

/// The privacy budget of one output, as written in the study file.
fn budget_line(o: &OutputSpec) -> String {
    match o.privacy {
        Some(Privacy::Epsilon(e)) => format!(
            "    privacy budget: epsilon = {e} (discrete Laplace noise on every opened integer)"
        ),
        Some(Privacy::Rho(r)) => format!(
            "    privacy budget: rho = {r} (zero-concentrated DP, discrete Gaussian noise on \
             every opened integer)"
        ),
        None => "    privacy budget: none (exact values, no noise)".to_string(),
    }
}

fn join_lines(study: &Study) -> Vec<String> {
    let [a, b] = study.data_parties();
    let h = &study.helper().name;
    let (a, b) = (&a.name, &b.name);
    let mut v = vec![
        "Without collusion: each party learns the sizes only; no data party learns which of \
         its rows matched."
            .to_string(),
    ];
    match study.join() {
        JoinMethod::Helper => {
            v.push(format!(
                "'{h}' matches keyed tags (HMAC-SHA256, key shared by {a} and {b} only)."
            ));
            v.push(format!(
                "If '{h}' colludes with '{a}' (or '{b}'): they learn which of that party's rows \
                 are in the other table, the other party's values of the used columns, and the \
                 other party's unmatched identifiers (by testing candidate identifiers under \
                 the key). Choose join = \"two-party\" to avoid the identifier leak."
            ));
        }
        JoinMethod::TwoParty => {
            v.push(format!(
                "{a} and {b} exchange blinded group elements (Diffie-Hellman); '{h}' takes no \
                 part in the join."
            ));
            v.push(format!(
                "If '{h}' colludes with '{a}' (or '{b}'): they learn which of that party's rows \
                 are in the other table and the other party's values of the used columns (the \
                 helper knows the masks), but no identifier of the other party."
            ));
        }
    }
    v.push(format!(
        "If '{a}' and '{b}' collude: nothing beyond what they could learn by pooling their \
         own tables."
    ));
    v
}
