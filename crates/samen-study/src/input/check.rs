//! Checking records: identifiers, levels, integer bounds, physical line numbers.

use super::read::*;
use super::*;

/// Category columns with at most this many levels are looked up by a scan of the levels, larger
/// ones in a hash map.
pub(super) const SCAN_LEVELS: usize = 16;

/// The declared levels of a category column, for looking up a field's level index.
pub(super) enum Levels<'s> {
    /// A few levels with their [`prefix`]es and indices, scanned in order.
    Few(Vec<(u64, &'s str, u32)>),
    /// Many levels.
    Many(HashMap<&'s str, u32>),
}

/// The first 8 bytes of `s` (zero-padded) as one word: two strings with different prefixes
/// differ, so most levels are ruled out by one comparison of words.
pub(super) fn prefix(s: &str) -> u64 {
    let mut word = [0u8; 8];
    for (w, b) in word.iter_mut().zip(s.as_bytes()) {
        *w = *b;
    }
    u64::from_le_bytes(word)
}

impl<'s> Levels<'s> {
    pub(super) fn new(levels: &'s [String]) -> Levels<'s> {
        let indexed = levels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i as u32));
        if levels.len() <= SCAN_LEVELS {
            Levels::Few(indexed.map(|(l, i)| (prefix(l), l, i)).collect())
        } else {
            Levels::Many(indexed.collect())
        }
    }

    pub(super) fn index(&self, field: &str) -> Option<u32> {
        match self {
            Levels::Few(levels) => {
                let p = prefix(field);
                levels
                    .iter()
                    .find(|&&(lp, l, _)| lp == p && l == field)
                    .map(|&(_, _, i)| i)
            }
            Levels::Many(index) => index.get(field).copied(),
        }
    }
}

/// The check of one declared column.
pub(super) enum ColCheck<'s> {
    Category { index: Levels<'s>, levels: usize },
    Integer { min: i64, max: i64 },
}

/// Encoded values of one column.
pub(super) enum ColOut {
    Category(Vec<u32>),
    Integer(Vec<i64>),
}

/// The physical line of every accepted row, stored as the rows where the line does not follow
/// on from the previous row's (the first row, and rows after blank lines or multi-line fields).
#[derive(Default)]
pub(super) struct Lines {
    /// (row, line) at each break, rows increasing.
    pub(super) breaks: Vec<(usize, u64)>,
    /// The line that would follow on from the last row pushed.
    next: Option<u64>,
}

impl Lines {
    pub(super) fn push(&mut self, row: usize, line: u64) {
        if self.next != Some(line) {
            self.breaks.push((row, line));
        }
        self.next = line.checked_add(1);
    }

    /// Append the lines of the rows that follow on from these.
    pub(super) fn append(&mut self, other: Lines) {
        let mut breaks = other.breaks.into_iter();
        if let Some((row, line)) = breaks.next() {
            self.push(row, line);
            self.breaks.extend(breaks);
            self.next = other.next;
        }
    }

    /// The line of `row` (a row that was pushed).
    pub(super) fn line(&self, row: usize) -> u64 {
        let after = self.breaks.partition_point(|&(r, _)| r <= row);
        after
            .checked_sub(1)
            .and_then(|i| self.breaks.get(i))
            .map_or(0, |&(r, line)| line + (row - r) as u64)
    }
}

/// Accepted rows, encoded: a whole table or a run of rows of it.
pub(super) struct Rows {
    /// Index of the first row in the table.
    first: usize,
    ids: Vec<String>,
    /// One per declared column, in the order of [`Checks::cols`].
    cols: Vec<ColOut>,
    lines: Lines,
}

impl Rows {
    /// Drop the values of a row whose later column failed its check, so that every column has
    /// one value per identifier.
    pub(super) fn drop_partial_row(&mut self) {
        let n = self.ids.len();
        for out in &mut self.cols {
            match out {
                ColOut::Category(out) => out.truncate(n),
                ColOut::Integer(out) => out.truncate(n),
            }
        }
    }

    /// Append the rows that follow on from these (`other` was numbered from its `first` row
    /// as if no row before it had been dropped: its rows are renumbered to follow these).
    pub(super) fn append(&mut self, other: Rows) {
        let dropped = other.first.saturating_sub(self.first + self.ids.len());
        let mut other_lines = other.lines;
        for b in &mut other_lines.breaks {
            b.0 = b.0.saturating_sub(dropped);
        }
        self.ids.extend(other.ids);
        for (out, more) in self.cols.iter_mut().zip(other.cols) {
            match (out, more) {
                (ColOut::Category(out), ColOut::Category(more)) => out.extend(more),
                (ColOut::Integer(out), ColOut::Integer(more)) => out.extend(more),
                // Rows of one table have the same kinds of columns.
                _ => {}
            }
        }
        self.lines.append(other_lines);
    }
}

/// The problems found so far: the first [`MAX_REPORTED_ERRORS`] in row order, and their number.
#[derive(Debug, Default)]
pub(super) struct Problems {
    pub(super) first: Vec<InputError>,
    pub(super) total: u64,
}

impl Problems {
    pub(super) fn add(&mut self, e: InputError) {
        self.total += 1;
        if self.first.len() < MAX_REPORTED_ERRORS {
            self.first.push(e);
        }
    }

    /// Append the problems of the rows after these.
    pub(super) fn append(&mut self, other: Problems) {
        self.total += other.total;
        let room = MAX_REPORTED_ERRORS.saturating_sub(self.first.len());
        self.first.extend(other.first.into_iter().take(room));
    }
}

/// The checks of a table's rows, from its header. Each row is checked and encoded on its own
/// ([`Checks::push`]); a row with a problem is left out and its problems recorded; duplicated
/// identifiers are found at the end, over all accepted rows at once ([`Checks::finish`]), and
/// merged with the other problems in line order.
pub(super) struct Checks<'s> {
    spec: &'s TableSpec,
    source_name: String,
    id_pos: usize,
    id_kind: norm::IdKind,
    cols: Vec<(&'s str, usize, ColCheck<'s>)>,
}

