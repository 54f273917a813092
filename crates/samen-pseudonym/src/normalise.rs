//! Identifier normalisation and validation.
//!
//! Before an identifier is pseudonymised or joined it is brought into one canonical form, so that
//! `" 12345672"` typed into a spreadsheet and `"012345672"` from a register give the same
//! pseudonym. Two kinds exist:
//!
//! * [`IdKind::Bsn`] — the Dutch citizen service number (burgerservicenummer):
//!   1. leading and trailing ASCII whitespace is removed;
//!   2. the rest must be ASCII digits only;
//!   3. 8 digits are left-padded with one `0` (spreadsheets drop the leading zero);
//!   4. exactly 9 digits must remain;
//!   5. the number must not be all zeros;
//!   6. it must pass the 11-test:
//!      `9·d1 + 8·d2 + 7·d3 + 6·d4 + 5·d5 + 4·d6 + 3·d7 + 2·d8 − 1·d9 ≡ 0 (mod 11)`.
//! * [`IdKind::Text`] — any other identifier: leading and trailing ASCII whitespace is removed and
//!   the rest must be non-empty (and valid UTF-8 when given as bytes).
//!
//! A rejection carries a reason ([`InvalidId`]) whose message never contains the identifier, so it
//! can be logged and shown safely.
//!
//! ```
//! use samen_pseudonym::normalise::{normalise, IdKind, InvalidId};
//!
//! assert_eq!(normalise(IdKind::Bsn, " 111222333 ").unwrap(), "111222333");
//! assert_eq!(normalise(IdKind::Bsn, "12345672").unwrap(), "012345672");
//! assert_eq!(normalise(IdKind::Bsn, "123456789"), Err(InvalidId::Fails11Test));
//! assert_eq!(normalise(IdKind::Text, "  user-42\t").unwrap(), "user-42");
//! ```

use std::fmt;
use std::str::FromStr;

/// The kind of an identifier column, which decides how values are normalised.
///
/// Written `bsn` or `text` on the command line and in study files (`kind = "bsn"`; serde
/// reads and writes the same lowercase names).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum IdKind {
    /// Dutch citizen service number (9 digits, 11-test). Written `bsn`.
    #[default]
    Bsn,
    /// Free text identifier, only trimmed. Written `text`.
    Text,
}

impl IdKind {
    /// The name used in study files and on the command line: `"bsn"` or `"text"`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::Bsn => "bsn",
            IdKind::Text => "text",
        }
    }
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown identifier kind was given (the accepted names are `bsn` and `text`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown identifier kind {given:?}: expected \"bsn\" or \"text\"")]
pub struct UnknownIdKind {
    /// What was given.
    pub given: String,
}

impl FromStr for IdKind {
    type Err = UnknownIdKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "bsn" => Ok(IdKind::Bsn),
            "text" => Ok(IdKind::Text),
            other => Err(UnknownIdKind {
                given: other.to_owned(),
            }),
        }
    }
}

/// Why an identifier was rejected. The message never contains the identifier itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidId {
    /// Nothing left after removing surrounding whitespace.
    #[error("identifier is empty")]
    Empty,
    /// A BSN contains a character other than the digits 0–9.
    #[error("BSN contains a character that is not a digit")]
    NonDigit,
    /// A BSN does not have 9 digits (or 8, which are padded with a leading zero).
    #[error("BSN does not have 9 digits (or 8 with a dropped leading zero)")]
    WrongLength,
    /// A BSN fails the 11-test (a typing error or not a BSN).
    #[error("BSN fails the 11-test")]
    Fails11Test,
    /// A BSN consisting of zeros only.
    #[error("BSN is all zeros")]
    AllZeros,
    /// A text identifier given as bytes is not valid UTF-8.
    #[error("identifier is not valid UTF-8")]
    NotUtf8,
}

impl InvalidId {
    /// A short stable machine-readable code for the reason (used in rejects files):
    /// `empty`, `non-digit`, `wrong-length`, `fails-11-test`, `all-zeros`, `not-utf8`.
    pub fn code(self) -> &'static str {
        match self {
            InvalidId::Empty => "empty",
            InvalidId::NonDigit => "non-digit",
            InvalidId::WrongLength => "wrong-length",
            InvalidId::Fails11Test => "fails-11-test",
            InvalidId::AllZeros => "all-zeros",
            InvalidId::NotUtf8 => "not-utf8",
        }
    }
}

