//! Keyed pseudonyms: HMAC-SHA256 with a versioned, domain-separated message.
//!
//! # Construction (a public contract)
//!
//! For a key `K` (32 bytes) of domain `D` and a normalised identifier `id`
//! (see [`crate::normalise`]):
//!
//! ```text
//! pseudonym = lowercase_hex( HMAC-SHA256( K, "samen-pseudonym-v1" || 0x00 || D || 0x00 || id ) )
//! ```
//!
//! 64 hex characters. Domains cannot contain `0x00` (see [`crate::key`]), so the message is
//! unambiguous. Anyone holding the key can reproduce a pseudonym with any HMAC implementation,
//! e.g. Python:
//!
//! ```text
//! python3 -c 'import hmac,hashlib; print(hmac.new(bytes(range(32)), b"samen-pseudonym-v1\x00cbs-2026\x00111222333", hashlib.sha256).hexdigest())'
//! 0f43e3ae51241172e54673faa334af88792134e7038aeafb56d22860f979b9bd
//! ```
//!
//! ```
//! use samen_pseudonym::key::PseudonymKey;
//! use samen_pseudonym::pseudonym::pseudonymise;
//!
//! let key = PseudonymKey::from_parts(
//!     core::array::from_fn(|i| i as u8), "cbs-2026", 1, "2026-11-29T17:00:00Z").unwrap();
//! assert_eq!(
//!     pseudonymise(&key, "111222333"),
//!     "0f43e3ae51241172e54673faa334af88792134e7038aeafb56d22860f979b9bd"
//! );
//! ```
//!
//! # Speed
//!
//! [`Pseudonymiser`] keys the HMAC once and absorbs the constant prefix
//! `"samen-pseudonym-v1" || 0x00 || D || 0x00`; each identifier then costs a clone of that state
//! and, for messages up to 55 bytes after the ipad block, two SHA-256 compressions (one inner,
//! one outer). `sha2` uses the SHA-NI instructions when the CPU has them (detected at run time).

use std::fmt;

use hmac::digest::{Key, KeyInit};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

use crate::key::PseudonymKey;

/// Version tag at the start of every HMAC message.
pub const PSEUDONYM_CONTEXT: &[u8] = b"samen-pseudonym-v1";
/// Length of a pseudonym in hex characters.
pub const PSEUDONYM_HEX_LEN: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// A keyed, prefix-absorbed HMAC state for fast pseudonymisation under one key.
///
/// Cheap to clone and `Sync`: share one across threads. The HMAC state is equivalent to the key
/// (hmac 0.12 does not zeroize it on drop; drop it as soon as the work is done).
#[derive(Clone)]
pub struct Pseudonymiser {
    prefixed: HmacSha256,
    fingerprint: String,
    domain: String,
    version: u32,
}

impl Pseudonymiser {
    /// Key the HMAC with `key` and absorb the constant message prefix.
    pub fn new(key: &PseudonymKey) -> Self {
        // HMAC pads keys shorter than the block (64 bytes) with zeros, so keying with
        // K || 0^32 is HMAC with K itself; this avoids the fallible `new_from_slice`.
        let mut block: Key<HmacSha256> = Key::<HmacSha256>::default();
        for (dst, src) in block.iter_mut().zip(key.secret_bytes()) {
            *dst = *src;
        }
        let mut mac = <HmacSha256 as KeyInit>::new(&block);
        block.as_mut_slice().zeroize();
        mac.update(PSEUDONYM_CONTEXT);
        mac.update(&[0]);
        mac.update(key.domain().as_bytes());
        mac.update(&[0]);
        Pseudonymiser {
            prefixed: mac,
            fingerprint: key.fingerprint(),
            domain: key.domain().to_owned(),
            version: key.version(),
        }
    }

    /// The raw 32-byte HMAC of a normalised identifier.
    #[inline]
    pub fn mac(&self, normalised_id: &[u8]) -> [u8; 32] {
        let mut m = self.prefixed.clone();
        m.update(normalised_id);
        m.finalize().into_bytes().into()
    }

