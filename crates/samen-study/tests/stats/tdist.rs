//! `t_two_sided_p` against reference values.
//!
//! The table (`t_reference.csv`) holds `I_x(df/2, 1/2)`, `x = df/(df + t²)`, evaluated by mpmath's hypergeometric
//! `betainc` at 40 significant digits for the exact binary values of `t` and `df` (and checked
//! against direct numerical integration of the t density where both converge), then rounded
//! once to `f64`. Entries whose value underflows `f64` are left out.

use samen_study::stats::t_two_sided_p;

/// `df,t,p` rows: `p = P(|T| ≥ |t|)` with `df` degrees of freedom.
const REFERENCE_CSV: &str = include_str!("t_reference.csv");

fn reference() -> Vec<(f64, f64, f64)> {
    REFERENCE_CSV
        .lines()
        .skip(1)
        .map(|line| {
            let v: Vec<f64> = line.split(',').map(|x| x.parse().unwrap()).collect();
            (v[0], v[1], v[2])
        })
        .collect()
}

/// The relative error allowed: 1e−13, widened where the problem itself amplifies the rounding of
/// `ln p` (its magnitude reaches about 700 just above the underflow threshold).
fn tolerance(p: f64) -> f64 {
    1e-13 * (1.0 + p.ln().abs() / 50.0)
}

#[test]
fn t_p_values_match_reference_table() {
    let mut worst = 0.0f64;
    let mut failures = Vec::new();
    let table = reference();
    assert_eq!(table.len(), 420);
    for &(df, t, expected) in &table {
        let got = t_two_sided_p(t, df);
        let rel = ((got - expected) / expected).abs();
        worst = worst.max(rel / tolerance(expected));
        if rel.is_nan() || rel > tolerance(expected) {
            failures.push(format!(
                "df={df} t={t}: got {got:e}, expected {expected:e}, relative error {rel:e}"
            ));
        }
        // Symmetric in the sign of t.
        assert_eq!(t_two_sided_p(-t, df).to_bits(), got.to_bits());
    }
    assert!(
        failures.is_empty(),
        "{} of {}:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
    println!("worst error / tolerance: {worst}");
}

#[test]
fn t_p_value_known_values() {
    // R: 2 * pt(-2, 10)
    assert!((t_two_sided_p(2.0, 10.0) - 0.073_388_034_770_740_37).abs() < 1e-16);
    // Cauchy (df = 1): P(|T| ≥ t) = (2/π) atan(1/t).
    for t in [0.3f64, 1.0, 7.0, 1e3, 1e6] {
        let exact = 2.0 / std::f64::consts::PI * (1.0 / t).atan();
        let got = t_two_sided_p(t, 1.0);
        assert!(
            ((got - exact) / exact).abs() < 1e-14,
            "t={t}: {got} vs {exact}"
        );
    }
    // df = 2: P(|T| ≥ t) = 1 − t/√(2 + t²).
    for t in [0.5f64, 2.0, 4.0] {
        let exact = 1.0 - t / (2.0 + t * t).sqrt();
        let got = t_two_sided_p(t, 2.0);
        assert!(
            ((got - exact) / exact).abs() < 1e-14,
            "t={t}: {got} vs {exact}"
        );
    }
}

#[test]
fn t_p_value_edges() {
    assert_eq!(t_two_sided_p(0.0, 5.0), 1.0);
    assert_eq!(t_two_sided_p(f64::INFINITY, 5.0), 0.0);
    assert_eq!(t_two_sided_p(f64::NEG_INFINITY, 1e8), 0.0);
    // Far beyond f64's range: underflows to 0, never NaN.
    assert_eq!(t_two_sided_p(1e300, 3.0), 0.0);
    assert_eq!(t_two_sided_p(1e4, 1e8), 0.0);
    // A huge t with df = 1 is still representable: (2/π)/t.
    let p = t_two_sided_p(1e200, 1.0);
    assert!(
        ((p - 2.0 / std::f64::consts::PI * 1e-200) / p).abs() < 1e-13,
        "{p:e}"
    );
    // Tiny t: p is 1 to within rounding.
    assert!((t_two_sided_p(1e-300, 7.0) - 1.0).abs() < 1e-15);
    assert!((t_two_sided_p(1e-300, 1e6) - 1.0).abs() < 1e-15);
    assert!((t_two_sided_p(1e-20, 1e8) - 1.0).abs() < 1e-15);
    for bad in [
        (f64::NAN, 3.0),
        (1.0, 0.0),
        (1.0, -2.0),
        (1.0, f64::NAN),
        (1.0, f64::INFINITY),
    ] {
        assert!(t_two_sided_p(bad.0, bad.1).is_nan(), "{bad:?}");
    }
    // Monotone decreasing in |t| across the branch switch, at several df.
    for df in [1.0, 3.0, 30.0, 1e4, 1e8] {
        let mut previous = 1.0;
        for k in 1..400 {
            let p = t_two_sided_p(f64::from(k) * 0.01, df);
            assert!(
                p <= previous && p > 0.0,
                "df={df} t={}: {p} after {previous}",
                f64::from(k) * 0.01
            );
            previous = p;
        }
    }
}
