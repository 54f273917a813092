//! Differential privacy of a study's outputs: the noise of every quantity, its accuracy, and
//! the guarantee in words — one place that the plan, the review, the summary and the docs
//! read.
//!
//! # Mechanism
//! An output with `epsilon = ε` (or `rho = ρ`) splits its budget equally over the `Q`
//! quantities of a cell (the count, Σv, Σv², …). Each **data party** adds its own exact draw
//! of the quantity's mechanism to its own share ([`samen_core::mpc::Computer::noise`]), so a
//! released quantity is `x + z_First + z_Second`:
//!
//! - against First, `z_Second` alone is a full draw of the mechanism (and the other way round);
//! - against the helper, which takes no part in the noise, and the public: `z_First + z_Second`.
//!
//! Each draw is calibrated to the whole budget, so every single party's view — its own draw
//! and the table sizes included — leaves at least one full draw that it does not know. The
//! released noise has twice the variance of one draw ([`DRAWS`] = 2).
//!
//! # Sensitivity and neighbours
//! With `Δ_q` the bound of one person's contribution to quantity `q`
//! ([`crate::statistic::sensitivity`]):
//!
//! | `neighbours` | L1 (Laplace) | L2² (Gaussian) |
//! |---|---|---|
//! | `replace-one` (default) | `2Δ_q` | `2` for a count, `4Δ_q²` otherwise |
//! | `add-remove` | `Δ_q` | `Δ_q²` |
//!
//! (replacing one matched person's record moves at most two cells of a quantity, each by at
//! most `Δ_q`). Discrete Laplace of scale `L1 · Q / ε` per quantity gives ε-DP for the output;
//! the discrete Gaussian with `σ² = L2² · Q / (2ρ)` gives ρ-zCDP.
//!
//! Budgets are exact rationals as the study file writes them (`0.1` is 1/10, `"3/7"` a
//! fraction), and every scale is reduced to lowest terms before it is checked against the
//! sampler's limits.

use samen_core::dp::{self, DpError, Mechanism, Ratio};

use crate::spec::{Neighbours, OutputSpec, Privacy, SpecError, Study};
use crate::statistic::{self, Quantity};

/// Independent noise draws in every released noisy value: one per data party.
pub const DRAWS: u32 = 2;

/// The confidence level of the reported intervals.
pub const LEVEL: f64 = 0.95;

/// Largest discrete Laplace scale the exact sampler accepts (2^48).
pub const MAX_LAPLACE_SCALE: u64 = 1 << 48;

/// The noise of one quantity of a noisy output.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantityNoise {
    /// The quantity (the count, Σv, …).
    pub quantity: Quantity,
    /// What the output file shows of it: `count`, or `Σ table.column` and its products.
    pub label: String,
    /// The mechanism of each party's draw.
    pub mechanism: Mechanism,
    /// Standard deviation of the released noise (the sum of [`DRAWS`] draws).
    pub sd: f64,
    /// Half-width of the central interval that holds the released noise with probability
    /// [`LEVEL`] (exact, from the distribution of the sum of the draws).
    pub half_width: u64,
}

/// The noise of one output with a privacy budget.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputNoise {
    /// The output's name.
    pub output: String,
    /// Its budget.
    pub privacy: Privacy,
    /// The study's neighbour relation.
    pub neighbours: Neighbours,
    /// The noise of each quantity, in the statistic's order (the count first).
    pub quantities: Vec<QuantityNoise>,
}

impl OutputNoise {
    /// The guarantee of this output in words (the same words in the review, the summary and
    /// the docs).
    pub fn guarantee(&self) -> String {
        guarantee(self.privacy, self.neighbours)
    }
}

