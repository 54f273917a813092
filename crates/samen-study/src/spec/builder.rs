//! Building a study in code.

use std::collections::BTreeMap;

use samen_join::JoinMethod;

use super::raw::{
    OneOrMany, RawBudget, RawBy, RawColumn, RawKind, RawOutput, RawParty, RawRole, RawStudyFile,
    RawTable,
};
use super::{IdKind, IdSpec, SpecError, Statistic, Study};

/// Build a study in code. [`StudyBuilder::build`] writes the canonical TOML text and validates
/// it exactly like a file (the hash is that of the canonical text; distribute
/// [`Study::toml_text`] to the parties).
///
/// ```
/// use samen_pseudonym::IdKind;
/// use samen_study::spec::{Statistic, StudyBuilder};
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
                listen: None,
                key: None,
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
                listen: None,
                key: None,
                role: Some(RawRole::Helper),
            },
        );
        self
    }

    /// Pin the key of an added party (`key = "sha256:…"`, as `samen keys` prints it).
    pub fn party_key(mut self, name: &str, fingerprint: &str) -> Self {
        if let Some(p) = self.raw.parties.get_mut(name) {
            p.key = Some(fingerprint.to_string());
        }
        self
    }

    /// Set where an added party listens (`listen = "0.0.0.0:7101"`), apart from its address.
    pub fn party_listen(mut self, name: &str, listen: &str) -> Self {
        if let Some(p) = self.raw.parties.get_mut(name) {
            p.listen = Some(listen.to_string());
        }
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
        self,
        name: &str,
        statistic: Statistic,
        of: Option<&str>,
        by: &[&str],
        min_cell: u64,
    ) -> Self {
        let of: Vec<&str> = of.into_iter().collect();
        self.push_output(name, statistic, &of, &[], by, min_cell)
    }

    /// Add an output of any statistic with its value columns `of`, predictors `x` (regression
    /// only) and grouping columns `by`.
    ///
    /// ```
    /// use samen_pseudonym::IdKind;
    /// use samen_study::spec::{Statistic, StudyBuilder};
    /// let study = StudyBuilder::new("demo")
    ///     .data_party("bureau", "127.0.0.1:7101")
    ///     .data_party("portal", "127.0.0.1:7102")
    ///     .helper("trustee", "127.0.0.1:7103")
    ///     .table("register", "bureau", "bsn", IdKind::Bsn)
    ///     .category("register", "region", &["north", "south"])
    ///     .integer("register", "income", 0, 1_000_000)
    ///     .table("usage", "portal", "bsn", IdKind::Bsn)
    ///     .integer("usage", "logins", 0, 100)
    ///     .statistic_output("v", Statistic::Variance, &["usage.logins"], &[],
    ///         &["register.region"], 10)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(study.outputs()[0].of.len(), 1);
    /// ```
    pub fn statistic_output(
        self,
        name: &str,
        statistic: Statistic,
        of: &[&str],
        x: &[&str],
        by: &[&str],
        min_cell: u64,
    ) -> Self {
        self.push_output(name, statistic, of, x, by, min_cell)
    }

    fn push_output(
        mut self,
        name: &str,
        statistic: Statistic,
        of: &[&str],
        x: &[&str],
        by: &[&str],
        min_cell: u64,
    ) -> Self {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        self.raw.outputs.push(RawOutput {
            name: name.to_string(),
            statistic,
            of: match of {
                [] => None,
                [one] => Some(OneOrMany::One(one.to_string())),
                many => Some(OneOrMany::Many(strings(many))),
            },
            x: (!x.is_empty()).then(|| strings(x)),
            by: strings(by).into_iter().map(RawBy::Column).collect(),
            filters: Vec::new(),
            min_cell: Some(min_cell),
            epsilon: None,
            rho: None,
            allow_exact_overlap: None,
        });
        self
    }

    /// Release the output added last with ε-differential privacy (discrete Laplace noise).
    /// The budget is the shortest decimal of `epsilon` (`0.1` is exactly 1/10); use
    /// [`StudyBuilder::epsilon_text`] for a fraction.
    pub fn epsilon(self, epsilon: f64) -> Self {
        self.budget(RawBudget::Float(epsilon), false)
    }

    /// Release the output added last with ε-differential privacy, ε written as a decimal or a
    /// fraction (`"0.1"`, `"3/7"`).
    pub fn epsilon_text(self, epsilon: &str) -> Self {
        self.budget(RawBudget::Text(epsilon.to_string()), false)
    }

    /// Release the output added last with ρ-zCDP (discrete Gaussian noise); ρ as the
    /// shortest decimal of `rho`.
    pub fn rho(self, rho: f64) -> Self {
        self.budget(RawBudget::Float(rho), true)
    }

    /// Calibrate the noise to this neighbour relation (the default is
    /// [`super::Neighbours::ReplaceOne`]).
    pub fn neighbours(mut self, neighbours: super::Neighbours) -> Self {
        self.raw.study.neighbours = Some(neighbours.as_str().to_string());
        self
    }

    fn budget(mut self, value: RawBudget, rho: bool) -> Self {
        if let Some(o) = self.raw.outputs.last_mut() {
            let b = Some(value);
            if rho {
                o.rho = b;
            } else {
                o.epsilon = b;
            }
        }
        self
    }

    /// Let the output added last (with a privacy budget) through although an exact output
    /// releases the same or finer cells (`allow_exact_overlap = true`; see
    /// [`crate::disclosure::exact_overlaps`]).
    pub fn allow_exact_overlap(mut self) -> Self {
        if let Some(o) = self.raw.outputs.last_mut() {
            o.allow_exact_overlap = Some(true);
        }
        self
    }

    /// Choose the join method (`"helper"`, the default, or `"two-party"`).
    pub fn join(mut self, method: JoinMethod) -> Self {
        self.raw.study.join = Some(method.as_str().to_string());
        self
    }

    /// Write the canonical TOML text and validate it.
    pub fn build(self) -> Result<Study, SpecError> {
        let text = toml::to_string(&self.raw).map_err(|e| SpecError::Syntax(e.to_string()))?;
        Study::from_toml_str(&text)
    }
}
