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

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use samen_core::dp::Ratio;
use samen_core::Role;
use samen_join::JoinMethod;
use samen_pseudonym::IdKind;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod builder;
mod diagnose;
mod error;
mod raw;
mod select;
mod validate;

pub use builder::StudyBuilder;
pub use error::{SpecError, SpecProblem};
use raw::RawStudyFile;
pub use select::{describe_filters, Bands, Condition, Filter};

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

/// A party of the study.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    /// The party's name (also its certificate name).
    pub name: String,
    /// `host:port` at which the other parties reach it: an IP address, `[IPv6]:port` or a DNS
    /// name (resolved when dialing).
    pub address: String,
    /// `host:port` its listener binds to (`listen = "0.0.0.0:7101"` or `"[::]:7101"`), when it
    /// differs from `address` (NAT, port forwarding, containers); `None`: it binds `address`.
    pub listen: Option<String>,
    /// The SHA-256 of its public key's DER SubjectPublicKeyInfo (`key = "sha256:<64 hex>"`,
    /// printed by `samen keys`). Either every party has a key or none has.
    pub key: Option<[u8; 32]>,
    /// [`Role::Helper`] for the party with `role = "helper"`; of the two data parties (each
    /// holds one table), the one whose name sorts first is [`Role::First`], the other
    /// [`Role::Second`].
    pub role: Role,
}

/// The identifier column of a table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdSpec {
    /// Column name in the CSV header.
    pub column: String,
    /// Identifier kind (`kind = "bsn"` or `"text"`), normalised as in pseudonymisation.
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

/// The statistic of an output. Each is implemented by one module of [`crate::statistic`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Statistic {
    /// Number of joined rows per cell.
    Count,
    /// Count and sum of a value column per cell.
    Sum,
    /// Count and mean of a value column per cell.
    Mean,
    /// Count, mean and population variance of a value column per cell.
    Variance,
    /// Count and population covariance of two value columns per cell.
    Covariance,
    /// Pearson correlation matrix of two or more value columns over the matched rows.
    Correlation,
    /// Ordinary least squares regression of a response on predictors, with an intercept.
    Regression,
    /// Per cell of one table's columns: that table's own row count, the matched count and
    /// their ratio (a left-join statistic; the own counts of published cells are released).
    Rate,
}

impl Statistic {
    /// Every statistic, in the order of the documentation: the one list that tests and
    /// documents covering every statistic iterate. A unit test checks it against the variants
    /// the study-file parser accepts (read from the `Deserialize` derive), so a new variant
    /// fails the tests until it is listed here.
    pub const ALL: [Statistic; 8] = [
        Statistic::Count,
        Statistic::Sum,
        Statistic::Mean,
        Statistic::Variance,
        Statistic::Covariance,
        Statistic::Correlation,
        Statistic::Regression,
        Statistic::Rate,
    ];

    /// The statistic's name as in the study file.
    pub fn as_str(self) -> &'static str {
        crate::statistic::definition(self).name()
    }
}

/// A differential-privacy budget of one output (see `docs/protocols/differential-privacy.md`),
/// exactly as the study file writes it (`0.1` is 1/10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privacy {
    /// ε-differential privacy with discrete Laplace noise (`epsilon = …`).
    Epsilon(Ratio),
    /// ρ-zero-concentrated differential privacy with discrete Gaussian noise (`rho = …`).
    Rho(Ratio),
}

impl Privacy {
    /// `"epsilon"` or `"rho"`, the study file's key.
    pub fn key(&self) -> &'static str {
        match self {
            Privacy::Epsilon(_) => "epsilon",
            Privacy::Rho(_) => "rho",
        }
    }

    /// The budget's value.
    pub fn value(&self) -> Ratio {
        match self {
            Privacy::Epsilon(v) | Privacy::Rho(v) => *v,
        }
    }
}

impl fmt::Display for Privacy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Privacy::Epsilon(e) => write!(f, "ε = {e}"),
            Privacy::Rho(r) => write!(f, "ρ = {r}"),
        }
    }
}

/// The neighbour relation the differential-privacy noise is calibrated to (`[study]
/// neighbours = …`). See `docs/protocols/differential-privacy.md`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Neighbours {
    /// `"replace-one"` (the default): neighbouring inputs have the same table sizes and the
    /// same number of matched people, and differ in one matched person's values. Every data
    /// party knows the sizes, so this is the relation under which the guarantee holds against
    /// the data parties as well as the helper and the public. One person moves a quantity of
    /// at most two cells, so the sensitivity is twice one person's contribution.
    #[default]
    ReplaceOne,
    /// `"add-remove"`: neighbouring inputs differ by one matched person. The guarantee holds
    /// as stated only against someone who does not know the number of matched people; against
    /// the data parties (who know it) it is the replace-one guarantee with twice the budget.
    AddRemove,
}

