//! Terminal rendering of revealed output files, whatever the statistic: aligned columns (text
//! left, numbers right), numbers rounded for reading, `·` for the values of a row suppressed
//! as a primary cell and `∘` as a secondary cell, and a cross table for a count over two
//! grouping columns.

/// Shown instead of the values of a row suppressed as a primary cell (below `min_cell`).
pub const SUPPRESSED: &str = "·";

/// Shown instead of the values of a row suppressed as a secondary cell (hidden so that no
/// primary cell can be derived).
pub const SECONDARY: &str = "∘";

/// Left- or right-aligned column.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Align {
    /// Text: padded on the right.
    Left,
    /// Numbers: padded on the left.
    Right,
}

/// Lay out rows of text as aligned columns with a rule under the header.
pub(super) fn grid(header: &[String], align: &[Align], rows: &[Vec<String>]) -> String {
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

/// Whether a field is a number as the runner writes them (integer or shortest `f64`).
fn is_number(v: &str) -> bool {
    !v.is_empty() && v.parse::<f64>().is_ok()
}

/// A field for reading: integers as they are, other numbers to about four significant digits
/// (large ones without decimals, tiny ones in exponent notation), text as it is.
fn readable(v: &str) -> String {
    if v.parse::<i128>().is_ok() {
        return v.to_string();
    }
    match v.parse::<f64>() {
        Ok(x) => {
            let a = x.abs();
            if a == 0.0 {
                "0".to_string()
            } else if a >= 1e5 {
                format!("{x:.0}")
            } else if a >= 100.0 {
                format!("{x:.1}")
            } else if a >= 1.0 {
                format!("{x:.2}")
            } else if a >= 1e-3 {
                format!("{x:.4}")
            } else {
                format!("{x:.2e}")
            }
        }
        Err(_) => v.to_string(),
    }
}

/// Render the CSV text of one revealed output file for the terminal: any header, any rows.
pub fn render(csv_text: &str) -> Result<String, String> {
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
    // The `suppressed` flag (last column when present) is shown as `·` (primary) or `∘`
    // (secondary) in the value fields.
    let flag = header
        .iter()
        .position(|h| h == "suppressed")
        .filter(|&k| k + 1 == header.len());
    let is_suppressed = |row: &[String]| -> Option<&'static str> {
        match flag.and_then(|k| row.get(k)).map(String::as_str) {
            Some("primary") => Some(SUPPRESSED),
            Some("secondary") => Some(SECONDARY),
            _ => None,
        }
    };
    // Text columns (levels, term names) are those with a non-numeric field.
    let text: Vec<bool> = (0..header.len())
        .map(|k| {
            rows.iter()
                .filter_map(|r| r.get(k))
                .any(|v| !v.is_empty() && !is_number(v))
        })
        .collect();
    let shown = flag.unwrap_or(header.len());

    // A count over two grouping columns reads best as a cross table.
    let cross = flag == Some(3)
        && header.get(2).map(String::as_str) == Some("count")
        && text.first() == Some(&true)
        && text.get(1) == Some(&true);
    if cross {
        return Ok(cross_table(&header, &rows, is_suppressed));
    }

    let h: Vec<String> = header.iter().take(shown).cloned().collect();
    let align: Vec<Align> = (0..shown)
        .map(|k| {
            if text.get(k) == Some(&true) {
                Align::Left
            } else {
                Align::Right
            }
        })
        .collect();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let supp = is_suppressed(row);
            (0..shown)
                .map(|k| {
                    let v = row.get(k).map(String::as_str).unwrap_or("");
                    if text.get(k) == Some(&true) {
                        v.to_string()
                    } else if let (Some(mark), true) = (supp, v.is_empty()) {
                        mark.to_string()
                    } else {
                        readable(v)
                    }
                })
                .collect()
        })
        .collect();
    Ok(grid(&h, &align, &body))
}

