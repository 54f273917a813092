//! What the dealer and the computing parties agree on byte for byte: the hello that carries a
//! party's seed, the header of each operation, and the labels under which the parts of an
//! operation are expanded from a seed.

use rayon::prelude::*;
use zeroize::{Zeroize, Zeroizing};

use super::MpcError;
use crate::channel::Channel;
use crate::codec::{CodecError, Decode, Encode, Reader};
use crate::prg::{Prg, Seed};
use crate::Role;

/// Versioned tag that starts the dealer's hello (followed by a role byte and the seed).
pub(crate) const HELLO_TAG: &[u8; 16] = b"samen-dealer-v1:";
/// Length of the hello frame.
pub(crate) const HELLO_LEN: usize = 16 + 1 + 32;
/// Length of an operation header (five little-endian words).
pub(crate) const HEADER_LEN: usize = 5 * 8;

/// The dealer's hello to a computing party: the role it assigns and that party's seed.
///
/// Layout (49 bytes): `"samen-dealer-v1:"` ‖ role (0 First, 1 Second) ‖ seed (32 bytes). The
/// seed is secret: encode it into a zeroizing buffer ([`send_hello`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DealerHello {
    pub(crate) role: Role,
    pub(crate) seed: Seed,
}

impl Encode for DealerHello {
    fn encode(&self, out: &mut Vec<u8>) {
        HELLO_TAG.encode(out);
        // `send_hello` refuses the helper's role before encoding; were it encoded, 0xFF is
        // not a role byte and every receiver rejects it.
        role_code(self.role).unwrap_or(u8::MAX).encode(out);
        self.seed.as_bytes().encode(out);
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(HELLO_LEN)
    }
}

impl Decode for DealerHello {
    const WHAT: &'static str = "dealer hello";
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        if r.take(HELLO_TAG.len())? != HELLO_TAG {
            return Err(r.bad_value("version tag", 0));
        }
        let role = match r.u8()? {
            0 => Role::First,
            1 => Role::Second,
            other => return Err(r.bad_value("role", u64::from(other))),
        };
        let mut bytes: [u8; 32] = r.array()?;
        let seed = Seed::from_bytes(bytes);
        bytes.zeroize();
        Ok(DealerHello { role, seed })
    }
}

/// The kind of a dealer-assisted operation (first word of its header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    /// Beaver multiplication.
    Mul = 1,
    /// Cross-party matrix product.
    Cross = 2,
    /// Secure comparison with a public threshold.
    Cmp = 3,
    /// Conversion of shares from Z_2^64 to residues modulo the field primes.
    Field = 5,
    /// Masked solve of a linear model modulo the field primes.
    Solve = 6,
}

/// The header the dealer sends Second before each operation's corrections; Second checks it
/// against the operation it performs itself.
///
/// Layout (40 bytes): kind ‖ sequence number ‖ n ‖ k ‖ l, each a little-endian `u64` (k and l
/// are 0 for the operations other than the cross-party product).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OpHeader {
    pub(crate) kind: OpKind,
    pub(crate) op: u64,
    pub(crate) n: u64,
    pub(crate) k: u64,
    pub(crate) l: u64,
}

impl OpHeader {
    /// The five words, as [`MpcError::OutOfSync`] reports them.
    pub(crate) fn words(&self) -> [u64; 5] {
        [self.kind as u64, self.op, self.n, self.k, self.l]
    }
}

impl Encode for OpHeader {
    fn encode(&self, out: &mut Vec<u8>) {
        for w in self.words() {
            w.encode(out);
        }
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(HEADER_LEN)
    }
}

impl Decode for OpHeader {
    const WHAT: &'static str = "dealer operation header";
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let kind = match r.u64()? {
            1 => OpKind::Mul,
            2 => OpKind::Cross,
            3 => OpKind::Cmp,
            5 => OpKind::Field,
            6 => OpKind::Solve,
            other => return Err(r.bad_value("operation kind", other)),
        };
        Ok(OpHeader {
            kind,
            op: r.u64()?,
            n: r.u64()?,
            k: r.u64()?,
            l: r.u64()?,
        })
    }
}