/// The guarantee of an output with budget `privacy` under `neighbours`, in words.
pub fn guarantee(privacy: Privacy, neighbours: Neighbours) -> String {
    let v = privacy.value();
    let (sym, key) = match privacy {
        Privacy::Epsilon(_) => ("ε", "differential privacy"),
        Privacy::Rho(_) => ("ρ", "zero-concentrated differential privacy"),
    };
    let scaled = |num: u64, den: u64| {
        Ratio::new(v.num().saturating_mul(num), v.den().saturating_mul(den))
            .map_or_else(|_| format!("{num}/{den}·{sym}"), |r| r.to_string())
    };
    match (privacy, neighbours) {
        (Privacy::Epsilon(_), Neighbours::ReplaceOne) => format!(
            "{sym} = {v} {key} under replace-one (one matched person's values changed; table \
             sizes and the matched count unchanged), against each data party, the helper and \
             the public; for adding or removing a person, {sym} = {} against anyone who does \
             not know the matched count",
            scaled(1, 2)
        ),
        (Privacy::Rho(_), Neighbours::ReplaceOne) => format!(
            "{sym} = {v} {key} under replace-one (one matched person's values changed; table \
             sizes and the matched count unchanged), against each data party, the helper and \
             the public; for adding or removing a person, {sym} ≤ {} against anyone who does \
             not know the matched count",
            scaled(1, 2)
        ),
        (Privacy::Epsilon(_), Neighbours::AddRemove) => format!(
            "{sym} = {v} {key} under add/remove of one matched person, only against someone who \
             does not know the matched count (the data parties know it); under replace-one, \
             against each data party, the helper and the public: {sym} = {}",
            scaled(2, 1)
        ),
        (Privacy::Rho(_), Neighbours::AddRemove) => format!(
            "{sym} = {v} {key} under add/remove of one matched person, only against someone who \
             does not know the matched count (the data parties know it); under replace-one, \
             against each data party, the helper and the public: {sym} ≤ {}",
            scaled(4, 1)
        ),
    }
}

/// The mechanism of each party's draw for each quantity of output `o` (in `quantities`
/// order). Refuses, naming the output, the quantity, the computed scale and the limit, a
/// budget whose noise the exact samplers cannot draw.
pub fn mechanisms(
    o: &OutputSpec,
    study: &Study,
    privacy: Privacy,
    quantities: &[Quantity],
) -> Result<Vec<Mechanism>, SpecError> {
    let q = quantities.len() as u128;
    let budget = privacy.value();
    let (p, r) = (u128::from(budget.num()), u128::from(budget.den()));
    quantities
        .iter()
        .map(|quantity| {
            let delta = statistic::sensitivity(quantity, study);
            let is_count = quantity.0.is_empty();
            let too_large = |scale: String, limit: &str| SpecError::Output {
                output: o.name.clone(),
                problem: format!(
                    "the noise for {} at {privacy} ({} neighbours) needs {scale}, above the exact \
                     sampler's limit of {limit}; raise the budget or narrow the declared bounds \
                     of the columns it sums",
                    label(quantity),
                    study.neighbours().as_str()
                ),
            };
            match privacy {
                Privacy::Epsilon(_) => {
                    // scale = L1 · Q / ε = L1 · Q · r / p
                    let l1 = match study.neighbours() {
                        Neighbours::ReplaceOne => delta.saturating_mul(2),
                        Neighbours::AddRemove => delta,
                    };
                    let (num, den) = reduce(l1.saturating_mul(q), r, p);
                    let approx = num as f64 / den as f64;
                    let show = || format!("a discrete Laplace scale of {approx:.6e}");
                    let fits = num <= u128::from(MAX_LAPLACE_SCALE).saturating_mul(den);
                    let (Ok(n), Ok(d), true) = (u64::try_from(num), u64::try_from(den), fits)
                    else {
                        return Err(too_large(show(), "2^48"));
                    };
                    let scale = Ratio::new(n, d).map_err(|_| too_large(show(), "2^48"))?;
                    let m = Mechanism::DiscreteLaplace { scale };
                    dp::check(&m).map_err(|_| too_large(show(), "2^48"))?;
                    Ok(m)
                }
                Privacy::Rho(_) => {
                    // σ² = L2² · Q / (2ρ) = L2² · Q · r / (2p)
                    let l2sq = match (study.neighbours(), is_count) {
                        (Neighbours::ReplaceOne, true) => 2,
                        (Neighbours::ReplaceOne, false) => {
                            delta.saturating_mul(delta).saturating_mul(4)
                        }
                        (Neighbours::AddRemove, _) => delta.saturating_mul(delta),
                    };
                    let (num, den) = reduce(l2sq.saturating_mul(q), r, p.saturating_mul(2));
                    let approx = num as f64 / den as f64;
                    let show = || format!("a discrete Gaussian σ² of {approx:.6e}");
                    let limit = "σ² ≈ 2^62 (exactly: the bounds in samen_core::dp)";
                    let (Ok(n), Ok(d)) = (u64::try_from(num), u64::try_from(den)) else {
                        return Err(too_large(show(), limit));
                    };
                    let sigma2 = Ratio::new(n, d).map_err(|_| too_large(show(), limit))?;
                    let m = Mechanism::DiscreteGaussian { sigma2 };
                    match dp::check(&m) {
                        Ok(()) => Ok(m),
                        Err(DpError::ParameterTooLarge { .. }) | Err(_) => {
                            Err(too_large(show(), limit))
                        }
                    }
                }
            }
        })
        .collect()
}

