//! `correlation` against a two-pass `f64` computation on the raw columns.

use crate::common::{gram_of, Rng};
use samen_study::stats::{correlation, Gram};

/// Pearson's r of two raw columns, two-pass (centred) in `f64`.
fn plain_r(a: &[i64], b: &[i64]) -> f64 {
    let n = a.len() as f64;
    let ma = a.iter().map(|&v| v as f64).sum::<f64>() / n;
    let mb = b.iter().map(|&v| v as f64).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (x as f64 - ma, y as f64 - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    sab / (saa * sbb).sqrt()
}

#[test]
fn correlation_matches_plain_computation() {
    let mut rng = Rng::new(7);
    let n = 500;
    let mut cols: Vec<Vec<i64>> = vec![Vec::new(); 5];
    for _ in 0..n {
        let income = rng.range(0, 1_000_000);
        let age = rng.range(18, 90);
        cols[0].push(income);
        cols[1].push(age);
        cols[2].push(-3 * income + 1000 * age + rng.range(-200_000, 200_000));
        cols[3].push(17); // constant
        cols[4].push(i64::from(age > 50));
    }
    let rows: Vec<Vec<i64>> = (0..n)
        .map(|i| {
            std::iter::once(1)
                .chain(cols.iter().map(|c| c[i]))
                .collect()
        })
        .collect();
    let r = correlation(&gram_of(&rows));
    assert_eq!((r.len(), r[0].len()), (5, 5));
    for i in 0..5 {
        for j in 0..5 {
            if i == 3 || j == 3 {
                assert_eq!(r[i][j], None, "constant column ({i}, {j})");
                continue;
            }
            let got = r[i][j].unwrap();
            assert!(got.is_finite() && got.abs() <= 1.0);
            assert_eq!(got, r[j][i].unwrap());
            if i == j {
                assert_eq!(got, 1.0);
            } else {
                let expected = plain_r(&cols[i], &cols[j]);
                assert!(
                    (got - expected).abs() <= 1e-12 * expected.abs(),
                    "({i}, {j}): {got} vs {expected}"
                );
            }
        }
    }
    assert!(r[0][2].unwrap() < -0.9);
}

#[test]
fn correlation_edges() {
    // Fewer than two rows: nothing is defined.
    assert_eq!(
        correlation(&gram_of(&[vec![1, 5, 6]])),
        vec![vec![None, None], vec![None, None]]
    );
    assert_eq!(
        correlation(&Gram::new(3, vec![0; 9]).unwrap()),
        vec![vec![None; 2]; 2]
    );
    // Exactly collinear columns give exactly ±1.
    let rows: Vec<Vec<i64>> = (0..10i64)
        .map(|i| vec![1, i, 3 - 2 * i, 5 * i + 1])
        .collect();
    let r = correlation(&gram_of(&rows));
    assert_eq!(
        (r[0][1], r[0][2], r[1][2]),
        (Some(-1.0), Some(1.0), Some(-1.0))
    );
    // Only the constant: an empty matrix.
    assert!(correlation(&Gram::new(1, vec![4]).unwrap()).is_empty());
}
