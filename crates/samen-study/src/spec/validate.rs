//! Validation of the raw study file into a [`Study`].

use std::collections::{BTreeMap, BTreeSet};

use samen_core::Role;
use samen_join::JoinMethod;

use samen_core::dp::Ratio;

use super::raw::{OneOrMany, RawBudget, RawKind, RawOutput, RawRole, RawStudyFile};
use super::{
    ColumnKind, ColumnRef, Neighbours, OutputSpec, Party, Privacy, SpecError, Study, TableSpec,
    DEFAULT_MIN_CELL, MAX_CELLS, MAX_LEVELS, MAX_MIN_CELL, MAX_NAME_LEN,
};

/// A party's `key`: `sha256:` and 64 hex digits.
fn parse_key(party: &str, key: &str) -> Result<[u8; 32], SpecError> {
    let mut out = [0u8; 32];
    match key.strip_prefix("sha256:") {
        Some(digits) if digits.len() == 64 && hex::decode_to_slice(digits, &mut out).is_ok() => {
            Ok(out)
        }
        _ => Err(SpecError::Parties(format!(
            "party '{party}': key must be \"sha256:\" followed by 64 hex digits, as printed by \
             `samen keys`"
        ))),
    }
}

pub(super) fn validate(raw: RawStudyFile) -> Result<Study, SpecError> {
    check_name("study", &raw.study.name, true)?;

    // Parties, in the order of their names: the first data party is First, the next Second.
    let mut parties = Vec::new();
    let mut data_roles = [Role::First, Role::Second].into_iter();
    for (name, p) in &raw.parties {
        check_name("party", name, false)?;
        if !samen_core::names::is_valid_party_name(name) {
            return Err(SpecError::BadName {
                what: "party",
                name: name.clone(),
                why: "it must also be a certificate name: at most 63 characters, not only digits, not 0x and hex digits, \
                      not ending with '-'",
            });
        }
        if p.address.trim().is_empty() {
            return Err(SpecError::Parties(format!(
                "party '{name}' has an empty address (use host:port)"
            )));
        }
        if p.listen.as_deref().is_some_and(|l| l.trim().is_empty()) {
            return Err(SpecError::Parties(format!(
                "party '{name}' has an empty listen address (use host:port, or leave it out)"
            )));
        }
        parties.push(Party {
            name: name.clone(),
            address: p.address.clone(),
            listen: p.listen.clone(),
            key: p.key.as_deref().map(|k| parse_key(name, k)).transpose()?,
            role: match p.role {
                Some(RawRole::Helper) => Role::Helper,
                // A third data party is refused below (exactly three parties, one helper).
                _ => data_roles.next().unwrap_or(Role::Second),
            },
        });
    }
    let unpinned: Vec<&str> = parties
        .iter()
        .filter(|p| p.key.is_none())
        .map(|p| p.name.as_str())
        .collect();
    if !unpinned.is_empty() && unpinned.len() < parties.len() {
        return Err(SpecError::Parties(format!(
            "keys are pinned for some parties but not for {}: pin every party's key \
             (key = \"sha256:…\" as printed by `samen keys`) or none",
            unpinned.join(", ")
        )));
    }
    let (helpers, data): (Vec<Party>, Vec<Party>) = parties
        .iter()
        .cloned()
        .partition(|p| p.role == Role::Helper);
    let n_helpers = helpers.len();
    let Ok([helper]) = <[Party; 1]>::try_from(helpers) else {
        return Err(SpecError::Parties(format!(
            "exactly one party must have role = \"helper\", found {n_helpers}"
        )));
    };
    let Ok(data) = <[Party; 2]>::try_from(data) else {
        return Err(SpecError::Parties(format!(
            "a study has exactly three parties (two data parties and one helper), found {}",
            parties.len()
        )));
    };

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
            Some(p) if p.role == Role::Helper => {
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
    if let [first, second] = tables.as_slice() {
        if first.party == second.party {
            return Err(SpecError::Parties(format!(
                "both tables belong to party '{}'; each data party holds exactly one table",
                first.party
            )));
        }
    }
    // Order tables as [First's, Second's] (First = data party whose name sorts first).
    tables.sort_by(|a, b| a.party.cmp(&b.party));

    // Outputs.
    if raw.outputs.is_empty() {
        return Err(SpecError::Parties(
            "the study asks for no outputs; add at least one [[outputs]] section".into(),
        ));
    }
    let mut outputs = Vec::new();
    let mut names = BTreeSet::new();
    for o in &raw.outputs {
        let spec = validate_output(o, &tables)?;
        if !names.insert(o.name.to_ascii_lowercase()) {
            return Err(SpecError::Output {
                output: o.name.clone(),
                problem: "another output has the same name (names must be unique, ignoring case)"
                    .into(),
            });
        }
        outputs.push(spec);
    }
    let join = match raw.study.join.as_deref() {
        None => JoinMethod::default(),
        Some(s) => JoinMethod::parse(s).ok_or_else(|| {
            SpecError::Syntax(format!(
                "[study] join = \"{s}\" is not a join method; use \"helper\" or \"two-party\""
            ))
        })?,
    };

    let neighbours = match raw.study.neighbours.as_deref() {
        None => Neighbours::default(),
        Some(s) => Neighbours::parse(s).ok_or_else(|| {
            SpecError::Syntax(format!(
                "[study] neighbours = \"{s}\" is not a neighbour relation; use \"replace-one\" \
                 (the default) or \"add-remove\""
            ))
        })?,
    };
    let study = Study {
        name: raw.study.name,
        join,
        neighbours,
        parties,
        helper,
        data,
        tables,
        outputs,
        hash: [0; 32],
        text: String::new(),
    };
    // The layout must fit the transport (output width) before anything is sent.
    crate::plan::Plan::new(&study)?;
    // Noise that an exact output cancels is refused (unless explicitly allowed).
    crate::disclosure::check_overlaps(&study)?;
    Ok(study)
}

/// Largest differential-privacy parameter (`epsilon` or `rho`) accepted.
pub const MAX_PRIVACY_PARAMETER: u64 = 1000;

fn find_column<'t>(tables: &'t [TableSpec], r: &ColumnRef) -> Option<&'t ColumnKind> {
    tables
        .iter()
        .find(|t| t.name == r.table)?
        .columns
        .get(&r.column)
}

