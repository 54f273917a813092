//! Exact positive rationals, the parameters of the noise distributions.

use super::DpError;

/// An exact positive rational `num/den` (`u64` numerator and denominator, in lowest terms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ratio {
    pub(super) num: u64,
    pub(super) den: u64,
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Ratio {
    /// The ratio `num/den`, reduced to lowest terms; both must be positive.
    pub fn new(num: u64, den: u64) -> Result<Ratio, DpError> {
        if num == 0 || den == 0 {
            return Err(DpError::NotPositive { num, den });
        }
        let g = gcd(num.into(), den.into()) as u64;
        Ok(Ratio {
            num: num / g,
            den: den / g,
        })
    }

    /// The numerator (in lowest terms).
    pub fn num(&self) -> u64 {
        self.num
    }

    /// The denominator (in lowest terms).
    pub fn den(&self) -> u64 {
        self.den
    }

    /// Parse a positive decimal number (`2`, `2.5`, `0.001`, `1e-3`, `1.5E2`) exactly, or a
    /// fraction of two integers (`7/3`). The value in lowest terms must have a numerator and a
    /// denominator below 2^64.
    pub fn from_decimal_str(s: &str) -> Result<Ratio, DpError> {
        let bad = |reason| DpError::BadDecimal {
            input: s.to_string(),
            reason,
        };
        let t = s.trim();
        if let Some((a, b)) = t.split_once('/') {
            let a = parse_digits(a.trim()).ok_or_else(|| bad("a fraction needs two integers"))?;
            let b = parse_digits(b.trim()).ok_or_else(|| bad("a fraction needs two integers"))?;
            return reduce_u128(a, b)
                .ok_or_else(|| bad("the value must be positive and fit 64 bits"));
        }
        let t = t.strip_prefix('+').unwrap_or(t);
        let (mantissa, exp) = match t.find(['e', 'E']) {
            Some(i) => {
                let e = t.get(i + 1..).unwrap_or("");
                let exp: i64 = e.parse().map_err(|_| bad("malformed exponent"))?;
                (t.get(..i).unwrap_or(""), exp)
            }
            None => (t, 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad("no digits"));
        }
        if !int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|c| c.is_ascii_digit())
        {
            return Err(bad("only digits, one '.', and an exponent are allowed"));
        }
        // digits without leading and trailing zeros, and the power of ten they are scaled by
        let digits: String = format!("{int_part}{frac_part}");
        let trimmed = digits.trim_start_matches('0');
        let sig = trimmed.trim_end_matches('0');
        if sig.is_empty() {
            return Err(bad("the value must be positive"));
        }
        let trailing = (trimmed.len() - sig.len()) as i64;
        let exp10 = exp
            .checked_sub(frac_part.len() as i64)
            .and_then(|e| e.checked_add(trailing))
            .ok_or_else(|| bad("exponent out of range"))?;
        let too_big =
            || bad("the value in lowest terms must fit a 64-bit numerator and denominator");
        let mut num = parse_digits(sig).ok_or_else(too_big)?;
        let mut den = 1u128;
        let pow = pow10(exp10.unsigned_abs()).ok_or_else(too_big)?;
        if exp10 >= 0 {
            num = num.checked_mul(pow).ok_or_else(too_big)?;
        } else {
            den = pow;
        }
        reduce_u128(num, den).ok_or_else(too_big)
    }

    /// The exact value of a finite positive `f64` when its numerator and denominator fit 64
    /// bits (every `f64` between 2^−63 and 2^64 with a short enough mantissa, e.g. `0.1` is
    /// 3602879701896397/2^55); otherwise the decimal of its shortest representation (`1e-30`
    /// becomes 1/10^30, which is refused as too large a denominator).
    pub fn from_f64(x: f64) -> Result<Ratio, DpError> {
        if !x.is_finite() || x <= 0.0 {
            return Err(DpError::BadFloat { value: x });
        }
        let bits = x.to_bits();
        let exp_bits = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1u64 << 52) - 1);
        let (mut m, mut e) = if exp_bits == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), exp_bits - 1075)
        };
        let tz = m.trailing_zeros();
        m >>= tz;
        e += i64::from(tz);
        if (0..64).contains(&e) && m.leading_zeros() as i64 >= e {
            return Ratio::new(m << e, 1);
        }
        if (-63..0).contains(&e) {
            return Ratio::new(m, 1u64 << (-e));
        }
        Ratio::from_decimal_str(&format!("{x:e}"))
    }

    /// `(digits, places)` with `num/den = digits / 10^places`, if the value has a finite
    /// decimal expansion whose digits fit 128 bits.
    fn decimal_digits(&self) -> Option<(u128, usize)> {
        let (mut d, mut twos, mut fives) = (self.den, 0usize, 0usize);
        while d % 2 == 0 {
            d /= 2;
            twos += 1;
        }
        while d % 5 == 0 {
            d /= 5;
            fives += 1;
        }
        if d != 1 {
            return None;
        }
        let places = twos.max(fives);
        let scale = pow10(places as u64)?.checked_div(u128::from(self.den))?;
        Some((u128::from(self.num).checked_mul(scale)?, places))
    }

    /// The value as the nearest `f64` (for tests and documentation only).
    pub fn to_f64(&self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

impl std::fmt::Display for Ratio {
    /// The exact decimal when the denominator has no prime factors but 2 and 5 (`1/10` is
    /// `0.1`, `5/2` is `2.5`), else the fraction `num/den`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.den == 1 {
            return write!(f, "{}", self.num);
        }
        match self.decimal_digits() {
            Some((digits, places)) => {
                let s = format!("{digits:0>width$}", width = places + 1);
                let (int, frac) = s.split_at(s.len() - places);
                write!(f, "{int}.{frac}")
            }
            None => write!(f, "{}/{}", self.num, self.den),
        }
    }
}

impl std::str::FromStr for Ratio {
    type Err = DpError;
    fn from_str(s: &str) -> Result<Ratio, DpError> {
        Ratio::from_decimal_str(s)
    }
}

/// Decimal digits only, as a `u128`.
fn parse_digits(s: &str) -> Option<u128> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.bytes().try_fold(0u128, |acc, c| {
        acc.checked_mul(10)?.checked_add(u128::from(c - b'0'))
    })
}

fn pow10(e: u64) -> Option<u128> {
    10u128.checked_pow(u32::try_from(e).ok()?)
}

fn reduce_u128(num: u128, den: u128) -> Option<Ratio> {
    if num == 0 || den == 0 {
        return None;
    }
    let g = gcd(num, den);
    Some(Ratio {
        num: u64::try_from(num / g).ok()?,
        den: u64::try_from(den / g).ok()?,
    })
}
