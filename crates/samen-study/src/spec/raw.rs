//! The raw (serde) form of a study file, before validation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{IdSpec, Statistic};

/// The raw TOML structure of a study file (serde form, before validation). Build one in code
/// with [`super::StudyBuilder`]; [`super::Study::from_toml_str`] validates.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStudyFile {
    pub(super) study: RawStudy,
    #[serde(default)]
    pub(super) parties: BTreeMap<String, RawParty>,
    #[serde(default)]
    pub(super) tables: BTreeMap<String, RawTable>,
    #[serde(default)]
    pub(super) outputs: Vec<RawOutput>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStudy {
    pub(super) name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) join: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) neighbours: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParty {
    pub(super) address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) listen: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) role: Option<RawRole>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawRole {
    Helper,
    Data,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTable {
    pub(super) party: String,
    pub(super) id: IdSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) delimiter: Option<String>,
    #[serde(default)]
    pub(super) columns: BTreeMap<String, RawColumn>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawKind {
    Category,
    Integer,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawColumn {
    pub(super) kind: RawKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) levels: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) max: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    pub(super) name: String,
    pub(super) statistic: Statistic,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) of: Option<OneOrMany>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) x: Option<Vec<String>>,
    #[serde(default)]
    pub(super) by: Vec<RawBy>,
    #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
    pub(super) filters: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) min_cell: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) epsilon: Option<RawBudget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) rho: Option<RawBudget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) allow_exact_overlap: Option<bool>,
}

/// A privacy budget as written: a TOML number, or a string holding a decimal or a fraction
/// (`"3/7"`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum RawBudget {
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A decimal or fraction in a string.
    Text(String),
}

impl RawBudget {
    /// The budget as an exact decimal or fraction: a string as written; a number as the
    /// shortest decimal that denotes the same double (`0.1`, `1e-1` and `0.10` all give
    /// `0.1`) — the decimal as written whenever it has at most 15 significant digits.
    pub(super) fn text(&self) -> String {
        match self {
            RawBudget::Text(t) => t.clone(),
            RawBudget::Integer(i) => i.to_string(),
            RawBudget::Float(f) => format!("{f}"),
        }
    }
}

/// A `by` entry: `"table.column"` or `{ column = "table.column", breaks = [...] }` (bands of
/// an integer column).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub(super) enum RawBy {
    /// A category column.
    Column(String),
    /// An integer column grouped in bands.
    Bands {
        /// The column.
        column: String,
        /// The breaks.
        breaks: Vec<i64>,
    },
}

impl RawBy {
    /// The column named.
    pub(super) fn column(&self) -> &str {
        match self {
            RawBy::Column(c) | RawBy::Bands { column: c, .. } => c,
        }
    }
}

/// `of = "table.column"` or `of = ["table.column", …]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    /// One column.
    One(String),
    /// A list of columns.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The columns in order.
    pub(super) fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}