/// Where column `col` of the table is in the `header`.
pub(super) fn column_position<H: AsRef<str>>(
    spec: &TableSpec,
    source_name: &str,
    header: &[H],
    col: &str,
) -> Result<usize, InputError> {
    header
        .iter()
        .position(|h| h.as_ref().trim() == col)
        .ok_or_else(|| InputError::MissingColumn {
            source_name: source_name.to_string(),
            table: spec.name.clone(),
            column: col.to_string(),
        })
}

impl<'s> Checks<'s> {
    pub(super) fn new(
        spec: &'s TableSpec,
        source_name: &str,
        header: &[&str],
    ) -> Result<Checks<'s>, InputError> {
        // Every missing column at once.
        let mut missing = Problems::default();
        let mut find = |col: &str| match column_position(spec, source_name, header, col) {
            Ok(pos) => pos,
            Err(e) => {
                missing.add(e);
                0
            }
        };
        let id_pos = find(&spec.id.column);
        let mut cols = Vec::new();
        for (name, kind) in &spec.columns {
            let pos = find(name);
            let check = match kind {
                ColumnKind::Category { levels } => ColCheck::Category {
                    index: Levels::new(levels),
                    levels: levels.len(),
                },
                ColumnKind::Integer { min, max } => ColCheck::Integer {
                    min: *min,
                    max: *max,
                },
            };
            cols.push((name.as_str(), pos, check));
        }
        if let Some(e) = InputError::from_problems(source_name, missing.total, missing.first) {
            return Err(e);
        }
        Ok(Checks {
            spec,
            source_name: source_name.to_string(),
            id_pos,
            id_kind: spec.id.kind,
            cols,
        })
    }

    /// No rows yet, from row `first` on.
    pub(super) fn rows_from(&self, first: usize) -> Rows {
        let cols = self
            .cols
            .iter()
            .map(|(_, _, check)| match check {
                ColCheck::Category { .. } => ColOut::Category(Vec::new()),
                ColCheck::Integer { .. } => ColOut::Integer(Vec::new()),
            })
            .collect();
        Rows {
            first,
            ids: Vec::new(),
            cols,
            lines: Lines::default(),
        }
    }

    /// A table with no rows yet.
    pub(super) fn rows(&self) -> Rows {
        self.rows_from(0)
    }

    /// Check the records of `window` in batches of `batch_rows` on all cores, append the
    /// accepted rows to `rows` and the problems to `problems` (batches joined in row order).
    /// Returns an error that ends the reading (too many rows), if any.
    pub(super) fn window(
        &self,
        window: &Window,
        batch_rows: usize,
        rows: &mut Rows,
        problems: &mut Problems,
    ) -> Option<InputError> {
        let first = rows.first + rows.ids.len();
        let batches: Vec<(Rows, Problems, Option<InputError>)> = window
            .records()
            .par_chunks(batch_rows.max(1))
            .enumerate()
            .map(|(i, batch)| self.batch(batch, first + i * batch_rows.max(1)))
            .collect();
        for (batch, found, stopped) in batches {
            rows.append(batch);
            problems.append(found);
            if stopped.is_some() {
                return stopped;
            }
        }
        None
    }

    /// Check and encode `records`, the rows from row `first` on: the accepted rows, the
    /// problems of the others, and an error that ends the reading (too many rows), if any.
    pub(super) fn batch(
        &self,
        records: &[csv::ByteRecord],
        first: usize,
    ) -> (Rows, Problems, Option<InputError>) {
        let mut rows = self.rows_from(first);
        let mut problems = Problems::default();
        let mut bounds = Vec::new();
        for record in records {
            let line = record_line(record);
            let Some(text) = record_text(record, &mut bounds) else {
                problems.add(not_utf8(&self.source_name, line));
                continue;
            };
            let field = |pos: usize| {
                bounds
                    .get(pos)
                    .and_then(|r| text.get(r.clone()))
                    .unwrap_or("")
            };
            if let Err(e) = self.push(&mut rows, line, field, &mut problems) {
                return (rows, problems, Some(e));
            }
        }
        (rows, problems, None)
    }

    /// Check and encode the row on physical line `line` whose field at position `pos` is
    /// `field(pos)` (`""` for a missing field): append it to `rows` (whose rows are all
    /// accepted ones before it), or, if any of its fields is bad, record every problem of the
    /// row in `problems` and leave the row out. Does not check for duplicated identifiers.
    /// Fails only when the table would have more than [`MAX_ROWS`] rows.
    pub(super) fn push<'f>(
        &self,
        rows: &mut Rows,
        line: u64,
        field: impl Fn(usize) -> &'f str,
        problems: &mut Problems,
    ) -> Result<(), InputError> {
        let row = rows.first + rows.ids.len();
        if row >= MAX_ROWS {
            return Err(InputError::TooManyRows {
                source_name: self.source_name.clone(),
                max: MAX_ROWS,
            });
        }
        let invalid_id = |reason| InputError::InvalidId {
            source_name: self.source_name.clone(),
            line,
            column: self.spec.id.column.clone(),
            reason,
        };
        // `normalise_bytes` on the bytes of a `&str` is `normalise`, without its allocation;
        // its result is a trimmed slice of the field or ASCII digits, so valid UTF-8.
        let id = norm::normalise_bytes(self.id_kind, field(self.id_pos).as_bytes())
            .map_err(invalid_id)
            .and_then(|id| {
                std::str::from_utf8(id.as_bytes())
                    .map(str::to_string)
                    .map_err(|_| invalid_id(norm::InvalidId::NotUtf8))
            });
        let mut bad = false;
        let id = match id {
            Ok(id) => id,
            Err(e) => {
                problems.add(e);
                bad = true;
                String::new()
            }
        };
        for ((name, pos, check), out) in self.cols.iter().zip(&mut rows.cols) {
            let field = field(*pos).trim();
            let encoded = match (check, out) {
                (ColCheck::Category { index, levels }, ColOut::Category(out)) => {
                    match index.index(field) {
                        Some(i) => {
                            out.push(i);
                            Ok(())
                        }
                        None => Err(InputError::UnknownLevel {
                            source_name: self.source_name.clone(),
                            line,
                            column: name.to_string(),
                            levels: *levels,
                        }),
                    }
                }
                (ColCheck::Integer { min, max }, ColOut::Integer(out)) => match field.parse() {
                    Ok(v) if v >= *min && v <= *max => {
                        out.push(v);
                        Ok(())
                    }
                    Ok(_) => Err(InputError::OutOfRange {
                        source_name: self.source_name.clone(),
                        line,
                        column: name.to_string(),
                        min: *min,
                        max: *max,
                    }),
                    Err(_) => Err(InputError::NotInteger {
                        source_name: self.source_name.clone(),
                        line,
                        column: name.to_string(),
                    }),
                },
                // `rows_from` makes one output of the kind of each check.
                _ => Ok(()),
            };
            if let Err(e) = encoded {
                problems.add(e);
                bad = true;
            }
        }
        if bad {
            rows.drop_partial_row();
            return Ok(());
        }
        rows.lines.push(row, line);
        rows.ids.push(id);
        Ok(())
    }

    /// The table, or its problems: those of the rows (`problems`) and every duplicated
    /// identifier among the accepted rows, merged in line order (the first
    /// [`MAX_REPORTED_ERRORS`]), then `stopped`, the error that ended the reading (if any).
    pub(super) fn finish(
        self,
        rows: Rows,
        problems: Problems,
        stopped: Option<InputError>,
    ) -> Result<PartyTable, InputError> {
        let mut problems = problems;
        // The fast check finds whether there is any repeat; only then are all of them listed.
        if first_repeat(&rows.ids).is_some() {
            let mut repeats = Problems::default();
            let mut first_row: HashMap<&str, usize> = HashMap::with_capacity(rows.ids.len());
            for (row, id) in rows.ids.iter().enumerate() {
                if let Some(&earlier) = first_row.get(id.as_str()) {
                    repeats.add(InputError::DuplicateId {
                        source_name: self.source_name.clone(),
                        line: rows.lines.line(row),
                        column: self.spec.id.column.clone(),
                        first_line: rows.lines.line(earlier),
                    });
                } else {
                    first_row.insert(id, row);
                }
            }
            problems.total += repeats.total;
            problems.first.extend(repeats.first);
            // Both lists are in line order; a stable sort merges them.
            problems.first.sort_by_key(|e| e.line().unwrap_or(u64::MAX));
            problems.first.truncate(MAX_REPORTED_ERRORS);
        }
        if let Some(e) = stopped {
            problems.total += 1;
            problems.first.push(e);
        }
        if let Some(e) =
            InputError::from_problems(&self.source_name, problems.total, problems.first)
        {
            return Err(e);
        }
        let columns = self
            .cols
            .into_iter()
            .zip(rows.cols)
            .map(|((name, _, _), out)| {
                let data = match out {
                    ColOut::Category(out) => ColumnData::Category(out),
                    ColOut::Integer(out) => ColumnData::Integer(out),
                };
                (name.to_string(), data)
            })
            .collect();
        Ok(PartyTable {
            table: self.spec.name.clone(),
            ids: rows.ids,
            columns,
        })
    }
}
