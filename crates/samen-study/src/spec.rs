//! The study file: parsing, validation and the study hash.
//!
//! A study file is TOML shared byte for byte by all parties (the transport hello compares its
//! SHA-256, [`Study::hash`]). Unknown keys are rejected. See `docs/protocols/study-runner.md`
//! for the format; a minimal example:
//!
//! ```
//! use samen_study::spec::{Statistic, Study};
//! let text = r#"
//! [study]
//! name = "demo"
//!
//! [parties.bureau]
//! address = "127.0.0.1:7101"
//! [parties.portal]
//! address = "127.0.0.1:7102"
//! [parties.trustee]
//! address = "127.0.0.1:7103"
//! role = "helper"
//!
//! [tables.register]
//! party = "bureau"
//! id = { column = "bsn", kind = "bsn" }
//! columns.region = { kind = "category", levels = ["north", "south"] }
//!
//! [tables.usage]
//! party = "portal"
//! id = { column = "bsn", kind = "bsn" }
//! columns.logins = { kind = "integer", min = 0, max = 100 }
//!
//! [[outputs]]
//! name = "mean_logins_by_region"
//! statistic = "mean"
//! of = "usage.logins"
//! by = ["register.region"]
//! "#;
//! let study = Study::from_toml_str(text).unwrap();
//! assert_eq!(study.helper().name, "trustee");
//! assert_eq!(study.outputs()[0].statistic, Statistic::Mean);
//! assert_eq!(study.outputs()[0].min_cell, 10);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Default `min_cell` of an output: cells with fewer joined rows are suppressed.
pub const DEFAULT_MIN_CELL: u64 = 10;

/// Largest accepted `min_cell` (keeps the in-MPC comparison exact).
pub const MAX_MIN_CELL: u64 = 1 << 40;

/// Largest number of levels of one category column.
pub const MAX_LEVELS: usize = 10_000;

/// Largest number of cells of one output table.
pub const MAX_CELLS: usize = 1_000_000;

/// Largest length of a name (study, party, table, column, output, level).
pub const MAX_NAME_LEN: usize = 200;

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
         could reach {bound}, which is not below 2^63 = 9223372036854775808; narrow the \
         declared bounds of {column} (at most {allowed} for {rows} rows) or use smaller tables"
    )]
    Overflow {
        /// The output.
        output: String,
        /// The value column (`table.column`).
        column: String,
        /// The number of rows used in the bound (|A| + |B|).
        rows: u64,
        /// max(|min|, |max|) of the column.
        max_abs: u128,
        /// "sum" or "sum of squares".
        what: &'static str,
        /// The bound N·max|v| or N·max|v|² (saturating).
        bound: u128,
        /// The largest max|v| that would pass for this number of rows.
        allowed: u128,
    },
}

/// The kind of identifier in a table's id column (normalisation as in pseudonymisation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdKind {
    /// Dutch citizen service number (9 digits, 11-test).
    Bsn,
    /// Free text (trimmed, NFC-like normalisation of `samen-pseudonym`).
    Text,
}

/// The role of a party.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartyRole {
    /// A data party: holds one table.
    Data,
    /// The helper (dealer): correlated randomness only, never sees data.
    Helper,
}

/// A party of the study.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    /// The party's name (also its certificate name).
    pub name: String,
    /// `host:port` it listens on.
    pub address: String,
    /// Data party or helper.
    pub role: PartyRole,
}

/// The identifier column of a table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdSpec {
    /// Column name in the CSV header.
    pub column: String,
    /// Identifier kind.
    pub kind: IdKind,
}

/// The declared type of a data column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// A categorical column with a fixed, ordered list of distinct levels.
    Category {
        /// The levels in declared order (output order).
        levels: Vec<String>,
    },
    /// An integer column with inclusive bounds.
    Integer {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
}

impl ColumnKind {
    /// max(|min|, |max|) of an integer column, 0 for a category.
    pub fn max_abs(&self) -> u128 {
        match self {
            ColumnKind::Category { .. } => 0,
            ColumnKind::Integer { min, max } => {
                u128::from(min.unsigned_abs()).max(u128::from(max.unsigned_abs()))
            }
        }
    }
}

