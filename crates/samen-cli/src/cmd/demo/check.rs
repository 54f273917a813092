//! Comparing a revealed output file with the plaintext reference (`samen_study::reference`).
//!
//! An exact output must equal the reference byte for byte. An output with a privacy budget
//! carries noise added inside MPC, so it is checked for shape (every cell present, with the
//! right levels, in the right order) and the noise is measured: for each cell that neither side
//! suppressed, noisy − exact of every integer column the noise is added to (`count`, `sum`).

use samen_core::dp;
use samen_study::plan::OutputPlan;
use samen_study::spec::OutputSpec;
use samen_study::statistic::Quantity;

/// The error distribution of one noisy integer column over the cells of an output.
#[derive(Clone, Debug, PartialEq)]
pub struct NoiseStats {
    /// The column (`count` or `sum`).
    pub column: String,
    /// Cells compared (unsuppressed in the release and in the reference).
    pub cells: usize,
    /// Mean of noisy − exact.
    pub mean: f64,
    /// Standard deviation of noisy − exact (population form).
    pub sd: f64,
    /// Largest |noisy − exact|.
    pub max_abs: u128,
    /// The standard deviation of the noise the study engine adds to this column (from the
    /// output's plan), where the column is one opened quantity.
    pub expected_sd: Option<f64>,
}

/// The standard deviation of the noise on column `column` (`count` or `sum`) of an output,
/// from the mechanism the study engine's plan gives the corresponding quantity.
pub fn planned_sd(spec: &OutputSpec, plan: &OutputPlan, column: &str) -> Option<f64> {
    let quantity = match column {
        "count" => Quantity::count(),
        "sum" => Quantity::of_values(&[spec.of.first()?]),
        _ => return None,
    };
    let q = plan.quantities.iter().position(|x| *x == quantity)?;
    plan.noise
        .get(q)
        .map(|m| dp::sum_variance(m, samen_study::privacy::DRAWS).sqrt())
}

/// Standard deviation of the released noise on a count that has the whole budget, under the
/// default replace-one neighbours (sensitivity 2): each data party draws discrete Laplace of
/// scale 2/ε, variance 2e^(−ε/2)/(1 − e^(−ε/2))², and the two draws add.
#[cfg(test)]
fn count_noise_sd(epsilon: f64) -> f64 {
    let r = (-epsilon / 2.0).exp();
    (2.0 * 2.0 * r / ((1.0 - r) * (1.0 - r))).sqrt()
}