fn validate_output(o: &RawOutput, tables: &[TableSpec]) -> Result<OutputSpec, SpecError> {
    check_name("output", &o.name, true)?;
    let oerr = |problem: String| SpecError::Output {
        output: o.name.clone(),
        problem,
    };
    let find_col = |r: &ColumnRef| find_column(tables, r);
    let parse_refs = |what: &str, list: &[String]| -> Result<Vec<ColumnRef>, SpecError> {
        let mut refs: Vec<ColumnRef> = Vec::with_capacity(list.len());
        for s in list {
            let r = ColumnRef::parse(s)
                .ok_or_else(|| oerr(format!("'{s}' is not of the form \"table.column\"")))?;
            if find_col(&r).is_none() {
                return Err(oerr(format!("column '{r}' is not declared")));
            }
            if refs.contains(&r) {
                return Err(oerr(format!("'{what}' names column '{r}' twice")));
            }
            refs.push(r);
        }
        Ok(refs)
    };
    let of = parse_refs(
        "of",
        &o.of.as_ref().map(OneOrMany::to_vec).unwrap_or_default(),
    )?;
    let x = parse_refs("x", o.x.as_deref().unwrap_or_default())?;
    let by_names: Vec<String> = o.by.iter().map(|b| b.column().to_string()).collect();
    let by = parse_refs("by", &by_names)?;
    let bands = super::select::output_bands(&o.by, &find_col).map_err(oerr)?;
    let filters = super::select::output_filters(&o.filters, &find_col).map_err(oerr)?;
    if by.len() > 2 {
        return Err(oerr(format!(
            "'by' has {} columns; at most 2 are supported",
            by.len()
        )));
    }
    let mut cells: usize = 1;
    for r in &by {
        match (find_col(r), bands.get(r)) {
            (_, Some(b)) => cells = cells.saturating_mul(b.levels().len()),
            (Some(ColumnKind::Category { levels }), _) => {
                cells = cells.saturating_mul(levels.len())
            }
            _ => {
                return Err(oerr(format!(
                    "'by' column '{r}' is an integer column; group it in bands with \
                     {{ column = \"{r}\", breaks = [...] }} or use a category column"
                )))
            }
        }
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
    let check_param = |name: &str, b: &RawBudget| -> Result<Ratio, SpecError> {
        let text = b.text();
        let v = Ratio::from_decimal_str(&text).map_err(|e| oerr(format!("{name}: {e}")))?;
        if u128::from(v.num()) > u128::from(MAX_PRIVACY_PARAMETER) * u128::from(v.den()) {
            return Err(oerr(format!(
                "{name} = {text} must be a positive number of at most {MAX_PRIVACY_PARAMETER}"
            )));
        }
        Ok(v)
    };
    let privacy =
        match (&o.epsilon, &o.rho) {
            (None, None) => None,
            (Some(e), None) => Some(Privacy::Epsilon(check_param("epsilon", e)?)),
            (None, Some(r)) => Some(Privacy::Rho(check_param("rho", r)?)),
            (Some(_), Some(_)) => return Err(oerr(
                "give either 'epsilon' (discrete Laplace) or 'rho' (discrete Gaussian), not both"
                    .into(),
            )),
        };
    let spec = OutputSpec {
        name: o.name.clone(),
        statistic: o.statistic,
        of,
        x,
        by,
        bands,
        filters,
        min_cell,
        privacy,
        allow_exact_overlap: o.allow_exact_overlap.unwrap_or(false),
    };
    if spec.allow_exact_overlap && spec.privacy.is_none() {
        return Err(oerr(
            "allow_exact_overlap is for an output with 'epsilon' or 'rho'; this output is exact"
                .into(),
        ));
    }
    crate::statistic::definition(spec.statistic)
        .check(&spec, &|r: &ColumnRef| find_column(tables, r))
        .map_err(oerr)?;
    Ok(spec)
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
