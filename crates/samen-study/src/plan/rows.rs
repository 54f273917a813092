//! One data party's matrix rows, built from its validated table as the plan lays them out.

use crate::input::{ColumnData, PartyTable};
use crate::spec::{Bands, ColumnRef, Filter};
use crate::statistic::Atom;

use super::Block;

/// One data party's rows of the cross-party product, built block by block
/// ([`Plan::rows`](super::Plan::rows)).
pub struct MatrixRows<'t> {
    prepared: Vec<Prepared<'t>>,
    width: usize,
    rows: usize,
}

impl<'t> MatrixRows<'t> {
    /// The builder over `blocks` (one side's) of `width` columns; checks every column once.
    pub(super) fn new(
        blocks: &[Block],
        width: usize,
        table: &'t PartyTable,
    ) -> Result<MatrixRows<'t>, TableMismatch> {
        Ok(MatrixRows {
            prepared: prepare(blocks, table)?,
            width,
            rows: table.len(),
        })
    }

    /// Fill the matrix rows for union positions `start..start + out.len() / width` into `out`
    /// (row-major, [`Plan::width`](super::Plan::width) columns); `row_at[pos]` is the own row at a position or
    /// `u32::MAX` for none (presence 0: the row stays zero).
    ///
    /// A row index or a level outside the table is an error, never a silently wrong row.
    pub fn fill(&self, row_at: &[u32], start: usize, out: &mut [u64]) -> Result<(), TableMismatch> {
        if self.width == 0 {
            return Ok(());
        }
        for (r, row) in out.chunks_exact_mut(self.width).enumerate() {
            row.fill(0);
            let own = row_at.get(start + r).copied().filter(|&i| i != u32::MAX);
            let Some(i) = own else {
                // No own row here: only the factors that count every union position are 1.
                for p in &self.prepared {
                    for &f in &p.everywhere {
                        *row.get_mut(p.offset + f).ok_or(TableMismatch::Layout)? = 1;
                    }
                }
                continue;
            };
            let i = i as usize;
            if i >= self.rows {
                return Err(TableMismatch::RowOutOfRange {
                    row: i,
                    rows: self.rows,
                });
            }
            for p in &self.prepared {
                let mut cell = 0usize;
                for cat in &p.cats {
                    cell = cell * cat.levels + cat.level(i)?;
                }
                let base = p.offset + cell * p.factors.len();
                let slots = row
                    .get_mut(base..base + p.factors.len())
                    .ok_or(TableMismatch::Layout)?;
                for (slot, atoms) in slots.iter_mut().zip(&p.factors) {
                    let mut v = 1u64;
                    for a in atoms {
                        v = v.wrapping_mul(a.at(i)?);
                    }
                    *slot = v;
                }
            }
        }
        Ok(())
    }
}

/// A party's table does not fit the study's plan (it was not validated against this study),
/// or the join placed a row outside it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TableMismatch {
    /// A column the plan needs is not in the table (or has another kind).
    #[error(
        "the input table has no column '{0}' that the study needs; validate it against the study"
    )]
    MissingColumn(String),
    /// A column has another number of values than the table has rows.
    #[error(
        "column '{column}' has {len} values for {rows} rows; validate the table against the study"
    )]
    ColumnLength {
        /// The column.
        column: String,
        /// Its number of values.
        len: usize,
        /// The table's number of rows.
        rows: usize,
    },
    /// A category column holds a level index outside the column's levels.
    #[error("column '{column}' holds the level index {level} of {levels} levels; validate the table against the study")]
    LevelOutOfRange {
        /// The column.
        column: String,
        /// The level index found.
        level: u32,
        /// The column's number of levels.
        levels: usize,
    },
    /// The join placed a row index outside the table.
    #[error("the private join returned row {row} of a table of {rows} rows")]
    RowOutOfRange {
        /// The row index.
        row: usize,
        /// The table's number of rows.
        rows: usize,
    },
    /// A cell's columns fall outside the party's matrix width (a defect in samen).
    #[error("internal error: a cell outside the matrix layout; this is a defect in samen, please report it")]
    Layout,
}