    /// Write the 64 lowercase hex characters of the pseudonym of `normalised_id` into `out`.
    #[inline]
    pub fn hex_into(&self, normalised_id: &[u8], out: &mut [u8; PSEUDONYM_HEX_LEN]) {
        let mac = self.mac(normalised_id);
        hex_encode_into(&mac, out);
    }

    /// The pseudonym of a normalised identifier (64 lowercase hex characters).
    pub fn pseudonymise(&self, normalised_id: &str) -> String {
        let mut out = [0u8; PSEUDONYM_HEX_LEN];
        self.hex_into(normalised_id.as_bytes(), &mut out);
        out.iter().map(|&b| char::from(b)).collect()
    }

    /// Fingerprint of the key (safe to log).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Domain of the key.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Version of the key.
    pub fn version(&self) -> u32 {
        self.version
    }
}

impl fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pseudonymiser")
            .field("domain", &self.domain)
            .field("version", &self.version)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// The pseudonym of `normalised_id` under `key`: lowercase hex of
/// `HMAC-SHA256(key, "samen-pseudonym-v1" || 0x00 || domain || 0x00 || id)`.
///
/// For many identifiers build one [`Pseudonymiser`] instead.
pub fn pseudonymise(key: &PseudonymKey, normalised_id: &str) -> String {
    Pseudonymiser::new(key).pseudonymise(normalised_id)
}

/// Two lowercase hex characters for every byte value.
#[expect(
    clippy::indexing_slicing,
    reason = "compile-time table: i < 256, i >> 4 < 16 and i & 15 < 16"
)]
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [DIGITS[i >> 4], DIGITS[i & 15]];
        i += 1;
    }
    t
};