/// A table of the study (held by one data party).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSpec {
    /// Table name.
    pub name: String,
    /// The data party holding it.
    pub party: String,
    /// Identifier column.
    pub id: IdSpec,
    /// Data columns by name.
    pub columns: BTreeMap<String, ColumnKind>,
    /// Field delimiter of the party's CSV file (`delimiter = ";"` in the study file; default
    /// `,`; `"tab"` for tab).
    pub delimiter: u8,
}

/// A reference `table.column`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ColumnRef {
    /// Table name.
    pub table: String,
    /// Column name.
    pub column: String,
}

impl fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.table, self.column)
    }
}

impl ColumnRef {
    /// Parse `table.column` (split at the first dot).
    pub fn parse(s: &str) -> Option<ColumnRef> {
        let (table, column) = s.split_once('.')?;
        if table.is_empty() || column.is_empty() {
            return None;
        }
        Some(ColumnRef {
            table: table.to_string(),
            column: column.to_string(),
        })
    }
}

/// The statistic of an output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Statistic {
    /// Number of joined rows per cell.
    Count,
    /// Count and sum of a value column per cell.
    Sum,
    /// Count and mean of a value column per cell.
    Mean,
    /// Count, mean and population variance of a value column per cell.
    Variance,
}

impl Statistic {
    /// Number of per-row factors the value owner contributes: (1), (1, v) or (1, v, v²).
    pub fn factors(self) -> usize {
        match self {
            Statistic::Count => 1,
            Statistic::Sum | Statistic::Mean => 2,
            Statistic::Variance => 3,
        }
    }

    /// The statistic's name as in the study file.
    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::Count => "count",
            Statistic::Sum => "sum",
            Statistic::Mean => "mean",
            Statistic::Variance => "variance",
        }
    }
}

/// One requested output table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    /// Output name (also its file name `<name>.csv`).
    pub name: String,
    /// The statistic.
    pub statistic: Statistic,
    /// The value column (integer) for sum, mean and variance.
    pub of: Option<ColumnRef>,
    /// Zero, one or two category columns defining the cells (first outermost).
    pub by: Vec<ColumnRef>,
    /// Cells with fewer joined rows are suppressed inside MPC; 0 disables suppression.
    pub min_cell: u64,
}

/// A validated study.
#[derive(Clone, Debug)]
pub struct Study {
    name: String,
    parties: Vec<Party>,
    tables: Vec<TableSpec>,
    outputs: Vec<OutputSpec>,
    hash: [u8; 32],
    text: String,
}

// ---------------------------------------------------------------------------------------------
// Raw (serde) form of the file.