/// A normalised identifier that borrows from its input where possible (no allocation).
///
/// Returned by [`normalise_bytes`], the allocation-free variant used by the bulk paths.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Normalised<'a> {
    /// A valid BSN: exactly 9 ASCII digits.
    Bsn([u8; 9]),
    /// A trimmed, non-empty, UTF-8 text identifier.
    Text(&'a [u8]),
}

impl Normalised<'_> {
    /// The canonical bytes of the identifier (what is hashed).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Normalised::Bsn(d) => d,
            Normalised::Text(t) => t,
        }
    }
}

impl fmt::Debug for Normalised<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Identifiers are personal data: never print them.
        match self {
            Normalised::Bsn(_) => f.write_str("Normalised::Bsn(<redacted>)"),
            Normalised::Text(_) => f.write_str("Normalised::Text(<redacted>)"),
        }
    }
}

/// Normalise and validate `raw` as an identifier of the given kind.
///
/// Returns the canonical form (see the [module documentation](self) for the exact rules).
///
/// ```
/// use samen_pseudonym::normalise::{normalise, IdKind, InvalidId};
/// assert_eq!(normalise(IdKind::Bsn, "000000000"), Err(InvalidId::AllZeros));
/// assert_eq!(normalise(IdKind::Bsn, "12 345 672"), Err(InvalidId::NonDigit));
/// assert_eq!(normalise(IdKind::Bsn, "1234567"), Err(InvalidId::WrongLength));
/// assert_eq!(normalise(IdKind::Text, " \t"), Err(InvalidId::Empty));
/// ```
pub fn normalise(kind: IdKind, raw: &str) -> Result<String, InvalidId> {
    match normalise_bytes(kind, raw.as_bytes())? {
        Normalised::Bsn(d) => Ok(d.iter().map(|&b| char::from(b)).collect()),
        // The trimmed slice of a &str at ASCII boundaries is valid UTF-8.
        Normalised::Text(t) => Ok(String::from_utf8_lossy(t).into_owned()),
    }
}

/// Allocation-free [`normalise`] on bytes (e.g. a CSV field). Text identifiers must be UTF-8.
///
/// ```
/// use samen_pseudonym::normalise::{normalise_bytes, IdKind};
/// let n = normalise_bytes(IdKind::Bsn, b"12345672\r").unwrap();
/// assert_eq!(n.as_bytes(), b"012345672");
/// ```
pub fn normalise_bytes(kind: IdKind, raw: &[u8]) -> Result<Normalised<'_>, InvalidId> {
    let t = raw.trim_ascii();
    if t.is_empty() {
        return Err(InvalidId::Empty);
    }
    match kind {
        IdKind::Text => {
            if std::str::from_utf8(t).is_err() {
                return Err(InvalidId::NotUtf8);
            }
            Ok(Normalised::Text(t))
        }
        IdKind::Bsn => {
            if !t.iter().all(u8::is_ascii_digit) {
                return Err(InvalidId::NonDigit);
            }
            let mut d = [b'0'; 9];
            match t.len() {
                9 => d.copy_from_slice(t),
                8 => d[1..].copy_from_slice(t),
                _ => return Err(InvalidId::WrongLength),
            }
            if d.iter().all(|&b| b == b'0') {
                return Err(InvalidId::AllZeros);
            }
            if !passes_11_test(&d) {
                return Err(InvalidId::Fails11Test);
            }
            Ok(Normalised::Bsn(d))
        }
    }
}

/// The 11-test check digit of the first eight digits of a BSN (ASCII): the `d9` with
/// `9·d1 + 8·d2 + … + 2·d8 − d9 ≡ 0 (mod 11)`, that is `(9·d1 + … + 2·d8) mod 11`, or `None`
/// when that is 10 (no valid BSN starts with these digits) or a byte is not a digit. The one
/// implementation of the 11-test in samen: [`normalise`] and every generator of BSNs use it.
///
/// ```
/// use samen_pseudonym::normalise::bsn_check_digit;
/// assert_eq!(bsn_check_digit(b"11122233"), Some(b'3')); // 111222333
/// assert_eq!(bsn_check_digit(b"1234567x"), None);
/// ```
pub fn bsn_check_digit(prefix: &[u8; 8]) -> Option<u8> {
    if !prefix.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let s: u32 = prefix
        .iter()
        .zip((2..=9u32).rev())
        .map(|(&c, w)| w * u32::from(c - b'0'))
        .sum();
    // s % 11 < 11, so the cast cannot truncate.
    let d = (s % 11) as u8;
    (d < 10).then_some(b'0' + d)
}

