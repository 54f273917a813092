//! Every problem of a study file in one run, each at its line and column, with a "did you
//! mean" for misspelt keys, statistics, parties and column references.
//!
//! Runs only when a study file fails to load ([`super::Study::from_toml_str`]). Three passes:
//! 1. TOML syntax (one error: the parser cannot go on).
//! 2. A lint of the document: keys that the study file does not know (the known keys of each
//!    section are read from the serde definitions themselves, so new keys need no list here),
//!    statistic names, the party of each table, and every column reference of every output.
//! 3. The full validation, repeated with each failing output left out, so that every output's
//!    problem is found; the outputs and keys already reported by the lint are left out too.
//!
//! Places come from the TOML parser's spans (`toml_edit`); a problem found by the validation is
//! placed at the section it names (the output's `name`, the table's header).

use std::ops::Range;

use serde::de::{self, Visitor};
use toml_edit::{ImDocument, Item, TableLike};

use super::raw::{RawColumn, RawOutput, RawParty, RawStudy, RawStudyFile};
use super::{IdSpec, SpecError, SpecProblem, Statistic};

/// The most problems listed; the validation is repeated at most this often.
const MAX_PROBLEMS: usize = 50;

/// The study file's problems, or `first` (the error the load stopped at) when it names no
/// place in the file (e.g. a study-wide limit).
pub(super) fn diagnose(text: &str, first: SpecError) -> SpecError {
    let doc = match ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let at = e.span().map_or(0, |s| s.start);
            let message = format!("not valid TOML: {}", e.message().trim());
            return problems(vec![problem(text, at, message, None)]);
        }
    };
    let mut lint = Lint {
        text,
        found: Vec::new(),
        skip_outputs: Vec::new(),
        unknown: Vec::new(),
    };
    lint.run(&doc);
    let mut found = lint.found;
    // The validation on the file without the keys and outputs reported so far.
    if let Ok(mut value) = toml::from_str::<toml::Table>(text) {
        for path in &lint.unknown {
            remove_path(&mut value, path);
        }
        if let Some(toml::Value::Array(outputs)) = value.get_mut("outputs") {
            let mut i = 0;
            outputs.retain(|_| {
                i += 1;
                !lint.skip_outputs.contains(&(i - 1))
            });
        }
        found.extend(validation_problems(text, &doc, value));
    }
    if found.is_empty() {
        return first;
    }
    found.sort_by_key(|p| (p.line, p.column));
    found.dedup();
    found.truncate(MAX_PROBLEMS);
    problems(found)
}

fn problems(list: Vec<SpecProblem>) -> SpecError {
    SpecError::Problems {
        path: None,
        problems: list,
    }
}

/// A problem at byte offset `at` of `text`.
fn problem(text: &str, at: usize, message: String, suggestion: Option<String>) -> SpecProblem {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    SpecProblem {
        line,
        column,
        message,
        suggestion,
    }
}