impl Neighbours {
    /// The name in the study file.
    pub fn as_str(&self) -> &'static str {
        match self {
            Neighbours::ReplaceOne => "replace-one",
            Neighbours::AddRemove => "add-remove",
        }
    }

    /// Parse the study file's name.
    pub fn parse(s: &str) -> Option<Neighbours> {
        match s {
            "replace-one" => Some(Neighbours::ReplaceOne),
            "add-remove" => Some(Neighbours::AddRemove),
            _ => None,
        }
    }
}

/// One requested output table.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputSpec {
    /// Output name (also its file name `<name>.csv`).
    pub name: String,
    /// The statistic.
    pub statistic: Statistic,
    /// The value columns (integer): none for count, one for sum, mean and variance and the
    /// response of a regression, two for covariance, two or more for correlation.
    pub of: Vec<ColumnRef>,
    /// The predictors of a regression (integer or category columns), in order.
    pub x: Vec<ColumnRef>,
    /// Zero, one or two columns defining the cells (first outermost): category columns, or
    /// integer columns grouped in bands (their [`OutputSpec::bands`]).
    pub by: Vec<ColumnRef>,
    /// The bands of the integer columns among `by` (`by = [{ column = …, breaks = […] }]`).
    pub bands: BTreeMap<ColumnRef, Bands>,
    /// The population: only matched rows passing every filter count (`where = […]`), in
    /// canonical form (sorted, `<`/`>` as `<=`/`>=`, `not in` as `in` the other levels), so
    /// that outputs over the same population have equal filters. Empty: every matched row.
    pub filters: Vec<Filter>,
    /// Cells with fewer joined rows are suppressed inside MPC; 0 disables suppression.
    pub min_cell: u64,
    /// Differential privacy: noise added inside MPC to every integer the output opens.
    pub privacy: Option<Privacy>,
    /// `allow_exact_overlap = true` on an output with a privacy budget: release it although
    /// an exact output releases the same or finer cells, which cancels its noise (validation
    /// refuses such a pair otherwise; [`crate::disclosure::allowed_overlaps`] lists the pairs
    /// for a review).
    pub allow_exact_overlap: bool,
}

