//! Which rows an output reads and how an integer column is grouped: `where` filters and
//! `by` bands.
//!
//! A filter (`where = ["usage.logins >= 5", "register.age_band in [\"18-24\"]"]`) compares one
//! column with constants: `=`, `!=`, `<`, `<=`, `>`, `>=` with an integer for an integer
//! column, `in [...]` / `not in [...]` with declared levels for a category column. An output's
//! filters are combined with AND. Each is kept in a canonical form ([`Filter`]): `<` and `>`
//! become `<=` and `>=`, `not in` becomes `in` the other levels (in declared order), and an
//! output's filters are sorted and deduplicated, so two outputs over the same population have
//! equal [`crate::spec::OutputSpec::filters`].
//!
//! A band grouping (`by = [{ column = "register.income", breaks = [0, 20000, 40000] }]`)
//! turns an integer column into levels `[0,20000)`, `[20000,40000)`, `[40000,inf)`, preceded by
//! `(-inf,0)` only if the column's declared minimum lies below the first break ([`Bands`]).

use std::collections::BTreeMap;
use std::fmt;

use super::raw::RawBy;
use super::{ColumnKind, ColumnRef};

/// The condition of a filter on one column, in canonical form.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Condition {
    /// An integer column's value is at least this.
    AtLeast(i64),
    /// An integer column's value is at most this.
    AtMost(i64),
    /// An integer column's value equals this.
    Equal(i64),
    /// An integer column's value differs from this.
    NotEqual(i64),
    /// A category column has one of these levels (indices into the declared levels,
    /// ascending, with their names).
    Levels(Vec<(u32, String)>),
}

/// One filter of an output: a condition on one column of either table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Filter {
    /// The column tested.
    pub column: ColumnRef,
    /// The condition.
    pub condition: Condition,
}

impl Filter {
    /// Whether an integer value passes (always false for a level condition).
    pub fn passes_value(&self, v: i64) -> bool {
        match &self.condition {
            Condition::AtLeast(c) => v >= *c,
            Condition::AtMost(c) => v <= *c,
            Condition::Equal(c) => v == *c,
            Condition::NotEqual(c) => v != *c,
            Condition::Levels(_) => false,
        }
    }

    /// Whether a category level index passes (always false for an integer condition).
    pub fn passes_level(&self, level: u32) -> bool {
        match &self.condition {
            Condition::Levels(l) => l.binary_search_by_key(&level, |(i, _)| *i).is_ok(),
            _ => false,
        }
    }
}

impl fmt::Display for Filter {
    /// The canonical text, e.g. `usage.logins >= 5` or `register.age in ["18-24", "25-44"]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.column;
        match &self.condition {
            Condition::AtLeast(v) => write!(f, "{c} >= {v}"),
            Condition::AtMost(v) => write!(f, "{c} <= {v}"),
            Condition::Equal(v) => write!(f, "{c} = {v}"),
            Condition::NotEqual(v) => write!(f, "{c} != {v}"),
            Condition::Levels(l) => {
                let names: Vec<String> = l.iter().map(|(_, n)| format!("{n:?}")).collect();
                write!(f, "{c} in [{}]", names.join(", "))
            }
        }
    }
}

/// The canonical text of an output's filters joined with ` and ` (empty for none).
pub fn describe_filters(filters: &[Filter]) -> String {
    let parts: Vec<String> = filters.iter().map(ToString::to_string).collect();
    parts.join(" and ")
}