/// Values per block when expanding streams in parallel.
pub(crate) const BLOCK: usize = 1 << 14;

/// The label of one part of one operation.
pub(crate) fn label(kind: &str, op: u64, part: &str) -> Vec<u8> {
    format!("samen-mpc-v1/{kind}/{op}/{part}").into_bytes()
}

/// The PRG stream of one part of one operation.
pub(crate) fn stream(seed: &Seed, kind: &str, op: u64, part: &str) -> Prg {
    Prg::new(seed, &label(kind, op, part))
}

/// Fill `out` block by block in parallel: for each position, the streams' values at that
/// position are generated and `f(out_element, values)` combines them.
#[expect(
    clippy::indexing_slicing,
    reason = "every stream buffer is generated with the block's length, and j < that length"
)]
pub(crate) fn combine<const S: usize>(
    prgs: [&Prg; S],
    out: &mut [u64],
    f: impl Fn(&mut u64, [u64; S]) + Sync + Send,
) {
    out.par_chunks_mut(BLOCK).enumerate().for_each(|(i, o)| {
        let bufs: [Vec<u64>; S] = prgs.map(|prg| {
            let mut v = vec![0u64; o.len()];
            prg.fill_u64_at(i * BLOCK, &mut v);
            v
        });
        for (j, out) in o.iter_mut().enumerate() {
            f(out, std::array::from_fn(|s| bufs[s][j]));
        }
    });
}

/// The header of operation number `op` of kind `kind` on `n` values (matrices `n × k` and
/// `n × l` for the cross-party product).
pub(crate) fn header(kind: OpKind, op: u64, n: usize, k: usize, l: usize) -> OpHeader {
    OpHeader {
        kind,
        op,
        n: n as u64,
        k: k as u64,
        l: l as u64,
    }
}

/// The role byte of the hello: 0 for First, 1 for Second; the helper has none.
pub(crate) fn role_code(role: Role) -> Option<u8> {
    match role {
        Role::First => Some(0),
        Role::Second => Some(1),
        Role::Helper => None,
    }
}

/// Send the dealer's hello, encoded into a buffer that is zeroized afterwards.
pub(super) fn send_hello(ch: &mut dyn Channel, role: Role, seed: &Seed) -> Result<(), MpcError> {
    if !role.is_data() {
        return Err(MpcError::NotADataRole(role));
    }
    let hello = DealerHello {
        role,
        seed: seed.clone(),
    };
    let mut bytes = Zeroizing::new(Vec::with_capacity(HELLO_LEN));
    hello.encode(&mut bytes);
    ch.send(&bytes)?;
    ch.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_exact, golden};

    #[test]
    fn golden_dealer_hello() {
        let hello = DealerHello {
            role: Role::Second,
            seed: Seed::from_bytes(std::array::from_fn(|i| i as u8)),
        };
        golden::check(
            &hello,
            "73616d656e2d6465616c65722d76313a\
             01\
             000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        );
        let mut bad = crate::codec::encode_to_vec(&hello);
        if let Some(b) = bad.get_mut(16) {
            *b = 2;
        }
        assert!(matches!(
            decode_exact::<DealerHello>(&bad),
            Err(CodecError::BadValue {
                field: "role",
                value: 2,
                ..
            })
        ));
    }

    #[test]
    fn golden_operation_header() {
        golden::check(
            &header(OpKind::Cross, 7, 0x100, 2, 3),
            "0200000000000000\
             0700000000000000\
             0001000000000000\
             0200000000000000\
             0300000000000000",
        );
        let mut bad = crate::codec::encode_to_vec(&header(OpKind::Mul, 1, 1, 0, 0));
        if let Some(b) = bad.get_mut(0) {
            *b = 7;
        }
        assert!(matches!(
            decode_exact::<OpHeader>(&bad),
            Err(CodecError::BadValue {
                field: "operation kind",
                value: 7,
                ..
            })
        ));
    }
}