/// A validated study.
#[derive(Clone, Debug)]
pub struct Study {
    name: String,
    join: JoinMethod,
    neighbours: Neighbours,
    /// All three, sorted by name.
    parties: Vec<Party>,
    helper: Party,
    /// `[First, Second]`.
    data: [Party; 2],
    tables: Vec<TableSpec>,
    outputs: Vec<OutputSpec>,
    hash: [u8; 32],
    text: String,
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
        Study::from_toml_str(&text).map_err(|e| match e {
            SpecError::Problems { problems, .. } => SpecError::Problems {
                path: Some(path.display().to_string()),
                problems,
            },
            e => e,
        })
    }

    /// Parse and validate a study from TOML text; the hash is the SHA-256 of its UTF-8 bytes.
    pub fn from_toml_str(text: &str) -> Result<Study, SpecError> {
        let study = toml::from_str::<RawStudyFile>(text)
            .map_err(|e| SpecError::Syntax(e.to_string().trim().to_string()))
            .and_then(validate::validate);
        // On failure, every problem of the file at its place (see `diagnose`).
        let mut study = study.map_err(|e| diagnose::diagnose(text, e))?;
        let hash: [u8; 32] = Sha256::digest(text.as_bytes()).into();
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

    /// True if every party's key is pinned (`key = "sha256:…"`); the validation refuses a
    /// study that pins some parties but not all.
    pub fn pinned(&self) -> bool {
        self.parties.iter().all(|p| p.key.is_some())
    }

    /// The study hash as written for approval: `sha256:` and 64 lower-case hex digits.
    pub fn hash_hex(&self) -> String {
        format!("sha256:{}", hex::encode(self.hash))
    }

    /// The party with this name.
    pub fn party(&self, name: &str) -> Option<&Party> {
        self.parties.iter().find(|p| p.name == name)
    }

    /// The helper party.
    pub fn helper(&self) -> &Party {
        &self.helper
    }

    /// The two data parties, sorted by name: `[First, Second]`.
    pub fn data_parties(&self) -> [&Party; 2] {
        let [first, second] = &self.data;
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

    /// The role of the data party that holds the table named `table` ([`Role::First`] for
    /// the first of [`Study::tables`], [`Role::Second`] for the other); `None` for a table the
    /// study does not declare.
    pub fn table_role(&self, table: &str) -> Option<Role> {
        let t = self.table(table)?;
        self.party(&t.party).map(|p| p.role)
    }

    /// The join method (`join = "helper"`, the default, or `"two-party"`).
    pub fn join(&self) -> JoinMethod {
        self.join
    }

    /// The neighbour relation the differential-privacy noise is calibrated to
    /// (`neighbours = "replace-one"`, the default, or `"add-remove"`).
    pub fn neighbours(&self) -> Neighbours {
        self.neighbours
    }

    /// Refuse if any integer an output opens (a count, a sum, a sum of squares or products)
    /// could reach 2^63 in magnitude with `rows` joined rows (the engine uses the intersection
    /// size `|A| + |B| − N`, since only matched rows contribute to a quantity): for every
    /// quantity, `rows · Π max|column|` must stay below 2^63.
    pub fn check_overflow(&self, rows: u64) -> Result<(), SpecError> {
        crate::statistic::check_overflow(self, rows)
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

    fn pinned_text(keys: [Option<&str>; 3], listen: &str) -> String {
        let line = |k: Option<&str>| k.map(|k| format!("key = \"{k}\"\n")).unwrap_or_default();
        format!(
            "[study]\nname = \"s\"\n\
             [parties.bureau]\naddress = \"bureau.example.org:7101\"\n{listen}{}\
             [parties.portal]\naddress = \"[2001:db8::7]:7102\"\n{}\
             [parties.trustee]\naddress = \"10.1.2.3:7103\"\nrole = \"helper\"\n{}\
             [tables.r]\nparty = \"bureau\"\nid = {{ column = \"id\", kind = \"text\" }}\n\
             [tables.u]\nparty = \"portal\"\nid = {{ column = \"id\", kind = \"text\" }}\n\
             [[outputs]]\nname = \"n\"\nstatistic = \"count\"\n",
            line(keys[0]),
            line(keys[1]),
            line(keys[2])
        )
    }

    #[test]
    fn keys_are_pinned_on_all_parties_or_none_and_listen_is_optional() {
        let a = format!("sha256:{}", "0a".repeat(32));
        let b = format!("sha256:{}", "0B".repeat(32));
        let c = format!("sha256:{}", "c0".repeat(32));
        let s = Study::from_toml_str(&pinned_text(
            [Some(&a), Some(&b), Some(&c)],
            "listen = \"0.0.0.0:7101\"\n",
        ))
        .unwrap();
        assert!(s.pinned());
        assert_eq!(s.party("portal").unwrap().key, Some([0x0b; 32]));
        assert_eq!(s.party("portal").unwrap().address, "[2001:db8::7]:7102");
        assert_eq!(
            s.party("bureau").unwrap().listen.as_deref(),
            Some("0.0.0.0:7101")
        );
        assert_eq!(s.party("trustee").unwrap().listen, None);
        assert_eq!(s.hash_hex(), format!("sha256:{}", hex::encode(s.hash())));
        // The hash covers the pins: another pin, another hash.
        let d = format!("sha256:{}", "d0".repeat(32));
        let t = Study::from_toml_str(&pinned_text([Some(&a), Some(&b), Some(&d)], "")).unwrap();
        let u = Study::from_toml_str(&pinned_text([Some(&a), Some(&b), Some(&c)], "")).unwrap();
        assert_ne!(t.hash(), u.hash());
        // None pinned: fine (demo and tests with one CA).
        assert!(!Study::from_toml_str(&pinned_text([None, None, None], ""))
            .unwrap()
            .pinned());
        // Some pinned: refused, naming the parties without a pin.
        let e = Study::from_toml_str(&pinned_text([Some(&a), None, None], ""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not for portal, trustee"), "{e}");
        for bad in ["sha256:abc", "0a0a", &format!("sha1:{}", "0a".repeat(32))] {
            let e = Study::from_toml_str(&pinned_text([Some(&a), Some(&b), Some(bad)], ""))
                .unwrap_err()
                .to_string();
            assert!(e.contains("party 'trustee': key must be"), "{e}");
        }
    }

    #[test]
    fn data_roles_follow_the_order_of_the_names() {
        let s = StudyBuilder::new("s")
            .data_party("zeta", "x:1")
            .helper("alpha", "x:3")
            .data_party("mid", "x:2")
            .table("tz", "zeta", "id", IdKind::Text)
            .integer("tz", "v", 0, 10)
            .table("tm", "mid", "id", IdKind::Bsn)
            .output("o", Statistic::Mean, Some("tz.v"), &[], 0)
            .build()
            .unwrap();
        let roles: Vec<(&str, Role)> = s
            .parties()
            .iter()
            .map(|p| (p.name.as_str(), p.role))
            .collect();
        assert_eq!(
            roles,
            [
                ("alpha", Role::Helper),
                ("mid", Role::First),
                ("zeta", Role::Second)
            ]
        );
        assert_eq!(s.helper().name, "alpha");
        assert_eq!(s.data_parties().map(|p| p.name.as_str()), ["mid", "zeta"]);
        assert_eq!(s.table_role("tm"), Some(Role::First));
        assert_eq!(s.table_role("tz"), Some(Role::Second));
        assert_eq!(s.table_role("nope"), None);
        assert_eq!(s.tables()[0].name, "tm");
    }
}
