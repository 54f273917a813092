//! Errors of study files.

use thiserror::Error;

/// One problem of a study file, at its place in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecProblem {
    /// Line in the file (first line = 1).
    pub line: usize,
    /// Column in the line, in characters (first = 1).
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// A likely intended name (key, statistic, party or column), if the name is misspelt.
    pub suggestion: Option<String>,
}

impl std::fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )?;
        if let Some(s) = &self.suggestion {
            write!(f, "; did you mean '{s}'?")?;
        }
        Ok(())
    }
}

fn problems_message(path: Option<&str>, problems: &[SpecProblem]) -> String {
    let file = path.map_or_else(|| "study file".to_string(), |p| format!("study file {p}"));
    match problems {
        [one] => format!("{file}, {one}"),
        _ => {
            let mut s = format!("{file}: {} problems:", problems.len());
            for p in problems {
                s.push_str("\n  ");
                s.push_str(&p.to_string());
            }
            s
        }
    }
}

/// An error in a study file. Messages say what to fix in the file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The study file could not be read.
    #[error("cannot read study file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Every problem found in the file, each at its line and column (in line order).
    #[error("{}", problems_message(path.as_deref(), problems))]
    Problems {
        /// The file, when the study was loaded from one.
        path: Option<String>,
        /// The problems.
        problems: Vec<SpecProblem>,
    },
    /// The file is not valid TOML or does not have the study structure (unknown key, wrong
    /// type, missing key).
    #[error("study file is not valid: {0}")]
    Syntax(String),
    /// A name (party, table, column, output, level) is not acceptable.
    #[error("study file: {what} name '{name}' is not allowed: {why}")]
    BadName {
        /// What kind of name.
        what: &'static str,
        /// The name.
        name: String,
        /// Why it is rejected.
        why: &'static str,
    },
    /// The parties section is wrong (number of helpers, parties without a table, ...).
    #[error("study file: {0}")]
    Parties(String),
    /// A table definition is wrong.
    #[error("study file, table '{table}': {problem}")]
    Table {
        /// The table.
        table: String,
        /// What is wrong.
        problem: String,
    },
    /// An output definition is wrong.
    #[error("study file, output '{output}': {problem}")]
    Output {
        /// The output.
        output: String,
        /// What is wrong.
        problem: String,
    },
    /// A sum or sum of squares could overflow the ring for the given table sizes.
    #[error(
        "output '{output}': with up to {rows} joined rows and |{column}| <= {max_abs}, a {what} \
         could reach {bound}, which is not below 2^{limit_bits} = {}; narrow the \
         declared bounds of {column} (at most {allowed} for {rows} rows) or use smaller tables"
    , pow2(*.limit_bits))]
    Overflow {
        /// The output.
        output: String,
        /// The value column (`table.column`), or the product of columns (`a.x·b.y`) whose sum
        /// is opened.
        column: String,
        /// The number of rows used in the bound (the intersection size |A ∩ B|).
        rows: u64,
        /// max(|min|, |max|) of the column (of the product, for a product of columns).
        max_abs: u128,
        /// "sum", "sum of squares" or "sum of products".
        what: &'static str,
        /// The bound N·max|v| or N·max|v|² (saturating).
        bound: u128,
        /// The largest max|v| that would pass for this number of rows.
        allowed: u128,
        /// The exponent of the limit: 63, or 62 for a regression (its exact solve).
        limit_bits: u32,
    },
    /// An exact output releases the same or finer cells than an output with a privacy
    /// budget, so the noise can be subtracted away.
    #[error(
        "study file: output '{noisy}' adds noise (epsilon/rho), but the exact output '{exact}' \
         releases the same values over the same or finer cells (its 'by' columns include all of \
         '{noisy}'), so the noise can be subtracted away; group '{noisy}' by columns that no \
         exact output covers at that level or finer, add noise to '{exact}' as well, drop one \
         of the two, or set allow_exact_overlap = true on '{noisy}' to release it anyway (a \
         review lists it as a warning)"
    )]
    NoiseCancelled {
        /// The output with a privacy budget.
        noisy: String,
        /// The exact output that cancels its noise.
        exact: String,
    },
    /// One data party's matrix would be wider than the transport can carry in one row.
    #[error(
        "the outputs need {width} columns in the matrix of party '{party}', more than the limit \
         of {max}; split the study or use fewer levels, grouping columns or predictors"
    )]
    TooWide {
        /// The data party.
        party: String,
        /// The width its outputs need.
        width: usize,
        /// The limit.
        max: usize,
    },
    /// The cross-party product `k × l` of all outputs would be too large for every party to
    /// hold (each keeps one `k × l` share matrix).
    #[error(
        "the outputs need a product of {k} × {l} entries, more than the limit of {max}; split the \
         study into several studies or use fewer levels, grouping columns or predictors"
    )]
    ProductTooLarge {
        /// Width of the first data party's matrix.
        k: usize,
        /// Width of the second data party's matrix.
        l: usize,
        /// The limit on `k · l`.
        max: usize,
    },
}

/// `2^bits` (saturating), for the overflow message.
fn pow2(bits: u32) -> u128 {
    1u128.checked_shl(bits).unwrap_or(u128::MAX)
}
