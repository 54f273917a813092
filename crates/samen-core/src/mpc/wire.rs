//! What the dealer and the computing parties agree on byte for byte: the hello that carries a
//! party's seed, the header of each operation, and the labels under which the parts of an
//! operation are expanded from a seed.

use rayon::prelude::*;
use zeroize::Zeroize;

use super::{MpcError, Role};
use crate::channel::Channel;
use crate::prg::{Prg, Seed};

/// Versioned tag that starts the dealer's hello (followed by a role byte and the seed).
pub(crate) const HELLO_TAG: &[u8; 16] = b"samen-dealer-v1:";
/// Length of the hello frame.
pub(crate) const HELLO_LEN: usize = 16 + 1 + 32;

/// Operation kinds (first word of the per-operation header to Second).
pub(crate) const KIND_MUL: u64 = 1;
pub(crate) const KIND_CROSS: u64 = 2;
pub(crate) const KIND_CMP: u64 = 3;
pub(crate) const KIND_NOISE: u64 = 4;

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

/// Fill `out` block by block in parallel: for each block, the streams' values at the block's
/// positions are generated and `f(out_block, inputs)` combines them.
pub(crate) fn combine<const S: usize>(
    prgs: [&Prg; S],
    out: &mut [u64],
    f: impl Fn(&mut [u64], &[Vec<u64>; S]) + Sync + Send,
) {
    out.par_chunks_mut(BLOCK).enumerate().for_each(|(i, o)| {
        let bufs: [Vec<u64>; S] = std::array::from_fn(|s| {
            let mut v = vec![0u64; o.len()];
            prgs[s].fill_u64_at(i * BLOCK, &mut v);
            v
        });
        f(o, &bufs);
    });
}

/// Header words sent to Second before each operation's corrections.
pub(crate) fn header(kind: u64, op: u64, n: usize, k: usize, l: usize) -> [u64; 5] {
    [kind, op, n as u64, k as u64, l as u64]
}

pub(super) fn send_hello(ch: &mut dyn Channel, role: Role, seed: &Seed) -> Result<(), MpcError> {
    let mut hello = Vec::with_capacity(HELLO_LEN);
    hello.extend_from_slice(HELLO_TAG);
    hello.push(role.code());
    hello.extend_from_slice(seed.as_bytes());
    let r = ch.send(&hello);
    hello.zeroize();
    r?;
    ch.flush()?;
    Ok(())
}

/// Decode the dealer's hello: the role it assigns and this party's seed.
pub(super) fn parse_hello(hello: &[u8]) -> Result<(Role, Seed), MpcError> {
    if hello.len() != HELLO_LEN {
        return Err(MpcError::BadHello("wrong length"));
    }
    let (tag, rest) = hello.split_at(HELLO_TAG.len());
    if tag != HELLO_TAG {
        return Err(MpcError::BadHello("unknown version tag"));
    }
    let (role, seed) = rest.split_at(1);
    let role = match role.first() {
        Some(0) => Role::First,
        Some(1) => Role::Second,
        _ => return Err(MpcError::BadHello("unknown role")),
    };
    let mut bytes: [u8; 32] = seed
        .try_into()
        .map_err(|_| MpcError::BadHello("wrong seed length"))?;
    let seed = Seed::from_bytes(bytes);
    bytes.zeroize();
    Ok((role, seed))
}