/// Lowercase hex of `bytes` into `out`, which must be `2 * bytes.len()` long (extra input bytes
/// or output space are ignored).
///
/// ```
/// let mut out = [0u8; 4];
/// samen_pseudonym::pseudonym::hex_encode_into(&[0x0f, 0xa0], &mut out);
/// assert_eq!(&out, b"0fa0");
/// ```
#[inline]
pub fn hex_encode_into(bytes: &[u8], out: &mut [u8]) {
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        // Every u8 indexes the 256-entry table, so `get` always succeeds (and compiles to a load).
        if let Some(hex) = HEX_PAIRS.get(usize::from(b)) {
            pair.copy_from_slice(hex);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hmac_hex(key: &[u8], msg: &[u8]) -> String {
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap();
        m.update(msg);
        hex::encode(m.finalize().into_bytes())
    }

    /// RFC 4231, test cases 1–7 (HMAC-SHA-256 column).
    #[test]
    fn rfc4231_vectors() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 7] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                (1..=25).collect(),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0x0c; 20],
                b"Test With Truncation".to_vec(),
                // RFC 4231 gives the first 128 bits: a3b6167473100ee06e0c796c2955552b.
                "a3b6167473100ee06e0c796c2955552bfa6f7c0a6a8aef8b93f860aab0cd20c5",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, msg, want) in cases {
            assert_eq!(hmac_hex(&key, &msg), want);
        }
    }

    fn key(bytes: [u8; 32], domain: &str) -> PseudonymKey {
        PseudonymKey::from_parts(bytes, domain, 1, "2026-11-29T17:00:00Z").unwrap()
    }

    /// Known answers for the full construction, computed independently with Python:
    ///
    /// ```text
    /// python3 -c 'import hmac,hashlib; print(hmac.new(KEY, b"samen-pseudonym-v1\x00" + DOMAIN + b"\x00" + ID, hashlib.sha256).hexdigest())'
    /// ```
    /// with `KEY = bytes(range(32))` (or `bytes.fromhex("ff"*32)`), `DOMAIN` and `ID` as below
    /// (UTF-8 encoded).
    #[test]
    fn full_construction_matches_python() {
        let k0: [u8; 32] = core::array::from_fn(|i| i as u8);
        let cases = [
            (
                k0,
                "cbs-2026",
                "111222333",
                "0f43e3ae51241172e54673faa334af88792134e7038aeafb56d22860f979b9bd",
            ),
            (
                k0,
                "cbs-2026",
                "012345672",
                "41e9f503696ed246e2db208ad7780ef8c681944243e2fdafb918e25ad51587d4",
            ),
            (
                k0,
                "portal-2026",
                "111222333",
                "00b3321177a7e5c41d1d390beabe0fbd0890954c9524c418cc2b4648a641963d",
            ),
            (
                k0,
                "cbs-2026",
                "user-42",
                "281c5442598df811e4a1896434dc5aa4aee64a8223f521a27c9bb289dd4f9279",
            ),
            (
                k0,
                "x",
                "é-ü",
                "c8335231dc4c8a87cfe125bc218ddef3f8492b94477f686f443a5a9b82dc6645",
            ),
            (
                [0xff; 32],
                "cbs-2026",
                "123456782",
                "1fb3275cf07ba3eeeb11fe2848d8ebe1f108d81d8d44f051c09cdf348972c44c",
            ),
        ];
        for (kb, domain, id, want) in cases {
            let k = key(kb, domain);
            assert_eq!(pseudonymise(&k, id), want, "{domain} {id}");
            let p = Pseudonymiser::new(&k);
            let mut hex = [0u8; 64];
            p.hex_into(id.as_bytes(), &mut hex);
            assert_eq!(&hex[..], want.as_bytes());
            // And the slow path through the plain hmac API.
            let msg = [
                b"samen-pseudonym-v1\0",
                domain.as_bytes(),
                b"\0",
                id.as_bytes(),
            ]
            .concat();
            assert_eq!(hmac_hex(&kb, &msg), want);
        }
    }

    #[test]
    fn hex_table() {
        let bytes: Vec<u8> = (0..=255).collect();
        let mut out = vec![0u8; 512];
        hex_encode_into(&bytes, &mut out);
        assert_eq!(out, hex::encode(&bytes).into_bytes());
    }

    #[test]
    fn debug_is_redacted() {
        let k = key([7; 32], "d");
        let d = format!("{:?}", Pseudonymiser::new(&k));
        assert!(d.contains(&k.fingerprint()) && !d.contains("0707"), "{d}");
    }

    proptest! {
        #[test]
        fn pseudonyms_differ_across_domains(
            kb in any::<[u8; 32]>(),
            d1 in "[a-z0-9-]{1,12}",
            d2 in "[a-z0-9-]{1,12}",
            id in "[0-9]{9}",
        ) {
            prop_assume!(d1 != d2);
            prop_assert_ne!(pseudonymise(&key(kb, &d1), &id), pseudonymise(&key(kb, &d2), &id));
        }

        #[test]
        fn pseudonyms_differ_across_keys_and_ids(
            k1 in any::<[u8; 32]>(), k2 in any::<[u8; 32]>(),
            id1 in "[0-9]{9}", id2 in "[0-9]{9}",
        ) {
            prop_assume!(k1 != k2 && id1 != id2);
            let a = pseudonymise(&key(k1, "d"), &id1);
            prop_assert_ne!(&a, &pseudonymise(&key(k2, "d"), &id1));
            prop_assert_ne!(&a, &pseudonymise(&key(k1, "d"), &id2));
            prop_assert_eq!(a.len(), 64);
            prop_assert!(a.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        }

        #[test]
        fn fast_path_equals_plain_hmac(kb in any::<[u8; 32]>(), id in "\\PC{0,80}") {
            let msg = [b"samen-pseudonym-v1\0".as_slice(), b"dom\0", id.as_bytes()].concat();
            prop_assert_eq!(pseudonymise(&key(kb, "dom"), &id), hmac_hex(&kb, &msg));
        }
    }
}
