//! The demo's own plaintext computation of the study, and the comparison with the revealed
//! tables.
//!
//! This is deliberately a separate, straightforward implementation (no code shared with the
//! engine): read both CSV files, normalise the BSNs, inner-join them through a `HashMap`, and
//! count, sum and square-sum per cell; suppress cells with fewer than `min_cell` rows. It is only
//! possible because the demo generated both data sets — in a real study no party holds both.

use std::collections::HashMap;
use std::path::Path;

use super::super::synth::{Column, OutputSpec, Statistic};

/// Errors of the plaintext computation and the comparison.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlainError {
    /// An input or output file could not be read or parsed as CSV.
    #[error("cannot read {path}: {source}")]
    Csv {
        /// The file.
        path: String,
        /// The CSV or I/O error.
        source: csv::Error,
    },
    /// A row of an input file does not fit the synthetic data set.
    #[error("{path}, line {line}: {reason}")]
    BadRow {
        /// The file.
        path: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong (never the identifier itself).
        reason: &'static str,
    },
}

/// The register's attributes of one resident.
#[derive(Clone, Copy)]
struct Resident {
    province: u8,
    household: u8,
    age: u8,
    income: i64,
}

/// One row of the inner join.
#[derive(Clone, Copy)]
struct Joined {
    resident: Resident,
    channel: u8,
    logins: i64,
}

impl Joined {
    fn level(&self, c: Column) -> usize {
        match c {
            Column::Province => usize::from(self.resident.province),
            Column::Household => usize::from(self.resident.household),
            Column::AgeBand => usize::from(self.resident.age),
            Column::Channel => usize::from(self.channel),
            Column::Income | Column::Logins => 0,
        }
    }

    fn value(&self, c: Column) -> i64 {
        match c {
            Column::Income => self.resident.income,
            Column::Logins => self.logins,
            _ => 0,
        }
    }
}

/// The joined rows of the two synthetic tables.
pub struct Join {
    rows: Vec<Joined>,
    /// Rows of the register.
    pub register_rows: usize,
    /// Rows of the usage table.
    pub usage_rows: usize,
}

/// A BSN as written (8 or 9 digits, 8 meaning a dropped leading zero) as the number of its
/// 9-digit form, if it passes the 11-test.
fn normalise_bsn(raw: &[u8]) -> Option<u32> {
    let raw = raw.trim_ascii();
    let mut d = [0u32; 9];
    let offset = match raw.len() {
        8 => 1,
        9 => 0,
        _ => return None,
    };
    for (slot, &b) in d[offset..].iter_mut().zip(raw) {
        if !b.is_ascii_digit() {
            return None;
        }
        *slot = u32::from(b - b'0');
    }
    let weighted: u32 = d[..8].iter().zip((2..=9).rev()).map(|(x, w)| x * w).sum();
    let number = d.iter().fold(0u32, |acc, &x| acc * 10 + x);
    (weighted % 11 == d[8] && number != 0).then_some(number)
}

fn level_of(levels: &[&str], v: &[u8]) -> Option<u8> {
    levels
        .iter()
        .position(|l| l.as_bytes() == v)
        .and_then(|i| u8::try_from(i).ok())
}

fn reader(path: &Path) -> Result<csv::Reader<std::fs::File>, PlainError> {
    csv::ReaderBuilder::new()
        .from_path(path)
        .map_err(|source| PlainError::Csv {
            path: path.display().to_string(),
            source,
        })
}