enum PreparedAtom<'t> {
    Value(&'t [i64]),
    Level(&'t [u32], u32),
    TestValue(&'t [i64], Filter),
    TestLevel(&'t [u32], Filter),
    One,
}

impl PreparedAtom<'_> {
    /// The atom's factor at row `i` (`i` is below the checked column length).
    fn at(&self, i: usize) -> Result<u64, TableMismatch> {
        match self {
            PreparedAtom::Value(v) => v.get(i).map(|&x| x as u64),
            PreparedAtom::Level(v, l) => v.get(i).map(|x| u64::from(x == l)),
            PreparedAtom::TestValue(v, f) => v.get(i).map(|&x| u64::from(f.passes_value(x))),
            PreparedAtom::TestLevel(v, f) => v.get(i).map(|&x| u64::from(f.passes_level(x))),
            PreparedAtom::One => Some(1),
        }
        .ok_or(TableMismatch::Layout)
    }
}

/// The values of a grouping column: level indices, or integers grouped in bands.
enum Grouping<'t> {
    Levels(&'t [u32]),
    Bands(&'t [i64], Bands),
}

/// A grouping column of one output: its values and number of levels.
struct Category<'t> {
    name: String,
    values: Grouping<'t>,
    levels: usize,
}

impl Category<'_> {
    fn level(&self, i: usize) -> Result<usize, TableMismatch> {
        let values = match &self.values {
            Grouping::Levels(v) => v,
            Grouping::Bands(v, b) => {
                return v
                    .get(i)
                    .map(|&x| b.index(x).min(self.levels.saturating_sub(1)))
                    .ok_or(TableMismatch::Layout)
            }
        };
        match values.get(i) {
            Some(&level) if (level as usize) < self.levels => Ok(level as usize),
            Some(&level) => Err(TableMismatch::LevelOutOfRange {
                column: self.name.clone(),
                level,
                levels: self.levels,
            }),
            None => Err(TableMismatch::Layout),
        }
    }
}

struct Prepared<'t> {
    cats: Vec<Category<'t>>,
    factors: Vec<Vec<PreparedAtom<'t>>>,
    /// Factors that are 1 at every union position (a block without grouping columns).
    everywhere: Vec<usize>,
    offset: usize,
}

fn prepare<'t>(
    blocks: &[Block],
    table: &'t PartyTable,
) -> Result<Vec<Prepared<'t>>, TableMismatch> {
    let rows = table.len();
    let missing = |r: &ColumnRef| TableMismatch::MissingColumn(r.to_string());
    let checked = |r: &ColumnRef, len: usize| {
        if len == rows {
            Ok(())
        } else {
            Err(TableMismatch::ColumnLength {
                column: r.to_string(),
                len,
                rows,
            })
        }
    };
    let category = |r: &ColumnRef| match table.columns.get(&r.column) {
        Some(ColumnData::Category(v)) => checked(r, v.len()).map(|()| v.as_slice()),
        _ => Err(missing(r)),
    };
    let integer = |r: &ColumnRef| match table.columns.get(&r.column) {
        Some(ColumnData::Integer(v)) => checked(r, v.len()).map(|()| v.as_slice()),
        _ => Err(missing(r)),
    };
    blocks
        .iter()
        .map(|b| {
            let cats =
                b.by.iter()
                    .zip(&b.levels)
                    .zip(&b.bands)
                    .map(|((r, &levels), bands)| {
                        Ok(Category {
                            name: r.to_string(),
                            values: match bands {
                                Some(bands) => Grouping::Bands(integer(r)?, bands.clone()),
                                None => Grouping::Levels(category(r)?),
                            },
                            levels,
                        })
                    })
                    .collect::<Result<Vec<_>, TableMismatch>>()?;
            let factors = b
                .factors
                .iter()
                .map(|f| {
                    f.iter()
                        .map(|a| match a {
                            Atom::Value(r) => integer(r).map(PreparedAtom::Value),
                            Atom::Test(f) => match table.columns.get(&f.column.column) {
                                Some(ColumnData::Integer(v)) => checked(&f.column, v.len())
                                    .map(|()| PreparedAtom::TestValue(v, f.clone())),
                                Some(ColumnData::Category(v)) => checked(&f.column, v.len())
                                    .map(|()| PreparedAtom::TestLevel(v, f.clone())),
                                None => Err(missing(&f.column)),
                            },
                            Atom::Level(r, l) => Ok(PreparedAtom::Level(category(r)?, *l)),
                            Atom::Union(_) => Ok(PreparedAtom::One),
                        })
                        .collect::<Result<Vec<_>, TableMismatch>>()
                })
                .collect::<Result<Vec<_>, TableMismatch>>()?;
            // Factors that are 1 at every union position, also where this side has no row.
            let everywhere: Vec<usize> = b
                .factors
                .iter()
                .enumerate()
                .filter(|(_, f)| matches!(f.as_slice(), [Atom::Union(_)]))
                .map(|(i, _)| i)
                .collect();
            if !everywhere.is_empty() && !cats.is_empty() {
                return Err(TableMismatch::Layout);
            }
            Ok(Prepared {
                cats,
                factors,
                everywhere,
                offset: b.offset,
            })
        })
        .collect()
}