/// The 11-test on 9 ASCII digits: `9·d1 + … + 2·d8 − d9 ≡ 0 (mod 11)`.
fn passes_11_test(d: &[u8; 9]) -> bool {
    let (prefix, last) = d.split_at(8);
    prefix
        .try_into()
        .ok()
        .and_then(bsn_check_digit)
        .is_some_and(|c| last == [c])
}

/// The number of distinct valid BSNs that [`bsn_from_index`] can produce
/// (indices `0..BSN_INDEX_COUNT`).
pub const BSN_INDEX_COUNT: u64 = 9 * 10_000_000 - 1;

/// Multiplier of the permutation of 7-digit prefixes in [`bsn_from_index`] (coprime to 10^7).
const PREFIX_MUL: u64 = 3_141_593;
/// Offset of the permutation of 7-digit prefixes in [`bsn_from_index`].
const PREFIX_ADD: u64 = 2_718_281;

/// A valid BSN for every index in `0..BSN_INDEX_COUNT`, distinct for distinct indices; `None`
/// beyond. Meant for synthetic data and tests: index `i` of a synthetic population gets
/// `bsn_from_index(i)`, so two synthetic tables share a person exactly when they share an index.
///
/// Construction (deterministic, stable across versions): write `r = i` (except that the single
/// index that would give `000000000` is replaced by the last index `9·10^7 − 1`), take the
/// 7-digit prefix number `q = r / 9` and `j = r mod 9`; permute `q` to
/// `q' = (3141593·q + 2718281) mod 10^7` so that consecutive indices do not give consecutive
/// numbers; `d1..d7` are the digits of `q'`. Of the ten choices of `d8`, at least nine give a
/// check sum `s = 9·d1 + … + 2·d8` with `s mod 11 ≠ 10`; `d8` is the `j`-th of those (in
/// increasing order) and `d9 = s mod 11`. Every result passes [`normalise`] unchanged.
///
/// ```
/// use samen_pseudonym::normalise::{bsn_from_index, normalise, IdKind};
/// let b = bsn_from_index(0).unwrap();
/// assert_eq!(normalise(IdKind::Bsn, &b).unwrap(), b);
/// assert_ne!(bsn_from_index(1), Some(b));
/// ```
pub fn bsn_from_index(i: u64) -> Option<String> {
    bsn_digits_from_index(i).map(|d| d.iter().map(|&b| char::from(b)).collect())
}

/// [`bsn_from_index`] as 9 ASCII digits, without allocating.
pub fn bsn_digits_from_index(i: u64) -> Option<[u8; 9]> {
    const PREFIXES: u64 = 10_000_000;
    const RAW_COUNT: u64 = 9 * PREFIXES;
    if i >= BSN_INDEX_COUNT {
        return None;
    }
    // Raw index whose prefix permutes to 0 with j = 0: it gives 000000000 (s = 0, d9 = 0).
    // q' = 0  <=>  q = -PREFIX_ADD * PREFIX_MUL^-1 mod 10^7; computed at run time below.
    let r = if i == zero_raw_index() {
        RAW_COUNT - 1
    } else {
        i
    };
    let q = r / 9;
    let j = r % 9;
    let qp = (q * PREFIX_MUL + PREFIX_ADD) % PREFIXES;
    let mut d = [b'0'; 9];
    let mut v = qp;
    for dk in d.iter_mut().take(7).rev() {
        // v % 10 < 10, so the cast cannot truncate.
        *dk = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let mut seen = 0u64;
    for d8 in b'0'..=b'9' {
        d[7] = d8;
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&d[..8]);
        let Some(check) = bsn_check_digit(&prefix) else {
            continue;
        };
        if seen == j {
            d[8] = check;
            return Some(d);
        }
        seen += 1;
    }
    // Unreachable: at least nine choices of d8 are valid for every prefix.
    None
}

/// The raw index that [`bsn_digits_from_index`] would map to `000000000`.
fn zero_raw_index() -> u64 {
    const PREFIXES: u64 = 10_000_000;
    // Find q with (q * MUL + ADD) % 10^7 == 0 via the modular inverse of MUL.
    let inv = mod_inverse(PREFIX_MUL, PREFIXES);
    let q = ((PREFIXES - PREFIX_ADD) % PREFIXES) * inv % PREFIXES;
    q * 9
}

