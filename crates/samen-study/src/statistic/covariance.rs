//! Population covariance of two integer columns (each from either table) per cell.
//!
//! `of = ["a.x", "b.y"]`, with 0–2 `by` columns. Quantities per cell: `n, Σx, Σy, Σx·y`.
//! Columns of `<name>.csv`: the `by` columns, `count`, `covariance`, `suppressed`;
//! covariance = (n·Σxy − Σx·Σy) / n², exact from the integers with one rounding, empty for a
//! cell with count ≤ 0.

use crate::output::{fmt_f64, OutputTable};
use crate::spec::{ColumnKind, ColumnRef, OutputSpec, Study};

use super::cells::{cell_file, ratio};
use super::{check_of_integers, CellValues, Definition, Quantity};

pub(super) struct Covariance;

pub(super) static COVARIANCE: Covariance = Covariance;

impl Definition for Covariance {
    fn name(&self) -> &'static str {
        "covariance"
    }

    fn check<'a>(
        &self,
        output: &OutputSpec,
        column: &dyn Fn(&ColumnRef) -> Option<&'a ColumnKind>,
    ) -> Result<(), String> {
        check_of_integers(output, column, Some(2), 2)
    }

    fn quantities(&self, output: &OutputSpec, _study: &Study) -> Vec<Quantity> {
        let mut q = vec![Quantity::count()];
        if let [x, y] = output.of.as_slice() {
            q.push(Quantity::of_values(&[x]));
            q.push(Quantity::of_values(&[y]));
            q.push(Quantity::of_values(&[x, y]));
        }
        q
    }

    fn finish(&self, output: &OutputSpec, _study: &Study, cells: &[CellValues]) -> OutputTable {
        let file = cell_file(output, &["covariance"], cells, |v| {
            let cov = match *v {
                [n, sx, sy, sxy] if n > 0 => {
                    let num = n.saturating_mul(sxy).saturating_sub(sx.saturating_mul(sy));
                    Some(ratio(num, n.saturating_mul(n)))
                }
                _ => None,
            };
            vec![fmt_f64(cov)]
        });
        OutputTable {
            name: output.name.clone(),
            statistic: output.statistic,
            files: vec![file],
            notes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::input::InputTable;
    use samen_pseudonym::IdKind;

    use crate::spec::{Statistic, StudyBuilder};

    /// Covariance over the private join equals a direct computation on the joined rows, for
    /// both columns on one side and one on each side, with a grouping column.
    #[test]
    fn covariance_equals_a_direct_computation() {
        let study = StudyBuilder::new("cov")
            .data_party("a", "x:1")
            .data_party("b", "x:2")
            .helper("h", "x:3")
            .table("ta", "a", "id", IdKind::Text)
            .category("ta", "g", &["g0", "g1"])
            .integer("ta", "x", -1000, 1000)
            .integer("ta", "z", 0, 50)
            .table("tb", "b", "id", IdKind::Text)
            .integer("tb", "y", -30, 30)
            .statistic_output(
                "xy",
                Statistic::Covariance,
                &["ta.x", "tb.y"],
                &[],
                &["ta.g"],
                2,
            )
            .statistic_output("xz", Statistic::Covariance, &["ta.x", "ta.z"], &[], &[], 0)
            .build()
            .unwrap();
        let mut ta = InputTable::new(&["id", "g", "x", "z"]);
        let mut tb = InputTable::new(&["id", "y"]);
        let mut rows = Vec::new(); // (g, x, z, y) of joined rows
        let mut s = 7u64;
        let mut next = |m: i64| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) % (2 * m as u64 + 1)) as i64 - m
        };
        for i in 0..60 {
            let (g, x, z) = (next(1).rem_euclid(2), next(1000), next(25) + 25);
            ta.push(vec![
                format!("u{i}"),
                format!("g{g}"),
                x.to_string(),
                z.to_string(),
            ]);
            if i % 3 != 0 {
                let y = next(30);
                tb.push(vec![format!("u{i}"), y.to_string()]);
                rows.push((g, x, z, y));
            }
        }
        tb.push(vec!["only-b".into(), "5".into()]);
        let tables = crate::run_in_process(&study, &[("ta", &ta), ("tb", &tb)]).unwrap();
        let cov = |pairs: &[(f64, f64)]| {
            let n = pairs.len() as f64;
            let (mx, my) = pairs
                .iter()
                .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
            pairs.iter().map(|(x, y)| (x - mx) * (y - my)).sum::<f64>() / n
        };
        for g in 0..2 {
            let pairs: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.0 == g)
                .map(|r| (r.1 as f64, r.3 as f64))
                .collect();
            let got: f64 = tables[0]
                .get(g as usize, "covariance")
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(
                tables[0].get(g as usize, "count"),
                Some(pairs.len().to_string().as_str())
            );
            assert!(
                (got - cov(&pairs)).abs() <= 1e-9 * cov(&pairs).abs().max(1.0),
                "{got}"
            );
        }
        let pairs: Vec<(f64, f64)> = rows.iter().map(|r| (r.1 as f64, r.2 as f64)).collect();
        let got: f64 = tables[1].get(0, "covariance").unwrap().parse().unwrap();
        assert!(
            (got - cov(&pairs)).abs() <= 1e-9 * cov(&pairs).abs().max(1.0),
            "{got}"
        );
        assert_eq!(
            tables[1].main().unwrap().header,
            ["count", "covariance", "suppressed"]
        );
    }
}