/// Parse one `where` entry against the declared columns; `Err` says what to fix.
pub(super) fn parse_filter<'a>(
    text: &str,
    column: &dyn Fn(&ColumnRef) -> Option<&'a ColumnKind>,
) -> Result<Filter, String> {
    let t = text.trim();
    let end = t
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .unwrap_or(t.len());
    let (name, rest) = t.split_at(end);
    let r = ColumnRef::parse(name)
        .ok_or_else(|| format!("where \"{text}\": it must start with a column \"table.column\""))?;
    let kind =
        column(&r).ok_or_else(|| format!("where \"{text}\": column '{r}' is not declared"))?;
    let rest = rest.trim_start();
    let bad_op = || {
        format!(
            "where \"{text}\": after the column write one of =, !=, <, <=, >, >= and an integer, \
             or in [...] / not in [...] with levels"
        )
    };
    let (op, operand) = ["not in", "in", ">=", "<=", "!=", "=", "<", ">"]
        .iter()
        .find_map(|op| {
            let after = rest.strip_prefix(op)?;
            // A word operator must be followed by a space or '['.
            let word_ok = !op.ends_with('n') || after.starts_with([' ', '[']);
            word_ok.then_some((*op, after.trim()))
        })
        .ok_or_else(bad_op)?;
    match (op, kind) {
        ("in" | "not in", ColumnKind::Category { levels }) => {
            let names = parse_levels(operand)
                .ok_or_else(|| format!("where \"{text}\": write the levels as [\"a\", \"b\"]"))?;
            let mut chosen = Vec::with_capacity(names.len());
            for n in &names {
                let i = levels.iter().position(|l| l == n).ok_or_else(|| {
                    format!("where \"{text}\": '{n}' is not a declared level of '{r}'")
                })?;
                chosen.push(i);
            }
            let keep: Vec<(u32, String)> = levels
                .iter()
                .enumerate()
                .filter(|(i, _)| chosen.contains(i) == (op == "in"))
                .map(|(i, l)| (i as u32, l.clone()))
                .collect();
            Ok(Filter {
                column: r,
                condition: Condition::Levels(keep),
            })
        }
        ("in" | "not in", ColumnKind::Integer { .. }) => Err(format!(
            "where \"{text}\": '{r}' is an integer column; compare it with =, !=, <, <=, >, >="
        )),
        (_, ColumnKind::Category { .. }) => Err(format!(
            "where \"{text}\": '{r}' is a category column; use in [...] or not in [...]"
        )),
        (_, ColumnKind::Integer { .. }) => {
            let v: i64 = operand
                .replace('_', "")
                .parse()
                .map_err(|_| format!("where \"{text}\": '{operand}' is not an integer"))?;
            let never = || format!("where \"{text}\": no value passes this filter");
            let condition = match op {
                ">=" => Condition::AtLeast(v),
                "<=" => Condition::AtMost(v),
                "=" => Condition::Equal(v),
                "!=" => Condition::NotEqual(v),
                ">" => Condition::AtLeast(v.checked_add(1).ok_or_else(never)?),
                _ => Condition::AtMost(v.checked_sub(1).ok_or_else(never)?),
            };
            Ok(Filter {
                column: r,
                condition,
            })
        }
    }
}

/// `["a", "b"]` (TOML strings) as a list.
fn parse_levels(operand: &str) -> Option<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct List {
        v: Vec<String>,
    }
    toml::from_str::<List>(&format!("v = {operand}"))
        .ok()
        .map(|l| l.v)
}

/// The bands of an integer `by` column: declared breaks `b_0 < … < b_k`, giving the levels
/// `(-inf,b_0)` (only if the declared minimum is below `b_0`), `[b_0,b_1)`, …, `[b_k,inf)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bands {
    /// The breaks, strictly increasing, at least one.
    pub breaks: Vec<i64>,
    /// Whether the band below the first break is listed (declared minimum below it).
    pub below: bool,
}

impl Bands {
    /// The bands of a column declared `min..=max` with these breaks; `Err` says what to fix
    /// (no breaks, breaks not strictly increasing).
    pub fn new(breaks: Vec<i64>, min: i64) -> Result<Bands, String> {
        if breaks.is_empty() {
            return Err("give at least one break".into());
        }
        if breaks.windows(2).any(|w| w.first() >= w.last()) {
            return Err(format!("the breaks {breaks:?} must be strictly increasing"));
        }
        let below = breaks.first().is_some_and(|&b| min < b);
        Ok(Bands { breaks, below })
    }

    /// The level names in ascending order.
    pub fn levels(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.breaks.len() + 1);
        if let (true, Some(b)) = (self.below, self.breaks.first()) {
            out.push(format!("(-inf,{b})"));
        }
        for w in self.breaks.windows(2) {
            if let [lo, hi] = w {
                out.push(format!("[{lo},{hi})"));
            }
        }
        if let Some(b) = self.breaks.last() {
            out.push(format!("[{b},inf)"));
        }
        out
    }

    /// The band (level index) of a value: bands are closed below and open above. A value below
    /// the first break falls in the lowest band listed.
    pub fn index(&self, v: i64) -> usize {
        let at_or_below = self.breaks.partition_point(|&b| b <= v);
        if self.below {
            at_or_below
        } else {
            at_or_below.saturating_sub(1)
        }
    }
}