/// Levenshtein distance between two strings (by characters).
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        if let Some(c) = cur.first_mut() {
            *c = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            if let Some(c) = cur.get_mut(j + 1) {
                *c = sub.min(del).min(ins);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

/// The candidate closest to `word`, if it is close enough to be a likely misspelling (at most
/// two edits, and fewer than half of the word's characters).
pub(super) fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<String> {
    let limit = 2.min(word.chars().count().saturating_sub(1) / 2).max(1);
    candidates
        .into_iter()
        .map(|c| {
            (
                edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// The field names serde knows for struct `T` (read from its `Deserialize` implementation).
fn fields_of<'de, T: serde::Deserialize<'de>>() -> &'static [&'static str] {
    let mut grab = FieldGrabber(&[]);
    let _ = T::deserialize(&mut grab);
    grab.0
}

/// The variant names serde knows for enum `T`.
#[cfg(test)]
fn variants_of<'de, T: serde::Deserialize<'de>>() -> &'static [&'static str] {
    let mut grab = FieldGrabber(&[]);
    let _ = T::deserialize(&mut grab);
    grab.0
}

/// A deserializer that only records the field names a struct asks for (or the variant names
/// of an enum).
struct FieldGrabber(&'static [&'static str]);

impl<'de> de::Deserializer<'de> for &mut FieldGrabber {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("fields only"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = fields;
        Err(de::Error::custom("fields only"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = variants;
        Err(de::Error::custom("variants only"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map identifier
        ignored_any
    }
}

struct Lint<'t> {
    text: &'t str,
    found: Vec<SpecProblem>,
    /// Indices of outputs with a problem already reported.
    skip_outputs: Vec<usize>,
    /// Paths of unknown keys (to leave out of the validation).
    unknown: Vec<Vec<String>>,
}

impl Lint<'_> {
    fn at(&mut self, span: Option<Range<usize>>, message: String, suggestion: Option<String>) {
        let p = problem(self.text, span.map_or(0, |s| s.start), message, suggestion);
        self.found.push(p);
    }

    /// Report the keys of `table` that are not in `known`.
    fn keys(&mut self, table: &dyn TableLike, known: &[&str], section: &str, path: &[String]) {
        for (key, _) in table.iter() {
            if known.contains(&key) {
                continue;
            }
            let span = table.get_key_value(key).and_then(|(k, _)| k.span());
            let suggestion = did_you_mean(key, known.iter().copied());
            self.at(
                span,
                format!("unknown key '{key}' in {section}"),
                suggestion,
            );
            let mut p = path.to_vec();
            p.push(key.to_string());
            self.unknown.push(p);
        }
    }

    fn run(&mut self, doc: &toml_edit::Table) {
        self.keys(doc, fields_of::<RawStudyFile>(), "the file", &[]);
        if let Some(t) = doc.get("study").and_then(Item::as_table_like) {
            self.keys(t, fields_of::<RawStudy>(), "[study]", &["study".into()]);
        }
        let mut parties = Vec::new();
        if let Some(ps) = doc.get("parties").and_then(Item::as_table_like) {
            for (name, p) in ps.iter() {
                parties.push(name.to_string());
                if let Some(p) = p.as_table_like() {
                    let path = ["parties".to_string(), name.to_string()];
                    self.keys(
                        p,
                        fields_of::<RawParty>(),
                        &format!("[parties.{name}]"),
                        &path,
                    );
                }
            }
        }
        let mut columns = Vec::new();
        if let Some(ts) = doc.get("tables").and_then(Item::as_table_like) {
            for (tname, t) in ts.iter() {
                let Some(t) = t.as_table_like() else {
                    continue;
                };
                let section = format!("[tables.{tname}]");
                let path = ["tables".to_string(), tname.to_string()];
                self.keys(t, fields_of::<super::raw::RawTable>(), &section, &path);
                if let Some((_, party)) = t.get_key_value("party") {
                    if let Some(name) = party.as_str().filter(|n| !parties.iter().any(|p| p == n)) {
                        let suggestion = did_you_mean(name, parties.iter().map(String::as_str));
                        self.at(
                            party.span(),
                            format!("table '{tname}': party '{name}' is not declared"),
                            suggestion,
                        );
                    }
                }
                if let Some(id) = t.get("id").and_then(Item::as_table_like) {
                    let mut p = path.to_vec();
                    p.push("id".into());
                    self.keys(
                        id,
                        fields_of::<IdSpec>(),
                        &format!("the id of {section}"),
                        &p,
                    );
                }
                if let Some(cs) = t.get("columns").and_then(Item::as_table_like) {
                    for (cname, c) in cs.iter() {
                        columns.push(format!("{tname}.{cname}"));
                        if let Some(c) = c.as_table_like() {
                            let mut p = path.to_vec();
                            p.extend(["columns".to_string(), cname.to_string()]);
                            let what = format!("column '{cname}' of {section}");
                            self.keys(c, fields_of::<RawColumn>(), &what, &p);
                        }
                    }
                }
            }
        }
        let Some(outputs) = doc.get("outputs").and_then(Item::as_array_of_tables) else {
            return;
        };
        let statistics: Vec<&str> = Statistic::ALL.iter().map(|s| s.as_str()).collect();
        for (i, o) in outputs.iter().enumerate() {
            let before = self.found.len();
            let name = o
                .get("name")
                .and_then(Item::as_str)
                .unwrap_or("?")
                .to_string();
            let section = format!("output '{name}'");
            let unknown_before = self.unknown.len();
            self.keys(o, fields_of::<RawOutput>(), &section, &["outputs".into()]);
            // Unknown keys of an output: the output is left out of the validation instead.
            self.unknown.truncate(unknown_before);
            if let Some(item) = o.get("statistic") {
                if let Some(s) = item.as_str().filter(|s| !statistics.contains(s)) {
                    self.at(
                        item.span(),
                        format!(
                            "{section}: '{s}' is not a statistic (one of {})",
                            statistics.join(", ")
                        ),
                        did_you_mean(s, statistics.iter().copied()),
                    );
                }
            }
            for key in ["of", "x", "by"] {
                let Some(item) = o.get(key) else {
                    continue;
                };
                let refs: Vec<&toml_edit::Value> = match item.as_value() {
                    Some(toml_edit::Value::Array(a)) => a.iter().collect(),
                    Some(v) => vec![v],
                    None => Vec::new(),
                };
                for v in refs {
                    let Some(r) = v.as_str() else {
                        continue;
                    };
                    if columns.iter().any(|c| c == r) {
                        continue;
                    }
                    self.at(
                        v.span(),
                        format!("{section}: '{key}' names column '{r}', which is not declared"),
                        did_you_mean(r, columns.iter().map(String::as_str)),
                    );
                }
            }
            if self.found.len() > before {
                self.skip_outputs.push(i);
            }
        }
    }
}

/// Remove the key at `path` from `value` (one level of array: every element).
fn remove_path(value: &mut toml::Table, path: &[String]) {
    match path {
        [] => {}
        [key] => {
            value.remove(key);
        }
        [first, rest @ ..] => match value.get_mut(first) {
            Some(toml::Value::Table(t)) => remove_path(t, rest),
            Some(toml::Value::Array(a)) => {
                for v in a {
                    if let toml::Value::Table(t) = v {
                        remove_path(t, rest);
                    }
                }
            }
            _ => {}
        },
    }
}

/// The validation's problems, each output's: the validation is repeated without each output
/// it stopped at.
fn validation_problems(text: &str, doc: &toml_edit::Table, value: toml::Table) -> Vec<SpecProblem> {
    let mut raw: RawStudyFile = match toml::Value::Table(value).try_into() {
        Ok(raw) => raw,
        Err(e) => {
            // A problem of the file's structure (a wrong type, a missing key): placed where the
            // parser of the whole file finds it.
            let (at, message) = match toml::from_str::<RawStudyFile>(text) {
                Err(whole) => (
                    whole.span().map_or(0, |s| s.start),
                    whole.message().trim().to_string(),
                ),
                Ok(_) => (0, e.message().trim().to_string()),
            };
            return vec![problem(text, at, message, None)];
        }
    };
    let mut found = Vec::new();
    for _ in 0..MAX_PROBLEMS {
        let had_outputs = !raw.outputs.is_empty();
        let error = match super::validate::validate(raw.clone()) {
            Ok(_) => break,
            Err(e) => e,
        };
        match &error {
            SpecError::Output { output, .. } => {
                let at = output_span(doc, output);
                found.push(problem(text, at, error.to_string(), None));
                raw.outputs.retain(|o| o.name != *output);
            }
            // Without outputs left, "no outputs" is no problem of the file.
            SpecError::Parties(_) if !had_outputs || raw.outputs.is_empty() => break,
            SpecError::Table { table, .. } => {
                let at = doc
                    .get("tables")
                    .and_then(Item::as_table_like)
                    .and_then(|t| t.get_key_value(table))
                    .and_then(|(k, _)| k.span())
                    .map_or(0, |s| s.start);
                found.push(problem(text, at, error.to_string(), None));
                break;
            }
            SpecError::BadName { .. } | SpecError::Parties(_) | SpecError::Syntax(_) => {
                found.push(problem(text, 0, error.to_string(), None));
                break;
            }
            // Study-wide limits name no place: reported as themselves when alone.
            _ => break,
        }
    }
    found
}

/// Where the output named `name` is declared (its `name` value), or 0.
fn output_span(doc: &toml_edit::Table, name: &str) -> usize {
    doc.get("outputs")
        .and_then(Item::as_array_of_tables)
        .and_then(|a| {
            a.iter().find_map(|o| {
                o.get("name")
                    .filter(|n| n.as_str() == Some(name))
                    .and_then(Item::span)
            })
        })
        .map_or(0, |s| s.start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("houshold", "household"), 1);
        assert_eq!(edit_distance("meen", "mean"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            did_you_mean("meen", ["mean", "sum"]).as_deref(),
            Some("mean")
        );
        assert_eq!(did_you_mean("zzzz", ["mean", "sum"]), None);
    }

    #[test]
    fn statistic_all_lists_every_variant_the_parser_accepts() {
        let names: Vec<&str> = Statistic::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, variants_of::<Statistic>());
    }

    #[test]
    fn fields_come_from_serde() {
        let f = fields_of::<RawOutput>();
        assert!(f.contains(&"statistic") && f.contains(&"min_cell"), "{f:?}");
        assert!(fields_of::<IdSpec>().contains(&"kind"));
    }
}