/// The raw TOML structure of a study file (serde form, before validation). Build one in code
/// with [`StudyBuilder`]; [`Study::from_toml_str`] validates.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStudyFile {
    study: RawStudy,
    #[serde(default)]
    parties: BTreeMap<String, RawParty>,
    #[serde(default)]
    tables: BTreeMap<String, RawTable>,
    #[serde(default)]
    outputs: Vec<RawOutput>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStudy {
    name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParty {
    address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<RawRole>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawRole {
    Helper,
    Data,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    party: String,
    id: IdSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delimiter: Option<String>,
    #[serde(default)]
    columns: BTreeMap<String, RawColumn>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum RawKind {
    Category,
    Integer,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    kind: RawKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    levels: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    name: String,
    statistic: Statistic,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    of: Option<String>,
    #[serde(default)]
    by: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_cell: Option<u64>,
}

fn check_name(what: &'static str, name: &str, allow_dot: bool) -> Result<(), SpecError> {
    let bad = |why| SpecError::BadName {
        what,
        name: name.to_string(),
        why,
    };
    if name.is_empty() {
        return Err(bad("it is empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(bad("it is longer than 200 bytes"));
    }
    if name.starts_with('.') || name.starts_with('-') {
        return Err(bad("it must not start with '.' or '-'"));
    }
    let ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || (allow_dot && c == '.'));
    if !ok {
        return Err(bad(if allow_dot {
            "use only ASCII letters, digits, '_', '-' and '.'"
        } else {
            "use only ASCII letters, digits, '_' and '-'"
        }));
    }
    Ok(())
}

impl Study {
    /// Read and validate a study file; the hash is the SHA-256 of the file's bytes.
    pub fn load(path: &Path) -> Result<Study, SpecError> {
        let bytes = std::fs::read(path).map_err(|source| SpecError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| SpecError::Syntax(format!("{} is not UTF-8 text", path.display())))?;
        Study::from_toml_str(&text)
    }

    /// Parse and validate a study from TOML text; the hash is the SHA-256 of its UTF-8 bytes.
    pub fn from_toml_str(text: &str) -> Result<Study, SpecError> {
        let raw: RawStudyFile = toml::from_str(text)
            .map_err(|e| SpecError::Syntax(e.to_string().trim().to_string()))?;
        let hash: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        let mut study = validate(raw)?;
        study.hash = hash;
        study.text = text.to_string();
        Ok(study)
    }

    /// The study name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// SHA-256 of the study file bytes (all parties must use byte-identical files).
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// The TOML text the study was parsed from (for a built study: its canonical text).
    pub fn toml_text(&self) -> &str {
        &self.text
    }

    /// All parties, sorted by name.
    pub fn parties(&self) -> &[Party] {
        &self.parties
    }

    /// The party with this name.
    pub fn party(&self, name: &str) -> Option<&Party> {
        self.parties.iter().find(|p| p.name == name)
    }

    /// The helper party.
    pub fn helper(&self) -> &Party {
        // Validation guarantees exactly one helper among three parties.
        let idx = self
            .parties
            .iter()
            .position(|p| p.role == PartyRole::Helper)
            .unwrap_or(0);
        &self.parties[idx]
    }

    /// The two data parties, sorted by name: `[First, Second]`.
    pub fn data_parties(&self) -> [&Party; 2] {
        let mut it = self.parties.iter().filter(|p| p.role == PartyRole::Data);
        let first = it.next().unwrap_or(&self.parties[0]);
        let second = it.next().unwrap_or(first);
        [first, second]
    }

    /// Both tables, `[table of First, table of Second]`.
    pub fn tables(&self) -> &[TableSpec] {
        &self.tables
    }

    /// The table with this name.
    pub fn table(&self, name: &str) -> Option<&TableSpec> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The table held by this party, if any.
    pub fn table_of(&self, party: &str) -> Option<&TableSpec> {
        self.tables.iter().find(|t| t.party == party)
    }

    /// The declared kind of a referenced column.
    pub fn column(&self, r: &ColumnRef) -> Option<&ColumnKind> {
        self.table(&r.table)?.columns.get(&r.column)
    }

    /// The outputs in file order.
    pub fn outputs(&self) -> &[OutputSpec] {
        &self.outputs
    }

    /// Whether the table named `table` belongs to the First data party.
    pub fn is_first_table(&self, table: &str) -> bool {
        self.tables.first().is_some_and(|t| t.name == table)
    }

    /// Refuse if a sum or sum of squares could reach 2^63 with `rows` joined rows
    /// (use `rows = |A| + |B|`). Checked for every sum, mean and variance output:
    /// `rows · max|v| < 2^63` and `rows · max|v|² < 2^63`.
    pub fn check_overflow(&self, rows: u64) -> Result<(), SpecError> {
        const LIMIT: u128 = 1 << 63;
        for o in &self.outputs {
            let Some(of) = &o.of else { continue };
            let m = self.column(of).map(ColumnKind::max_abs).unwrap_or(0);
            let n = u128::from(rows);
            let linear = n.saturating_mul(m);
            let square = n.saturating_mul(m.saturating_mul(m));
            let (what, bound) = if linear >= LIMIT {
                ("sum", linear)
            } else if square >= LIMIT {
                ("sum of squares", square)
            } else {
                continue;
            };
            // Largest m with n·m² < 2^63 (and hence n·m < 2^63 for m >= 1).
            let allowed = match LIMIT.checked_div(n) {
                None => u128::MAX,
                Some(q) => {
                    let mut a = (q as f64).sqrt() as u128;
                    while a > 0 && n.saturating_mul(a.saturating_mul(a)) >= LIMIT {
                        a -= 1;
                    }
                    while n.saturating_mul((a + 1).saturating_mul(a + 1)) < LIMIT {
                        a += 1;
                    }
                    a
                }
            };
            return Err(SpecError::Overflow {
                output: o.name.clone(),
                column: of.to_string(),
                rows,
                max_abs: m,
                what,
                bound,
                allowed,
            });
        }
        Ok(())
    }
}

fn validate(raw: RawStudyFile) -> Result<Study, SpecError> {
    check_name("study", &raw.study.name, true)?;

    // Parties.
    let mut parties = Vec::new();
    for (name, p) in &raw.parties {
        check_name("party", name, false)?;
        if samen_net::certs::validate_party_name(name).is_err() {
            return Err(SpecError::BadName {
                what: "party",
                name: name.clone(),
                why: "it must also be a certificate name: at most 63 characters, not only digits, \
                      not ending with '-'",
            });
        }
        if p.address.trim().is_empty() {
            return Err(SpecError::Parties(format!(
                "party '{name}' has an empty address (use host:port)"
            )));
        }
        parties.push(Party {
            name: name.clone(),
            address: p.address.clone(),
            role: match p.role {
                Some(RawRole::Helper) => PartyRole::Helper,
                _ => PartyRole::Data,
            },
        });
    }
    let helpers: Vec<&Party> = parties
        .iter()
        .filter(|p| p.role == PartyRole::Helper)
        .collect();
    if helpers.len() != 1 {
        return Err(SpecError::Parties(format!(
            "exactly one party must have role = \"helper\", found {}",
            helpers.len()
        )));
    }
    if parties.len() != 3 {
        return Err(SpecError::Parties(format!(
            "a study has exactly three parties (two data parties and one helper), found {}",
            parties.len()
        )));
    }

    // Tables.
    if raw.tables.len() != 2 {
        return Err(SpecError::Parties(format!(
            "a study has exactly two tables, one per data party, found {}",
            raw.tables.len()
        )));
    }
    let mut tables = Vec::new();
    for (tname, t) in &raw.tables {
        check_name("table", tname, false)?;
        let terr = |problem: String| SpecError::Table {
            table: tname.clone(),
            problem,
        };
        match parties.iter().find(|p| p.name == t.party) {
            None => return Err(terr(format!("party '{}' is not declared", t.party))),
            Some(p) if p.role == PartyRole::Helper => {
                return Err(terr(format!(
                    "party '{}' is the helper, which holds no data",
                    t.party
                )))
            }
            Some(_) => {}
        }
        if t.id.column.is_empty() {
            return Err(terr("the id column name is empty".into()));
        }
        let mut columns = BTreeMap::new();
        for (cname, c) in &t.columns {
            check_name("column", cname, true)?;
            if *cname == t.id.column {
                return Err(terr(format!(
                    "column '{cname}' is the id column and cannot also be a data column"
                )));
            }
            let kind = match c.kind {
                RawKind::Category => {
                    if c.min.is_some() || c.max.is_some() {
                        return Err(terr(format!(
                            "category column '{cname}' takes 'levels', not 'min'/'max'"
                        )));
                    }
                    let levels = c.levels.clone().ok_or_else(|| {
                        terr(format!("category column '{cname}' needs 'levels = [...]'"))
                    })?;
                    if levels.is_empty() {
                        return Err(terr(format!("category column '{cname}' has no levels")));
                    }
                    if levels.len() > MAX_LEVELS {
                        return Err(terr(format!(
                            "category column '{cname}' has more than {MAX_LEVELS} levels"
                        )));
                    }
                    let mut seen = BTreeSet::new();
                    for l in &levels {
                        if l.is_empty() || l.len() > MAX_NAME_LEN {
                            return Err(terr(format!(
                                "category column '{cname}' has an empty or over-long level"
                            )));
                        }
                        if !seen.insert(l.as_str()) {
                            return Err(terr(format!(
                                "category column '{cname}' lists level '{l}' twice; levels must be distinct"
                            )));
                        }
                    }
                    ColumnKind::Category { levels }
                }
                RawKind::Integer => {
                    if c.levels.is_some() {
                        return Err(terr(format!(
                            "integer column '{cname}' takes 'min' and 'max', not 'levels'"
                        )));
                    }
                    let (Some(min), Some(max)) = (c.min, c.max) else {
                        return Err(terr(format!(
                            "integer column '{cname}' needs both 'min' and 'max'"
                        )));
                    };
                    if min > max {
                        return Err(terr(format!(
                            "integer column '{cname}' has min = {min} greater than max = {max}"
                        )));
                    }
                    ColumnKind::Integer { min, max }
                }
            };
            columns.insert(cname.clone(), kind);
        }
        let delimiter = match t.delimiter.as_deref() {
            None => b',',
            Some(d) => samen_pseudonym::csv_bulk::parse_delimiter(d)
                .map_err(|e| terr(format!("delimiter: {e}")))?,
        };
        tables.push(TableSpec {
            name: tname.clone(),
            party: t.party.clone(),
            id: t.id.clone(),
            columns,
            delimiter,
        });
    }
    if tables[0].party == tables[1].party {
        return Err(SpecError::Parties(format!(
            "both tables belong to party '{}'; each data party holds exactly one table",
            tables[0].party
        )));
    }
    // Order tables as [First's, Second's] (First = data party whose name sorts first).
    tables.sort_by(|a, b| a.party.cmp(&b.party));

    // Outputs.
    let mut outputs = Vec::new();
    let mut names = BTreeSet::new();
    if raw.outputs.is_empty() {
        return Err(SpecError::Parties(
            "the study asks for no outputs; add at least one [[outputs]] section".into(),
        ));
    }
    let find_col = |r: &ColumnRef| -> Option<&ColumnKind> {
        tables
            .iter()
            .find(|t| t.name == r.table)?
            .columns
            .get(&r.column)
    };
    for o in &raw.outputs {
        check_name("output", &o.name, true)?;
        let oerr = |problem: String| SpecError::Output {
            output: o.name.clone(),
            problem,
        };
        if !names.insert(o.name.to_ascii_lowercase()) {
            return Err(oerr(
                "another output has the same name (names must be unique, ignoring case)".into(),
            ));
        }
        let parse_ref = |s: &str| -> Result<ColumnRef, SpecError> {
            ColumnRef::parse(s)
                .ok_or_else(|| oerr(format!("'{s}' is not of the form \"table.column\"")))
        };
        let of = match (&o.statistic, &o.of) {
            (Statistic::Count, None) => None,
            (Statistic::Count, Some(_)) => {
                return Err(oerr("statistic \"count\" takes no 'of'".into()));
            }
            (s, None) => {
                return Err(oerr(format!(
                    "statistic \"{}\" needs 'of = \"table.column\"' naming an integer column",
                    s.as_str()
                )));
            }
            (_, Some(s)) => {
                let r = parse_ref(s)?;
                match find_col(&r) {
                    None => return Err(oerr(format!("column '{r}' is not declared"))),
                    Some(ColumnKind::Category { .. }) => {
                        return Err(oerr(format!(
                            "'of' column '{r}' is a category; it must be an integer column"
                        )))
                    }
                    Some(ColumnKind::Integer { .. }) => Some(r),
                }
            }
        };
        if o.by.len() > 2 {
            return Err(oerr(format!(
                "'by' has {} columns; at most 2 are supported",
                o.by.len()
            )));
        }
        let mut by = Vec::new();
        let mut cells: usize = 1;
        for s in &o.by {
            let r = parse_ref(s)?;
            match find_col(&r) {
                None => return Err(oerr(format!("column '{r}' is not declared"))),
                Some(ColumnKind::Integer { .. }) => {
                    return Err(oerr(format!(
                        "'by' column '{r}' is an integer column; grouping needs a category column"
                    )))
                }
                Some(ColumnKind::Category { levels }) => {
                    cells = cells.saturating_mul(levels.len());
                }
            }
            if by.contains(&r) {
                return Err(oerr(format!("'by' names column '{r}' twice")));
            }
            by.push(r);
        }
        if cells > MAX_CELLS {
            return Err(oerr(format!(
                "the table would have {cells} cells, more than the limit of {MAX_CELLS}"
            )));
        }
        let min_cell = o.min_cell.unwrap_or(DEFAULT_MIN_CELL);
        if min_cell > MAX_MIN_CELL {
            return Err(oerr(format!(
                "min_cell = {min_cell} is larger than the limit of {MAX_MIN_CELL}"
            )));
        }
        outputs.push(OutputSpec {
            name: o.name.clone(),
            statistic: o.statistic,
            of,
            by,
            min_cell,
        });
    }

    Ok(Study {
        name: raw.study.name,
        parties,
        tables,
        outputs,
        hash: [0; 32],
        text: String::new(),
    })
}

// ---------------------------------------------------------------------------------------------
// Building a study in code.

/// Build a study in code. [`StudyBuilder::build`] writes the canonical TOML text and validates
/// it exactly like a file (the hash is that of the canonical text; distribute
/// [`Study::toml_text`] to the parties).
///
/// ```
/// use samen_study::spec::{IdKind, Statistic, StudyBuilder};
/// let study = StudyBuilder::new("demo")
///     .data_party("bureau", "127.0.0.1:7101")
///     .data_party("portal", "127.0.0.1:7102")
///     .helper("trustee", "127.0.0.1:7103")
///     .table("register", "bureau", "bsn", IdKind::Bsn)
///     .category("register", "region", &["north", "south"])
///     .table("usage", "portal", "bsn", IdKind::Bsn)
///     .integer("usage", "logins", 0, 100)
///     .output("logins", Statistic::Sum, Some("usage.logins"), &["register.region"], 5)
///     .build()
///     .unwrap();
/// assert_eq!(study.outputs()[0].min_cell, 5);
/// ```
#[derive(Clone, Debug, Default)]
pub struct StudyBuilder {
    raw: RawStudyFile,
}

impl StudyBuilder {
    /// Start a study with this name.
    pub fn new(name: &str) -> StudyBuilder {
        let mut raw = RawStudyFile::default();
        raw.study.name = name.to_string();
        StudyBuilder { raw }
    }

    /// Add a data party.
    pub fn data_party(mut self, name: &str, address: &str) -> Self {
        self.raw.parties.insert(
            name.to_string(),
            RawParty {
                address: address.to_string(),
                role: None,
            },
        );
        self
    }

    /// Add the helper party.
    pub fn helper(mut self, name: &str, address: &str) -> Self {
        self.raw.parties.insert(
            name.to_string(),
            RawParty {
                address: address.to_string(),
                role: Some(RawRole::Helper),
            },
        );
        self
    }

    /// Add a table held by `party` with its id column.
    pub fn table(mut self, name: &str, party: &str, id_column: &str, kind: IdKind) -> Self {
        self.raw.tables.insert(
            name.to_string(),
            RawTable {
                party: party.to_string(),
                id: IdSpec {
                    column: id_column.to_string(),
                    kind,
                },
                delimiter: None,
                columns: BTreeMap::new(),
            },
        );
        self
    }

    /// Add a category column to a table added before (ignored if the table is unknown; the
    /// output that references it then fails validation).
    pub fn category(mut self, table: &str, column: &str, levels: &[&str]) -> Self {
        if let Some(t) = self.raw.tables.get_mut(table) {
            t.columns.insert(
                column.to_string(),
                RawColumn {
                    kind: RawKind::Category,
                    levels: Some(levels.iter().map(|s| s.to_string()).collect()),
                    min: None,
                    max: None,
                },
            );
        }
        self
    }

    /// Add an integer column with inclusive bounds to a table added before.
    pub fn integer(mut self, table: &str, column: &str, min: i64, max: i64) -> Self {
        if let Some(t) = self.raw.tables.get_mut(table) {
            t.columns.insert(
                column.to_string(),
                RawColumn {
                    kind: RawKind::Integer,
                    levels: None,
                    min: Some(min),
                    max: Some(max),
                },
            );
        }
        self
    }

    /// Add an output: statistic, value column (`"table.column"`, for sum/mean/variance),
    /// grouping columns and `min_cell` (0 disables suppression).
    pub fn output(
        mut self,
        name: &str,
        statistic: Statistic,
        of: Option<&str>,
        by: &[&str],
        min_cell: u64,
    ) -> Self {
        self.raw.outputs.push(RawOutput {
            name: name.to_string(),
            statistic,
            of: of.map(str::to_string),
            by: by.iter().map(|s| s.to_string()).collect(),
            min_cell: Some(min_cell),
        });
        self
    }

    /// Write the canonical TOML text and validate it.
    pub fn build(self) -> Result<Study, SpecError> {
        let text = toml::to_string(&self.raw).map_err(|e| SpecError::Syntax(e.to_string()))?;
        Study::from_toml_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_bound_is_tight() {
        let s = StudyBuilder::new("s")
            .data_party("a", "x:1")
            .data_party("b", "x:2")
            .helper("h", "x:3")
            .table("ta", "a", "id", IdKind::Text)
            .integer("ta", "v", -(1 << 30), 1 << 30)
            .table("tb", "b", "id", IdKind::Text)
            .output("o", Statistic::Variance, Some("ta.v"), &[], 0)
            .build()
            .unwrap();
        // 2^60 · 2^3 = 2^63: refused; 7 rows pass.
        assert!(s.check_overflow(7).is_ok());
        let e = s.check_overflow(8).unwrap_err();
        match e {
            SpecError::Overflow { allowed, .. } => assert_eq!(allowed, (1 << 30) - 1),
            other => panic!("{other}"),
        }
    }
}