/// The validated `where` filters of an output, canonical (sorted, deduplicated); `Err` says
/// what to fix (unknown column, undeclared level, operator that does not fit the column).
pub(super) fn output_filters<'a>(
    entries: &[String],
    column: &dyn Fn(&ColumnRef) -> Option<&'a ColumnKind>,
) -> Result<Vec<Filter>, String> {
    let mut filters = entries
        .iter()
        .map(|e| parse_filter(e, column))
        .collect::<Result<Vec<Filter>, String>>()?;
    filters.sort();
    filters.dedup();
    Ok(filters)
}

/// The bands of an output's banded `by` entries; `Err` says what to fix (a category or
/// undeclared column, breaks not strictly increasing).
pub(super) fn output_bands<'a>(
    by: &[RawBy],
    column: &dyn Fn(&ColumnRef) -> Option<&'a ColumnKind>,
) -> Result<BTreeMap<ColumnRef, Bands>, String> {
    let mut bands = BTreeMap::new();
    for b in by {
        let RawBy::Bands {
            column: name,
            breaks,
        } = b
        else {
            continue;
        };
        let r = ColumnRef::parse(name)
            .ok_or_else(|| format!("'{name}' is not of the form \"table.column\""))?;
        match column(&r) {
            None => return Err(format!("column '{r}' is not declared")),
            Some(ColumnKind::Category { .. }) => {
                return Err(format!(
                    "'by' column '{r}' is a category column; breaks are for integer columns"
                ))
            }
            Some(ColumnKind::Integer { min, .. }) => {
                let b = Bands::new(breaks.clone(), *min)
                    .map_err(|e| format!("'by' column '{r}': {e}"))?;
                bands.insert(r, b);
            }
        }
    }
    Ok(bands)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_name_and_place_values_at_their_edges() {
        let b = Bands::new(vec![0, 20000, 40000], -5).unwrap();
        assert_eq!(
            b.levels(),
            ["(-inf,0)", "[0,20000)", "[20000,40000)", "[40000,inf)"]
        );
        let idx: Vec<usize> = [-5, -1, 0, 19999, 20000, 39999, 40000, i64::MAX]
            .iter()
            .map(|&v| b.index(v))
            .collect();
        assert_eq!(idx, [0, 0, 1, 1, 2, 2, 3, 3]);
        let b = Bands::new(vec![0, 20000, 40000], 0).unwrap();
        assert_eq!(b.levels(), ["[0,20000)", "[20000,40000)", "[40000,inf)"]);
        assert_eq!(b.index(0), 0);
        assert_eq!(b.index(20000), 1);
        assert_eq!(b.index(40000), 2);
        assert!(Bands::new(vec![0, 0], 0).is_err());
        assert!(Bands::new(vec![5, 1], 0).is_err());
        assert!(Bands::new(vec![], 0).is_err());
    }

    #[test]
    fn filters_parse_to_a_canonical_form() {
        let cat = ColumnKind::Category {
            levels: vec!["x".into(), "y".into(), "z".into()],
        };
        let int = ColumnKind::Integer { min: 0, max: 9 };
        let col = |r: &ColumnRef| match r.column.as_str() {
            "c" => Some(&cat),
            "v" => Some(&int),
            _ => None,
        };
        let p = |s: &str| parse_filter(s, &col);
        assert_eq!(p("t.v > 4").unwrap(), p("t.v >= 5").unwrap());
        assert_eq!(p("t.v<5").unwrap(), p("t.v <= 4").unwrap());
        assert_eq!(
            p("t.c not in [\"y\"]").unwrap(),
            p("t.c in [\"z\", \"x\"]").unwrap()
        );
        assert_eq!(
            p("t.c in [\"z\", \"x\"]").unwrap().to_string(),
            "t.c in [\"x\", \"z\"]"
        );
        assert_eq!(p("t.v != 3").unwrap().to_string(), "t.v != 3");
        let f = p("t.v = 3").unwrap();
        assert!(f.passes_value(3) && !f.passes_value(4));
        let f = p("t.c in [\"y\"]").unwrap();
        assert!(f.passes_level(1) && !f.passes_level(0));
        for bad in [
            "t.w >= 1",
            "t.c in [\"w\"]",
            "t.c >= 1",
            "t.v in [\"x\"]",
            "t.v >= x",
            "t.v ~ 1",
            "t.v > 9223372036854775807",
            "nodot = 1",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }
}