/// Rows `a,b,count,suppressed` as a table with the levels of `a` down and those of `b` across.
fn cross_table(
    header: &[String],
    rows: &[Vec<String>],
    is_suppressed: impl Fn(&[String]) -> Option<&'static str>,
) -> String {
    let mut row_levels: Vec<&String> = Vec::new();
    let mut col_levels: Vec<&String> = Vec::new();
    for row in rows {
        let (Some(a), Some(b)) = (row.first(), row.get(1)) else {
            continue;
        };
        if !row_levels.contains(&a) {
            row_levels.push(a);
        }
        if !col_levels.contains(&b) {
            col_levels.push(b);
        }
    }
    let mut h = vec![format!(
        "{} \\ {}",
        header.first().map(String::as_str).unwrap_or(""),
        header.get(1).map(String::as_str).unwrap_or("")
    )];
    h.extend(col_levels.iter().map(|s| s.to_string()));
    let mut align = vec![Align::Left];
    align.extend(col_levels.iter().map(|_| Align::Right));
    let body: Vec<Vec<String>> = row_levels
        .iter()
        .map(|&a| {
            let mut line = vec![a.clone()];
            for &b in &col_levels {
                let cell = rows
                    .iter()
                    .find(|r| r.first() == Some(a) && r.get(1) == Some(b));
                line.push(match cell {
                    Some(r) => match is_suppressed(r) {
                        Some(mark) => mark.to_string(),
                        None => r.get(2).cloned().unwrap_or_default(),
                    },
                    None => String::new(),
                });
            }
            line
        })
        .collect();
    grid(&h, &align, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_table_with_suppressed_cells() {
        let csv = "register.province,usage.channel,count,suppressed\n\
                   Groningen,app,120,false\nGroningen,web,,primary\n\
                   Zeeland,app,,secondary\nZeeland,web,3000,false\n";
        let t = render(csv).unwrap();
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].contains("register.province \\ usage.channel"));
        assert!(lines[2].starts_with("  Groningen") && lines[2].ends_with('·'));
        assert!(lines[3].ends_with("3000") && lines[3].contains('∘'));
        assert_eq!(lines[2].chars().count(), lines[3].chars().count());
    }

    #[test]
    fn long_table_rounds_means() {
        let csv = "register.age_band,count,mean,variance,suppressed\n\
                   18-24,12,3.3333333333333335,2.2222222222222223,false\n75+,,,,primary\n";
        let t = render(csv).unwrap();
        assert!(t.contains("3.33") && t.contains("2.22") && !t.contains("3.333"));
        assert!(!t.contains("suppressed"));
        assert!(t.lines().nth(3).unwrap().ends_with('·'));
        let csv = "register.province,count,sum,suppressed\nGroningen,12,30000,false\n";
        let t = render(csv).unwrap();
        assert!(t.lines().nth(2).unwrap().ends_with(" 30000"));
    }

    #[test]
    fn regression_files_and_correlation_matrix() {
        let coef = "term,estimate,std_error,statistic,p_value\n\
                    (intercept),4.251234,0.1,42.5,1.5e-300\n\
                    register.income,0.0000123,2e-6,6.1,1e-9\n\
                    usage.channel=web,-1.5,0.25,-6,2.1e-9\n";
        let t = render(coef).unwrap();
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("  term") && lines[0].ends_with("p_value"));
        assert!(lines[2].starts_with("  (intercept)") && lines[2].contains("4.25"));
        assert!(lines[3].contains("1.23e-5"), "{t}");
        assert!(lines[4].starts_with("  usage.channel=web") && lines[4].contains("-1.50"));
        // Numbers right-aligned: every data line as long as the header line.
        assert!(lines[2..]
            .iter()
            .all(|l| l.chars().count() == lines[0].chars().count()));

        let glance = "n,r_squared,adj_r_squared,sigma,df_residual,suppressed\n\
                      360000,0.0312,0.0311,11.9,359990,false\n";
        let t = render(glance).unwrap();
        assert!(t.lines().next().unwrap().ends_with("df_residual"));
        assert!(t.lines().nth(2).unwrap().contains("0.0312"));

        let suppressed = "n,r_squared,adj_r_squared,sigma,df_residual,suppressed\n4,,,,,primary\n";
        let t = render(suppressed).unwrap();
        assert!(t.lines().nth(2).unwrap().ends_with('·'));

        let corr = "column,register.income,usage.logins,n,suppressed\n\
                    register.income,1,0.05,360000,false\n\
                    usage.logins,0.05,1,360000,false\n";
        let t = render(corr).unwrap();
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[2].starts_with("  register.income"));
        assert!(lines[3].starts_with("  usage.logins") && lines[3].contains("0.0500"));
    }
}