/// Inner-join `register.csv` and `usage.csv` on the normalised BSN.
pub fn join(register: &Path, usage: &Path) -> Result<Join, PlainError> {
    let province = Column::Province.levels();
    let household = Column::Household.levels();
    let age = Column::AgeBand.levels();
    let channel = Column::Channel.levels();

    let rpath = register.display().to_string();
    let bad = |path: &str, line: u64, reason| PlainError::BadRow {
        path: path.to_string(),
        line,
        reason,
    };
    let mut by_bsn: HashMap<u32, Resident> = HashMap::new();
    let mut rec = csv::ByteRecord::new();
    let mut r = reader(register)?;
    let mut line = 1u64;
    let csv_err = |path: &str, source| PlainError::Csv {
        path: path.to_string(),
        source,
    };
    while r
        .read_byte_record(&mut rec)
        .map_err(|e| csv_err(&rpath, e))?
    {
        line += 1;
        let field = |i: usize| rec.get(i).unwrap_or_default();
        let bsn = normalise_bsn(field(0)).ok_or_else(|| bad(&rpath, line, "invalid BSN"))?;
        let resident = Resident {
            province: level_of(&province, field(1))
                .ok_or_else(|| bad(&rpath, line, "unknown province"))?,
            household: level_of(&household, field(2))
                .ok_or_else(|| bad(&rpath, line, "unknown household type"))?,
            age: level_of(&age, field(3)).ok_or_else(|| bad(&rpath, line, "unknown age band"))?,
            income: std::str::from_utf8(field(4))
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(&rpath, line, "income is not an integer"))?,
        };
        if by_bsn.insert(bsn, resident).is_some() {
            return Err(bad(&rpath, line, "duplicated BSN"));
        }
    }
    let register_rows = by_bsn.len();

    let upath = usage.display().to_string();
    let mut r = reader(usage)?;
    let mut rows = Vec::new();
    let mut usage_rows = 0usize;
    let mut line = 1u64;
    while r
        .read_byte_record(&mut rec)
        .map_err(|e| csv_err(&upath, e))?
    {
        line += 1;
        usage_rows += 1;
        let field = |i: usize| rec.get(i).unwrap_or_default();
        let bsn = normalise_bsn(field(0)).ok_or_else(|| bad(&upath, line, "invalid BSN"))?;
        let ch =
            level_of(&channel, field(1)).ok_or_else(|| bad(&upath, line, "unknown channel"))?;
        let logins: i64 = std::str::from_utf8(field(2))
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(&upath, line, "logins is not an integer"))?;
        if let Some(&resident) = by_bsn.get(&bsn) {
            rows.push(Joined {
                resident,
                channel: ch,
                logins,
            });
        }
    }
    Ok(Join {
        rows,
        register_rows,
        usage_rows,
    })
}

impl Join {
    /// Number of joined rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }
}

/// One expected cell.
#[derive(Clone, Debug)]
pub struct ExpectedCell {
    /// Levels of the `by` columns.
    pub levels: Vec<&'static str>,
    /// Joined rows in the cell.
    pub count: u64,
    /// Σv.
    pub sum: i128,
    /// Σv².
    pub sum_sq: i128,
    /// count < min_cell.
    pub suppressed: bool,
}

impl ExpectedCell {
    fn mean(&self) -> f64 {
        self.sum as f64 / self.count as f64
    }

    /// Population variance (n·Σv² − (Σv)²) / n², exact numerator in i128.
    fn variance(&self) -> f64 {
        let n = i128::from(self.count);
        let num = n * self.sum_sq - self.sum * self.sum;
        num as f64 / (n * n) as f64
    }
}

/// The expected header of an output file.
pub fn header(spec: &OutputSpec) -> Vec<String> {
    let mut h: Vec<String> = spec.by.iter().map(|c| c.qualified().to_string()).collect();
    h.push("count".into());
    match spec.statistic {
        Statistic::Count => {}
        Statistic::Sum => h.push("sum".into()),
        Statistic::Mean => h.push("mean".into()),
        Statistic::Variance => {
            h.push("mean".into());
            h.push("variance".into());
        }
        _ => {}
    }
    h.push("suppressed".into());
    h
}

/// The cells of an output, computed in the clear.
pub fn expected(join: &Join, spec: &OutputSpec) -> Vec<ExpectedCell> {
    let levels: Vec<Vec<&'static str>> = spec.by.iter().map(|c| c.levels()).collect();
    let n_cells: usize = levels.iter().map(Vec::len).product();
    let mut cells: Vec<ExpectedCell> = (0..n_cells)
        .map(|mut i| {
            // First `by` column outermost: decode i in mixed radix, last column fastest.
            let mut l = vec![""; levels.len()];
            for (slot, lv) in l.iter_mut().zip(&levels).rev() {
                *slot = lv[i % lv.len()];
                i /= lv.len();
            }
            ExpectedCell {
                levels: l,
                count: 0,
                sum: 0,
                sum_sq: 0,
                suppressed: false,
            }
        })
        .collect();
    for row in &join.rows {
        let mut idx = 0usize;
        for (c, lv) in spec.by.iter().zip(&levels) {
            idx = idx * lv.len() + row.level(*c);
        }
        let v = i128::from(spec.of.map_or(0, |c| row.value(c)));
        if let Some(cell) = cells.get_mut(idx) {
            cell.count += 1;
            cell.sum += v;
            cell.sum_sq += v * v;
        }
    }
    for c in &mut cells {
        c.suppressed = c.count < spec.min_cell;
    }
    cells
}

/// Relative tolerance for means and variances (the runner prints the shortest decimal that
/// round-trips its `f64`, so only the last-bit differences of two exact computations remain).
const REL_TOL: f64 = 1e-9;