/// `a · b / c` in lowest terms, where `b` and `c` are coprime: `a` and `c` are reduced first
/// so that the product cannot overflow where the reduced value fits (saturating otherwise).
fn reduce(a: u128, b: u128, c: u128) -> (u128, u128) {
    let g = gcd(a, c).max(1);
    let (a, c) = (a / g, c / g);
    let g2 = gcd(b, c).max(1);
    let (b, c) = (b / g2, c / g2);
    (a.saturating_mul(b), c)
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// What a quantity is in an output file's terms: `count`, `Σ usage.logins`,
/// `Σ usage.logins·usage.logins`, ….
pub fn label(quantity: &Quantity) -> String {
    if quantity.0.is_empty() {
        "count".into()
    } else {
        format!("Σ {}", quantity.describe())
    }
}

/// The noise and accuracy of every output with a privacy budget, in study order, computed
/// from the study alone (before any data is touched).
pub fn report(study: &Study) -> Result<Vec<OutputNoise>, SpecError> {
    let mut out = Vec::new();
    for o in study.outputs() {
        let Some(privacy) = o.privacy else { continue };
        let quantities = statistic::quantities(o, study);
        let ms = mechanisms(o, study, privacy, &quantities)?;
        let quantities = quantities
            .into_iter()
            .zip(ms)
            .map(|(quantity, mechanism)| QuantityNoise {
                label: label(&quantity),
                quantity,
                sd: dp::sum_variance(&mechanism, DRAWS).sqrt(),
                half_width: dp::half_width(&mechanism, DRAWS, LEVEL).unwrap_or(u64::MAX),
                mechanism,
            })
            .collect();
        out.push(OutputNoise {
            output: o.name.clone(),
            privacy,
            neighbours: study.neighbours(),
            quantities,
        });
    }
    Ok(out)
}

/// Σε and Σρ over a study's outputs (basic composition: a run's outputs together are
/// (Σε)-DP and (Σρ)-zCDP under the study's neighbour relation). `None` if a sum does not fit
/// a 64-bit numerator and denominator.
pub fn totals(study: &Study) -> Option<(Option<Ratio>, Option<Ratio>)> {
    let (mut eps, mut rho): (Option<Ratio>, Option<Ratio>) = (None, None);
    for o in study.outputs() {
        match o.privacy {
            Some(Privacy::Epsilon(e)) => eps = Some(add(eps, e)?),
            Some(Privacy::Rho(r)) => rho = Some(add(rho, r)?),
            None => {}
        }
    }
    Some((eps, rho))
}

/// `a + b` exactly (`None` if the result does not fit).
pub fn add(a: Option<Ratio>, b: Ratio) -> Option<Ratio> {
    let Some(a) = a else { return Some(b) };
    let (an, ad) = (u128::from(a.num()), u128::from(a.den()));
    let (bn, bd) = (u128::from(b.num()), u128::from(b.den()));
    let num = an.checked_mul(bd)?.checked_add(bn.checked_mul(ad)?)?;
    let den = ad.checked_mul(bd)?;
    let g = gcd(num, den);
    Ratio::new(u64::try_from(num / g).ok()?, u64::try_from(den / g).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use samen_pseudonym::IdKind;

    use super::*;
    use crate::spec::{Statistic, StudyBuilder};

    fn study(budget: &str, max: i64, neighbours: Neighbours) -> Result<Study, SpecError> {
        StudyBuilder::new("s")
            .neighbours(neighbours)
            .data_party("a", "x:1")
            .data_party("b", "x:2")
            .helper("h", "x:3")
            .table("ta", "a", "id", IdKind::Text)
            .category("ta", "c", &["p", "q"])
            .table("tb", "b", "id", IdKind::Text)
            .integer("tb", "v", 0, max)
            .output("n", Statistic::Count, None, &["ta.c"], 0)
            .epsilon_text(budget)
            .output("m", Statistic::Mean, Some("tb.v"), &["ta.c"], 0)
            .epsilon_text(budget)
            .build()
    }

    #[test]
    fn budgets_are_exact_decimals_and_fractions() {
        for (text, num, den) in [
            ("0.1", 1, 10),
            ("0.3", 3, 10),
            ("1e-1", 1, 10),
            ("3/7", 3, 7),
            ("0.25", 1, 4),
            ("2", 2, 1),
        ] {
            for max in [10_000, 1_000_000_000] {
                let s = study(text, max, Neighbours::ReplaceOne)
                    .unwrap_or_else(|e| panic!("{text}, max {max}: {e}"));
                let o = &s.outputs()[1];
                assert_eq!(
                    o.privacy,
                    Some(Privacy::Epsilon(Ratio::new(num, den).unwrap()))
                );
                let r = report(&s).unwrap();
                // the mean's Σv: scale = 2 · max · 2 / ε = 4 · max · den / num, exactly
                let Mechanism::DiscreteLaplace { scale } = r[1].quantities[1].mechanism else {
                    panic!()
                };
                let want = Ratio::new(4 * max as u64 * den, num).unwrap();
                assert_eq!(scale, want, "{text}");
            }
        }
    }

    #[test]
    fn a_budget_written_as_a_toml_float_is_its_decimal() {
        let s = study("1", 10_000, Neighbours::ReplaceOne).unwrap();
        for (written, num, den) in [("0.1", 1, 10), ("0.3", 3, 10), ("1e-1", 1, 10)] {
            let text = s
                .toml_text()
                .replace("epsilon = \"1\"", &format!("epsilon = {written}"));
            assert!(text.contains(&format!("epsilon = {written}")));
            let s = Study::from_toml_str(&text).unwrap();
            assert_eq!(
                s.outputs()[1].privacy,
                Some(Privacy::Epsilon(Ratio::new(num, den).unwrap()))
            );
        }
    }

    #[test]
    fn a_scale_beyond_the_sampler_is_refused_naming_output_quantity_scale_and_limit() {
        // scale of Σv: 4 · 10^12 / 10^-3 = 4·10^15 > 2^48
        let e = study("0.001", 1_000_000_000_000, Neighbours::ReplaceOne).unwrap_err();
        let msg = e.to_string();
        for part in ["'m'", "Σ tb.v", "4.000000e15", "2^48", "ε = 0.001"] {
            assert!(msg.contains(part), "{part} missing in: {msg}");
        }
    }

    #[test]
    fn replace_one_doubles_the_sensitivity() {
        let ro = report(&study("1", 100, Neighbours::ReplaceOne).unwrap()).unwrap();
        let ar = report(&study("1", 100, Neighbours::AddRemove).unwrap()).unwrap();
        let scale = |r: &[OutputNoise], o: usize, q: usize| match r[o].quantities[q].mechanism {
            Mechanism::DiscreteLaplace { scale } => scale,
            _ => panic!(),
        };
        assert_eq!(scale(&ro, 0, 0), Ratio::new(2, 1).unwrap());
        assert_eq!(scale(&ar, 0, 0), Ratio::new(1, 1).unwrap());
        assert_eq!(scale(&ro, 1, 1), Ratio::new(400, 1).unwrap());
        assert_eq!(scale(&ar, 1, 1), Ratio::new(200, 1).unwrap());
        assert!(ro[0].guarantee().contains("replace-one"));
        assert!(ar[0].guarantee().contains("ε = 2"));
    }

    #[test]
    fn the_accuracy_report_is_the_mechanisms_analytic_accuracy() {
        let r = report(&study("0.5", 100, Neighbours::ReplaceOne).unwrap()).unwrap();
        let count = &r[0].quantities[0];
        // each party draws discrete Laplace of scale 2/0.5 = 4: variance 2r/(1 − r)², r = e^(−1/4)
        let rr = (-0.25f64).exp();
        let one = 2.0 * rr / ((1.0 - rr) * (1.0 - rr));
        assert!((count.sd * count.sd - 2.0 * one).abs() < 1e-9 * one);
        assert_eq!(count.label, "count");
        assert_eq!(r[1].quantities[1].label, "Σ tb.v");
        // the 95 % interval of the sum of two draws, checked against a direct convolution
        let m = count.mechanism;
        let k = 400i64;
        let p: Vec<f64> = (-k..=k).map(|v| dp::pmf(&m, v)).collect();
        let mut conv = vec![0.0; p.len() * 2 - 1];
        for (i, a) in p.iter().enumerate() {
            for (j, b) in p.iter().enumerate() {
                conv[i + j] += a * b;
            }
        }
        let mid = (conv.len() / 2) as i64;
        let inside = |h: i64| {
            ((mid - h)..=(mid + h))
                .map(|i| conv[i as usize])
                .sum::<f64>()
        };
        let h = count.half_width as i64;
        assert!(inside(h) >= LEVEL && inside(h - 1) < LEVEL);
    }

    #[test]
    fn totals_add_exactly() {
        let s = study("0.1", 100, Neighbours::ReplaceOne).unwrap();
        assert_eq!(totals(&s), Some((Some(Ratio::new(1, 5).unwrap()), None)));
    }
}
