//! Names shared by every layer: party names, which are also certificate names.

/// Whether `name` can name a party: 1 to 63 ASCII letters, digits, `-` or `_`, not starting or
/// ending with `-`, not only digits and not `0x` followed only by hex digits (so that it is
/// also a valid certificate name).
///
/// ```
/// use samen_core::names::is_valid_party_name;
/// assert!(is_valid_party_name("portal-2"));
/// assert!(!is_valid_party_name("a b"));
/// assert!(!is_valid_party_name("1234"));
/// assert!(!is_valid_party_name("ttp-"));
/// assert!(!is_valid_party_name("0X1f"));
/// ```
pub fn is_valid_party_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
        && !bytes.iter().all(u8::is_ascii_digit)
        && !is_hex_number(bytes)
}

/// `0x` or `0X` followed only by hex digits: read as a number, not a name, by DNS-name
/// parsers (rustls refuses such a label as a certificate name).
fn is_hex_number(bytes: &[u8]) -> bool {
    matches!(bytes, [b'0', b'x' | b'X', rest @ ..] if rest.iter().all(u8::is_ascii_hexdigit))
}
