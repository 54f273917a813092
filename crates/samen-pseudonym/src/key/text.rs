//! The text forms in a key file: hex, fingerprints, domains and RFC 3339 times.

use super::*;

/// The first 16 hex characters of SHA-256 of `bytes`.
pub(super) fn fingerprint_of(bytes: &[u8; KEY_LEN]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = [0u8; 2 * KEY_LEN];
    crate::pseudonym::hex_encode_into(&digest, &mut hex);
    hex.iter()
        .take(FINGERPRINT_LEN)
        .map(|&b| char::from(b))
        .collect()
}

pub(super) fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// Value of a lowercase hex digit (checked by the caller).
pub(super) fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => 0,
    }
}

/// Domains are 1 to 64 characters out of `A-Z a-z 0-9 . _ -`, so that they can never contain
/// the 0x00 separator of the pseudonym construction and are safe in file names and logs.
pub(super) fn check_domain(domain: &str) -> Result<(), KeyError> {
    if domain.is_empty() {
        return Err(KeyError::Invalid("the domain name is empty"));
    }
    if domain.len() > MAX_DOMAIN_LEN {
        return Err(KeyError::Invalid(
            "the domain name is longer than 64 characters",
        ));
    }
    if !domain
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(KeyError::Invalid(
            "the domain name may contain only letters, digits, '.', '_' and '-'",
        ));
    }
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SSZ` with plausible ranges.
pub(super) fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 20 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(part.iter().fold(0u32, |a, &d| a * 10 + u32::from(d - b'0')))
    };
    let seps = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'Z'),
    ];
    if !seps.iter().all(|&(i, c)| b.get(i) == Some(&c)) {
        return false;
    }
    matches!(
        (
            digits(0..4),
            digits(5..7),
            digits(8..10),
            digits(11..13),
            digits(14..16),
            digits(17..19)
        ),
        (
            Some(_),
            Some(1..=12),
            Some(1..=31),
            Some(0..=23),
            Some(0..=59),
            Some(0..=60)
        )
    )
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ` (UTC), as key files record it.
pub fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339_from_unix(secs)
}

/// Format seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
pub(super) fn rfc3339_from_unix(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}