fn close(printed: &str, want: f64) -> bool {
    let Ok(got) = printed.parse::<f64>() else {
        return false;
    };
    let scale = want.abs().max(got.abs());
    (got - want).abs() <= REL_TOL * scale
}

/// Compare a revealed table (the CSV text the runner wrote) with the plaintext cells; `Err`
/// describes the first difference.
pub fn compare(spec: &OutputSpec, csv_text: &str, want: &[ExpectedCell]) -> Result<(), String> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(csv_text.as_bytes());
    let got_header: Vec<String> = r
        .headers()
        .map_err(|e| format!("unreadable header: {e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    let want_header = header(spec);
    if got_header != want_header {
        return Err(format!(
            "header is {}, expected {}",
            got_header.join(","),
            want_header.join(",")
        ));
    }
    let nby = spec.by.len();
    let mut n = 0usize;
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| format!("row {}: {e}", i + 1))?;
        let Some(w) = want.get(i) else {
            return Err(format!("more rows than the {} cells expected", want.len()));
        };
        n += 1;
        let f = |k: usize| rec.get(k).unwrap_or("");
        let cell = w.levels.join(" × ");
        for (k, l) in w.levels.iter().enumerate() {
            if f(k) != *l {
                return Err(format!("row {}: level '{}', expected '{l}'", i + 1, f(k)));
            }
        }
        let suppressed = f(want_header.len() - 1);
        let want_supp = if w.suppressed { "true" } else { "false" };
        if suppressed != want_supp {
            return Err(format!(
                "cell {cell}: suppressed = {suppressed}, expected {want_supp} (count {})",
                w.count
            ));
        }
        let stats: Vec<&str> = (nby..want_header.len() - 1).map(f).collect();
        if w.suppressed {
            if stats.iter().any(|s| !s.is_empty()) {
                return Err(format!("cell {cell} is suppressed but shows values"));
            }
            continue;
        }
        if stats.first().copied() != Some(w.count.to_string().as_str()) {
            return Err(format!(
                "cell {cell}: count {}, expected {}",
                stats.first().copied().unwrap_or(""),
                w.count
            ));
        }
        let ok = match spec.statistic {
            Statistic::Count => true,
            Statistic::Sum => stats.get(1).copied() == Some(w.sum.to_string().as_str()),
            Statistic::Mean => stats.get(1).is_some_and(|m| close(m, w.mean())),
            Statistic::Variance => {
                stats.get(1).is_some_and(|m| close(m, w.mean()))
                    && stats.get(2).is_some_and(|v| close(v, w.variance()))
            }
            _ => false,
        };
        if !ok {
            let want_vals = match spec.statistic {
                Statistic::Count => String::new(),
                Statistic::Sum => w.sum.to_string(),
                Statistic::Mean => w.mean().to_string(),
                Statistic::Variance => format!("{},{}", w.mean(), w.variance()),
                _ => String::new(),
            };
            return Err(format!(
                "cell {cell}: {}, expected {want_vals}",
                stats.get(1..).unwrap_or_default().join(",")
            ));
        }
    }
    if n != want.len() {
        return Err(format!("{n} rows, expected {} cells", want.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bsn_normalisation() {
        assert_eq!(normalise_bsn(b"111222333"), Some(111_222_333));
        assert_eq!(normalise_bsn(b"111222334"), None);
        assert_eq!(normalise_bsn(b"000000000"), None);
        assert_eq!(normalise_bsn(b"12345"), None);
        // 012345672: 0·9+1·8+2·7+3·6+4·5+5·4+6·3+7·2 = 112 ≡ 2 (mod 11).
        assert_eq!(normalise_bsn(b"12345672"), Some(12_345_672));
        assert_eq!(normalise_bsn(b"012345672"), Some(12_345_672));
    }

    #[test]
    fn relative_tolerance() {
        assert!(close("3.141592653589793", std::f64::consts::PI));
        assert!(close("3.1415926535", std::f64::consts::PI));
        assert!(!close("3.14159265", std::f64::consts::PI));
        assert!(!close("3.2", 3.1));
        assert!(!close("", 3.1));
        assert!(close("0", 0.0));
    }

    #[test]
    fn cells_are_in_declared_order_first_column_outermost() {
        let spec = &super::super::super::synth::OUTPUTS[0];
        let join = Join {
            rows: vec![],
            register_rows: 0,
            usage_rows: 0,
        };
        let cells = expected(&join, spec);
        assert_eq!(cells.len(), 36);
        assert_eq!(cells[0].levels, ["Groningen", "app"]);
        assert_eq!(cells[1].levels, ["Groningen", "web"]);
        assert_eq!(cells[3].levels, ["Friesland", "app"]);
        assert!(cells.iter().all(|c| c.suppressed));
    }
}
