//! Terminal rendering of revealed tables: aligned columns, `·` for suppressed cells.

use super::super::synth::{OutputSpec, Statistic};

/// Shown instead of the values of a suppressed cell.
pub const SUPPRESSED: &str = "·";

/// Left- or right-aligned column.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// Lay out rows of text as aligned columns with a rule under the header.
fn grid(header: &[String], align: &[Align], rows: &[Vec<String>]) -> String {
    let width = |k: usize| {
        rows.iter()
            .filter_map(|r| r.get(k))
            .chain(header.get(k))
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |cells: &[String]| {
        let mut s = String::from("  ");
        for (k, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if k > 0 {
                s.push_str("  ");
            }
            let pad = w.saturating_sub(c.chars().count());
            if align.get(k).copied().unwrap_or(Align::Left) == Align::Right {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            }
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(header);
    let total: usize = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
    out.push_str("  ");
    out.push_str(&"─".repeat(total));
    out.push('\n');
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

/// Format a printed float for reading: two decimals (variances of large values: none).
fn readable(v: &str, decimals: usize) -> String {
    match v.parse::<f64>() {
        Ok(x) if x.abs() >= 1e5 => format!("{x:.0}"),
        Ok(x) => format!("{x:.decimals$}"),
        Err(_) => v.to_string(),
    }
}

/// Render the CSV text of a revealed table for the terminal.
pub fn render(spec: &OutputSpec, csv_text: &str) -> Result<String, String> {
    let mut r = csv::ReaderBuilder::new().from_reader(csv_text.as_bytes());
    let header: Vec<String> = r
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(str::to_string)
        .collect();
    let rows: Vec<Vec<String>> = r
        .records()
        .map(|rec| rec.map(|rec| rec.iter().map(str::to_string).collect()))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let nby = spec.by.len();
    let last = header.len().saturating_sub(1);
    let is_suppressed = |row: &Vec<String>| row.get(last).map(String::as_str) == Some("true");

    // A count over two grouping columns reads best as a cross table.
    if spec.statistic == Statistic::Count && nby == 2 {
        let mut row_levels: Vec<String> = Vec::new();
        let mut col_levels: Vec<String> = Vec::new();
        for row in &rows {
            let (Some(a), Some(b)) = (row.first(), row.get(1)) else {
                continue;
            };
            if !row_levels.contains(a) {
                row_levels.push(a.clone());
            }
            if !col_levels.contains(b) {
                col_levels.push(b.clone());
            }
        }
        let mut h = vec![format!(
            "{} \\ {}",
            header.first().map(String::as_str).unwrap_or(""),
            header.get(1).map(String::as_str).unwrap_or("")
        )];
        h.extend(col_levels.iter().cloned());
        let mut align = vec![Align::Left];
        align.extend(col_levels.iter().map(|_| Align::Right));
        let body: Vec<Vec<String>> = row_levels
            .iter()
            .map(|a| {
                let mut line = vec![a.clone()];
                for b in &col_levels {
                    let cell = rows
                        .iter()
                        .find(|r| r.first() == Some(a) && r.get(1) == Some(b));
                    line.push(match cell {
                        Some(r) if is_suppressed(r) => SUPPRESSED.to_string(),
                        Some(r) => r.get(2).cloned().unwrap_or_default(),
                        None => String::new(),
                    });
                }
                line
            })
            .collect();
        return Ok(grid(&h, &align, &body));
    }

    // Otherwise one line per cell: levels, then the statistics (without the suppressed flag).
    let h: Vec<String> = header.iter().take(last).cloned().collect();
    let align: Vec<Align> = (0..h.len())
        .map(|k| if k < nby { Align::Left } else { Align::Right })
        .collect();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let supp = is_suppressed(row);
            (0..last)
                .map(|k| {
                    let v = row.get(k).cloned().unwrap_or_default();
                    if k < nby {
                        v
                    } else if supp {
                        SUPPRESSED.to_string()
                    } else {
                        match header.get(k).map(String::as_str) {
                            Some("mean") => readable(&v, 2),
                            Some("variance") => readable(&v, 1),
                            _ => v,
                        }
                    }
                })
                .collect()
        })
        .collect();
    Ok(grid(&h, &align, &body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::synth::OUTPUTS;

    #[test]
    fn cross_table_with_suppressed_cells() {
        let csv = "register.province,usage.channel,count,suppressed\n\
                   Groningen,app,120,false\nGroningen,web,,true\n\
                   Zeeland,app,15,false\nZeeland,web,3000,false\n";
        let t = render(&OUTPUTS[0], csv).unwrap();
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].contains("register.province \\ usage.channel"));
        assert!(lines[2].starts_with("  Groningen") && lines[2].ends_with('·'));
        assert!(lines[3].ends_with("3000"));
        assert_eq!(lines[2].chars().count(), lines[3].chars().count());
    }

    #[test]
    fn long_table_rounds_means() {
        let csv = "register.age_band,count,mean,variance,suppressed\n\
                   18-24,12,3.3333333333333335,2.2222222222222223,false\n75+,,,,true\n";
        let t = render(&OUTPUTS[2], csv).unwrap();
        assert!(t.contains("3.33") && t.contains("2.2") && !t.contains("3.333"));
        assert!(t.lines().nth(3).unwrap().ends_with('·'));
        let csv = "register.province,count,sum,suppressed\nGroningen,12,30000,false\n";
        let t = render(&OUTPUTS[3], csv).unwrap();
        assert!(t.lines().nth(2).unwrap().ends_with(" 30000"));
    }
}