/// Header and rows of a CSV text.
fn parse(text: &str) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header = r
        .headers()
        .map_err(|e| format!("not CSV: {e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    let rows = r
        .records()
        .map(|rec| rec.map(|rec| rec.iter().map(str::to_string).collect()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not CSV: {e}"))?;
    Ok((header, rows))
}

/// Byte-for-byte comparison; on a difference, says where.
pub fn exact(got: &str, want: &str) -> Result<(), String> {
    if got == want {
        return Ok(());
    }
    let differing = got
        .lines()
        .zip(want.lines())
        .position(|(g, w)| g != w)
        .map(|i| {
            let g = got.lines().nth(i).unwrap_or("");
            let w = want.lines().nth(i).unwrap_or("");
            format!("line {}: revealed `{g}`, plaintext `{w}`", i + 1)
        });
    Err(differing.unwrap_or_else(|| {
        format!(
            "revealed {} lines, plaintext {}",
            got.lines().count(),
            want.lines().count()
        )
    }))
}

/// Check a noisy file against the exact reference file: same header, same number of rows,
/// the same `nby` level fields in every row; and measure noisy − exact of `count` and `sum`
/// (`expected_sd` gives the mechanism's standard deviation per column, where known).
pub fn noisy(
    got: &str,
    want: &str,
    nby: usize,
    expected_sd: &dyn Fn(&str) -> Option<f64>,
) -> Result<Vec<NoiseStats>, String> {
    let (gh, grows) = parse(got)?;
    let (wh, wrows) = parse(want)?;
    if gh != wh {
        return Err(format!(
            "header `{}`, expected `{}`",
            gh.join(","),
            wh.join(",")
        ));
    }
    if grows.len() != wrows.len() {
        return Err(format!(
            "{} cells revealed, {} expected",
            grows.len(),
            wrows.len()
        ));
    }
    for (i, (g, w)) in grows.iter().zip(&wrows).enumerate() {
        if g.get(..nby) != w.get(..nby) {
            return Err(format!(
                "cell {} has levels `{}`, expected `{}`",
                i + 1,
                g.iter().take(nby).cloned().collect::<Vec<_>>().join(","),
                w.iter().take(nby).cloned().collect::<Vec<_>>().join(",")
            ));
        }
    }
    let flag = gh.iter().position(|h| h == "suppressed");
    let unsuppressed = |row: &[String]| flag.and_then(|k| row.get(k)).is_none_or(|v| v == "false");
    let mut stats = Vec::new();
    for column in ["count", "sum"] {
        let Some(k) = gh.iter().position(|h| h == column) else {
            continue;
        };
        let mut errors: Vec<i128> = Vec::new();
        for (g, w) in grows.iter().zip(&wrows) {
            if !(unsuppressed(g) && unsuppressed(w)) {
                continue;
            }
            let value = |row: &[String], who: &str| -> Result<i128, String> {
                let v = row.get(k).map(String::as_str).unwrap_or("");
                v.parse()
                    .map_err(|_| format!("{who} {column} `{v}` is not an integer"))
            };
            errors.push(value(g, "revealed")? - value(w, "plaintext")?);
        }
        let n = errors.len();
        let mean = if n == 0 {
            0.0
        } else {
            errors.iter().map(|&e| e as f64).sum::<f64>() / n as f64
        };
        let var = if n == 0 {
            0.0
        } else {
            errors
                .iter()
                .map(|&e| (e as f64 - mean).powi(2))
                .sum::<f64>()
                / n as f64
        };
        stats.push(NoiseStats {
            column: column.to_string(),
            cells: n,
            mean,
            sd: var.sqrt(),
            max_abs: errors.iter().map(|e| e.unsigned_abs()).max().unwrap_or(0),
            expected_sd: expected_sd(column),
        });
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_says_where_files_differ() {
        assert!(exact("a,b\n1,2\n", "a,b\n1,2\n").is_ok());
        let e = exact("a,b\n1,3\n", "a,b\n1,2\n").unwrap_err();
        assert!(
            e.contains("line 2") && e.contains("1,3") && e.contains("1,2"),
            "{e}"
        );
        let e = exact("a,b\n", "a,b\n1,2\n").unwrap_err();
        assert!(e.contains("1 lines, plaintext 2"), "{e}");
    }

    #[test]
    fn noise_is_measured_on_cells_neither_side_suppressed() {
        let want = "p,count,suppressed\nx,100,false\ny,50,false\nz,,primary\nw,12,false\n";
        let got = "p,count,suppressed\nx,102,false\ny,49,false\nz,,primary\nw,,primary\n";
        let s = noisy(got, want, 1, &|c| (c == "count").then_some(1.25)).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].cells, s[0].max_abs), (2, 2));
        assert!((s[0].mean - 0.5).abs() < 1e-12 && (s[0].sd - 1.5).abs() < 1e-12);
        assert_eq!(s[0].expected_sd, Some(1.25));
    }

    #[test]
    fn planned_noise_of_a_count_is_the_discrete_laplace_with_scale_one_over_epsilon() {
        use samen_pseudonym::IdKind;
        use samen_study::spec::{Statistic, StudyBuilder};
        // released variance: two draws of scale 2 (ε = 1) and of scale 4 (ε = 0.5)
        for (eps, variance) in [(1.0, 2.0 * 7.835), (0.5, 2.0 * 31.83)] {
            let study = StudyBuilder::new("s")
                .data_party("a", "x:1")
                .data_party("b", "x:2")
                .helper("h", "x:3")
                .table("ta", "a", "id", IdKind::Text)
                .category("ta", "c", &["p", "q"])
                .table("tb", "b", "id", IdKind::Text)
                .integer("tb", "v", 0, 100)
                .output("n", Statistic::Count, None, &["ta.c"], 10)
                .epsilon(eps)
                .output("s", Statistic::Sum, Some("tb.v"), &[], 10)
                .epsilon(eps)
                .build()
                .unwrap();
            let plan = samen_study::plan::Plan::new(&study).unwrap();
            let (count, sum) = (&study.outputs()[0], &study.outputs()[1]);
            let sd = planned_sd(count, &plan.outputs[0], "count").unwrap();
            assert!((sd * sd / variance - 1.0).abs() < 1e-3, "{sd}");
            assert!((sd - count_noise_sd(eps)).abs() < 1e-9);
            // A sum output splits ε over its two quantities: each draw on the sum has scale
            // 2 · 100 · 2/ε = 400/ε (sd ≈ √2 · 400/ε), and the two draws add.
            let sd = planned_sd(sum, &plan.outputs[1], "sum").unwrap();
            assert!((sd / (400.0 / eps) - 2.0).abs() < 0.01, "{sd}");
            assert_eq!(planned_sd(sum, &plan.outputs[1], "mean"), None);
        }
    }

    #[test]
    fn noisy_output_must_have_every_cell_with_its_levels() {
        let want = "p,count,sum,suppressed\nx,100,7,false\ny,50,8,false\n";
        let wrong_level = "p,count,sum,suppressed\nx,100,7,false\nq,50,8,false\n";
        let missing = "p,count,sum,suppressed\nx,100,7,false\n";
        let text = "p,count,sum,suppressed\nx,100,7.5,false\ny,50,8,false\n";
        let p = &|_: &str| None;
        assert!(noisy(wrong_level, want, 1, p).unwrap_err().contains("`q`"));
        assert!(noisy(missing, want, 1, p).unwrap_err().contains("1 cells"));
        assert!(noisy(text, want, 1, p)
            .unwrap_err()
            .contains("not an integer"));
        let s = noisy(want, want, 1, p).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].column, "sum");
        assert_eq!((s[1].max_abs, s[1].expected_sd), (0, None));
    }
}