/// Modular inverse of `a` modulo `m` (extended Euclid); `a` and `m` are coprime.
fn mod_inverse(a: u64, m: u64) -> u64 {
    let (mut old_r, mut r) = (i128::from(a), i128::from(m));
    let (mut old_s, mut s) = (1i128, 0i128);
    while r != 0 {
        let q = old_r / r;
        (old_r, r) = (r, old_r - q * r);
        (old_s, s) = (s, old_s - q * s);
    }
    // old_s.rem_euclid(m) is in 0..m, which fits in u64.
    u64::try_from(old_s.rem_euclid(i128::from(m))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn serde_writes_the_names_of_study_files() {
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        struct Id {
            kind: IdKind,
        }
        for kind in [IdKind::Bsn, IdKind::Text] {
            let text = toml::to_string(&Id { kind }).unwrap();
            assert_eq!(text.trim(), format!("kind = \"{kind}\""));
            assert_eq!(toml::from_str::<Id>(&text).unwrap(), Id { kind });
        }
        let e = toml::from_str::<Id>("kind = \"BSN\"").unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown variant `BSN`, expected `bsn` or `text`"),
            "{e}"
        );
    }

    #[test]
    fn eleven_test_valid() {
        // 9*1+8*1+7*1+6*2+5*2+4*2+3*3+2*3 = 9+8+7+12+10+8+9+6 = 69; 69 mod 11 = 3
        assert_eq!(normalise(IdKind::Bsn, "111222333").unwrap(), "111222333");
        // 9*1+8*2+7*3+6*4+5*5+4*6+3*7+2*8 = 156; 156 mod 11 = 2
        assert_eq!(normalise(IdKind::Bsn, "123456782").unwrap(), "123456782");
        assert_eq!(
            normalise(IdKind::Bsn, "\t123456782 \n").unwrap(),
            "123456782"
        );
    }

    #[test]
    fn eight_digits_are_padded() {
        // 0,1,2,3,4,5,6,7,d9: 8*1+7*2+6*3+5*4+4*5+3*6+2*7 = 112; 112 mod 11 = 2
        assert_eq!(normalise(IdKind::Bsn, "12345672").unwrap(), "012345672");
        assert_eq!(normalise(IdKind::Bsn, " 12345672 ").unwrap(), "012345672");
        // Padding then the 11-test: 12345678 -> 012345678 fails.
        assert_eq!(
            normalise(IdKind::Bsn, "12345678"),
            Err(InvalidId::Fails11Test)
        );
    }

    #[test]
    fn each_rejection_reason() {
        assert_eq!(normalise(IdKind::Bsn, ""), Err(InvalidId::Empty));
        assert_eq!(normalise(IdKind::Bsn, "  \t "), Err(InvalidId::Empty));
        assert_eq!(
            normalise(IdKind::Bsn, "12345678a"),
            Err(InvalidId::NonDigit)
        );
        assert_eq!(
            normalise(IdKind::Bsn, "-12345672"),
            Err(InvalidId::NonDigit)
        );
        assert_eq!(
            normalise(IdKind::Bsn, "123 456 782"),
            Err(InvalidId::NonDigit)
        );
        // Non-ASCII digits (Arabic-Indic) are not digits.
        assert_eq!(
            normalise(IdKind::Bsn, "١٢٣٤٥٦٧٨٢"),
            Err(InvalidId::NonDigit)
        );
        assert_eq!(
            normalise(IdKind::Bsn, "1234567"),
            Err(InvalidId::WrongLength)
        );
        assert_eq!(
            normalise(IdKind::Bsn, "1234567820"),
            Err(InvalidId::WrongLength)
        );
        assert_eq!(
            normalise(IdKind::Bsn, "123456789"),
            Err(InvalidId::Fails11Test)
        );
        assert_eq!(
            normalise(IdKind::Bsn, "111222334"),
            Err(InvalidId::Fails11Test)
        );
        assert_eq!(
            normalise(IdKind::Bsn, "000000000"),
            Err(InvalidId::AllZeros)
        );
        assert_eq!(normalise(IdKind::Bsn, "00000000"), Err(InvalidId::AllZeros));
        assert_eq!(normalise(IdKind::Text, ""), Err(InvalidId::Empty));
        assert_eq!(
            normalise_bytes(IdKind::Text, b"\xff\xfe"),
            Err(InvalidId::NotUtf8)
        );
    }

    #[test]
    fn check_digit_ten_is_impossible() {
        // 10000001 -> s = 9 + 2 = 11 -> check digit 0.
        assert!(normalise(IdKind::Bsn, "100000010").is_ok());
        // 00000005 -> s = 2 * 5 = 10: no check digit d9 in 0..=9 works.
        for d9 in 0..10 {
            let s = format!("00000005{d9}");
            assert!(normalise(IdKind::Bsn, &s).is_err(), "{s}");
        }
    }

    #[test]
    fn messages_never_contain_the_value() {
        for raw in ["12345678a", "1234567", "123456789", "000000000", ""] {
            let e = normalise(IdKind::Bsn, raw).unwrap_err();
            let msg = e.to_string();
            if !raw.is_empty() {
                assert!(!msg.contains(raw), "{msg}");
            }
        }
    }

    #[test]
    fn kinds_parse_and_display() {
        assert_eq!("bsn".parse::<IdKind>().unwrap(), IdKind::Bsn);
        assert_eq!("text".parse::<IdKind>().unwrap(), IdKind::Text);
        assert!("BSN2".parse::<IdKind>().is_err());
        assert_eq!(IdKind::Bsn.to_string(), "bsn");
        assert_eq!(IdKind::Text.to_string(), "text");
    }

    #[test]
    fn debug_is_redacted() {
        let n = normalise_bytes(IdKind::Bsn, b"111222333").unwrap();
        assert!(!format!("{n:?}").contains("111222333"));
    }

    #[test]
    fn bsn_index_edges() {
        let zero = zero_raw_index();
        let b = bsn_digits_from_index(zero).unwrap();
        assert_ne!(&b, b"000000000");
        assert!(normalise_bytes(IdKind::Bsn, &b).is_ok());
        assert!(bsn_digits_from_index(BSN_INDEX_COUNT - 1).is_some());
        assert!(bsn_digits_from_index(BSN_INDEX_COUNT).is_none());
        // The replacement index is not produced by any other index.
        let last_raw = bsn_digits_from_index(BSN_INDEX_COUNT - 1).unwrap();
        assert_ne!(b, last_raw);
    }

    #[test]
    fn bsn_index_first_million_distinct_and_valid() {
        let mut seen = std::collections::HashSet::with_capacity(200_000);
        for i in 0..200_000u64 {
            let d = bsn_digits_from_index(i).unwrap();
            assert!(normalise_bytes(IdKind::Bsn, &d).is_ok(), "index {i}");
            assert!(seen.insert(d), "duplicate at index {i}");
        }
    }

    #[test]
    fn bsn_index_all_prefixes_of_one_block_are_used() {
        // The 9 indices of one prefix give 9 distinct BSNs with the same 7-digit prefix.
        let v: Vec<_> = (9..18).map(|i| bsn_digits_from_index(i).unwrap()).collect();
        assert!(v.iter().all(|d| d[..7] == v[0][..7]));
        let set: std::collections::HashSet<_> = v.iter().collect();
        assert_eq!(set.len(), 9);
    }

    proptest! {
        #[test]
        fn normalisation_is_idempotent(raw in "[ \t]{0,2}[0-9]{7,10}[ \t\r\n]{0,2}") {
            if let Ok(n) = normalise(IdKind::Bsn, &raw) {
                prop_assert_eq!(normalise(IdKind::Bsn, &n).unwrap(), n.clone());
                prop_assert_eq!(n.len(), 9);
            }
        }

        #[test]
        fn text_normalisation_is_idempotent(raw in "\\PC{0,20}") {
            if let Ok(n) = normalise(IdKind::Text, &raw) {
                prop_assert_eq!(normalise(IdKind::Text, &n).unwrap(), n);
            }
        }

        #[test]
        fn generated_bsns_are_valid(i in 0..BSN_INDEX_COUNT) {
            let b = bsn_from_index(i).unwrap();
            prop_assert_eq!(normalise(IdKind::Bsn, &b).unwrap(), b);
        }

        #[test]
        fn generated_bsns_are_injective(i in 0..BSN_INDEX_COUNT, j in 0..BSN_INDEX_COUNT) {
            prop_assume!(i != j);
            prop_assert_ne!(bsn_from_index(i), bsn_from_index(j));
        }

        #[test]
        fn any_single_digit_error_is_caught(i in 0..BSN_INDEX_COUNT, pos in 0usize..9, delta in 1u8..10) {
            // The 11-test detects every single-digit typing error.
            let mut d = bsn_digits_from_index(i).unwrap();
            d[pos] = b'0' + (d[pos] - b'0' + delta) % 10;
            prop_assert!(normalise_bytes(IdKind::Bsn, &d).is_err());
        }
    }
}
