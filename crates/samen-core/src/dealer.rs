//! The helper (dealer): correlated randomness derived from two seeds.
//!
//! [`Dealer::new`] draws one [`Seed`] per computing party from the OS RNG and sends it (32
//! bytes, with a versioned hello naming the party's role). Everything a computing party needs
//! for an operation is then expanded from its own seed under a label that names the operation
//! kind, its sequence number and the part (`"samen-mpc-v1/mul/7/a"`). The dealer, who knows
//! both seeds, computes the few values that cannot be expanded from one seed (the second party's
//! part of a product) and sends only those to [`Role::Second`].
//! [`Role::First`] receives nothing after its seed.
//!
//! The dealer receives nothing from the computing parties, so it learns only the shapes of the
//! operations it is asked to support (see [`crate::mpc`] for the full leakage statement).
//!
//! | operation | First expands | Second expands | dealer → Second |
//! |---|---|---|---|
//! | `mul(n)` | a, b, c (n each) | a, b (n each) | c_S = (a_F+a_S)(b_F+b_S) − c_F (n) |
//! | `cross_product(n,k,l)` | U (n×k), R_F (k×l) | V (n×l) | R_S = UᵀV − R_F (k×l) |
//! | `ge_public(n)` | r (n), ⟨r⟩ (n), AND triples (11n ×3), ⟨β⟩ (n/64), \[β\] (n) | r (n), AND triples (11n ×2), ⟨β⟩ (n/64) | ⟨r⟩_S (n), c_S (11n), \[β\]_S (n) |
//! | `noise(n)` | r (n) | — | z − r (n), z drawn by the dealer |
//!
//! `noise` differs from the other operations: its values are not a function of the seeds. The
//! dealer draws noise values `z_i` exactly ([`crate::dp`]) from a ChaCha12 generator seeded
//! from the OS RNG, so that the data parties end up with additive shares of differential-privacy
//! noise that neither of them knows. The dealer knows the noise values (but sees no data and no
//! output); either data party alone sees a uniformly random share.
//!
//! Every message to Second starts with a 5-word header (operation kind, sequence number and
//! shape) so that a dealer and a party that disagree about the sequence of operations stop
//! with [`MpcError::OutOfSync`] instead of computing garbage.

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use rayon::prelude::*;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::channel::{Channel, ChannelExt};
use crate::dp::{Mechanism, Prepared};
use crate::mpc::{MpcError, Role};
use crate::prg::{Prg, Seed};
use crate::ring;

/// Versioned tag that starts the dealer's hello (followed by a role byte and the seed).
pub(crate) const HELLO_TAG: &[u8; 16] = b"samen-dealer-v1:";
/// Length of the hello frame.
pub(crate) const HELLO_LEN: usize = 16 + 1 + 32;

/// Operation kinds (first word of the per-operation header to Second).
pub(crate) const KIND_MUL: u64 = 1;
pub(crate) const KIND_CROSS: u64 = 2;
pub(crate) const KIND_CMP: u64 = 3;
pub(crate) const KIND_NOISE: u64 = 4;

/// Number of packed AND gates per value in the comparison circuit: 5 Kogge–Stone levels with
/// two ANDs and a last level with one.
pub(crate) const CMP_ANDS: usize = 11;

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

/// The helper's session: mirrors the calls of the computing parties with shapes only.
///
/// The dealer must be asked for the same operations, with the same shapes and in the same order,
/// as the computing parties perform them (`open` needs nothing from the dealer).
pub struct Dealer<'a> {
    first: &'a mut dyn Channel,
    second: &'a mut dyn Channel,
    seed_first: Seed,
    seed_second: Seed,
    op: u64,
    /// The generator of noise values, seeded from the OS RNG at the first `noise` operation.
    noise_rng: Option<ChaCha12Rng>,
}

impl std::fmt::Debug for Dealer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dealer")
            .field("first", &self.first.peer())
            .field("second", &self.second.peer())
            .field("op", &self.op)
            .finish_non_exhaustive()
    }
}

fn send_hello(ch: &mut dyn Channel, role: Role, seed: &Seed) -> Result<(), MpcError> {
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

impl<'a> Dealer<'a> {
    /// Start a dealer session: draw a seed for each computing party from the OS RNG and send
    /// it. `first` is the channel to [`Role::First`], `second` to [`Role::Second`].
    pub fn new(first: &'a mut dyn Channel, second: &'a mut dyn Channel) -> Result<Self, MpcError> {
        Self::with_seeds(first, second, Seed::random(), Seed::random())
    }

    /// Like [`Dealer::new`] with given seeds (for reproducible tests and benchmarks only: the
    /// security of every operation rests on these seeds being secret and independent).
    ///
    /// Two equal seeds are refused ([`MpcError::EqualSeeds`]), before anything is sent: with
    /// them each data party could derive the other's pads. The comparison is constant time.
    pub fn with_seeds(
        first: &'a mut dyn Channel,
        second: &'a mut dyn Channel,
        seed_first: Seed,
        seed_second: Seed,
    ) -> Result<Self, MpcError> {
        if bool::from(seed_first.ct_eq(&seed_second)) {
            return Err(MpcError::EqualSeeds);
        }
        first.set_step("dealer-seed");
        second.set_step("dealer-seed");
        send_hello(first, Role::First, &seed_first)?;
        send_hello(second, Role::Second, &seed_second)?;
        Ok(Dealer {
            first,
            second,
            seed_first,
            seed_second,
            op: 0,
            noise_rng: None,
        })
    }

    fn next_op(&mut self) -> u64 {
        self.op += 1;
        self.op
    }

    /// Correlated randomness for one Beaver multiplication of `n`-element vectors.
    pub fn mul(&mut self, n: usize) -> Result<(), MpcError> {
        let op = self.next_op();
        let [af, bf, cf] = ["a", "b", "c"].map(|p| stream(&self.seed_first, "mul", op, p));
        let [as_, bs] = ["a", "b"].map(|p| stream(&self.seed_second, "mul", op, p));
        let mut c_second = vec![0u64; n];
        combine(
            [&af, &bf, &cf, &as_, &bs],
            &mut c_second,
            |o, [af, bf, cf, as_, bs]| {
                for (j, out) in o.iter_mut().enumerate() {
                    let a = af[j].wrapping_add(as_[j]);
                    let b = bf[j].wrapping_add(bs[j]);
                    *out = a.wrapping_mul(b).wrapping_sub(cf[j]);
                }
            },
        );
        self.second.set_step("dealer-mul");
        self.second.send_u64s(&header(KIND_MUL, op, n, 0, 0))?;
        self.second.send_u64s(&c_second)?;
        self.second.flush()?;
        Ok(())
    }

    /// Correlated randomness for one cross-party product of an `n×k` and an `n×l` matrix.
    pub fn cross_product(&mut self, n: usize, k: usize, l: usize) -> Result<(), MpcError> {
        let op = self.next_op();
        crate::mpc::check_dims(n, k, l)?;
        let u = stream(&self.seed_first, "cross", op, "u");
        let r_first = stream(&self.seed_first, "cross", op, "r").u64s(k * l);
        let v = stream(&self.seed_second, "cross", op, "v");
        let rows = (BLOCK / (k + l).max(1)).max(1);
        let blocks = n.div_ceil(rows);
        let utv = (0..blocks)
            .into_par_iter()
            .fold(
                || vec![0u64; k * l],
                |mut acc, b| {
                    let start = b * rows;
                    let len = rows.min(n - start);
                    let mut ub = vec![0u64; len * k];
                    let mut vb = vec![0u64; len * l];
                    u.fill_u64_at(start * k, &mut ub);
                    v.fill_u64_at(start * l, &mut vb);
                    // shapes are consistent by construction
                    let _ = ring::matmul_tn_acc(&ub, &vb, k, l, &mut acc);
                    acc
                },
            )
            .reduce(
                || vec![0u64; k * l],
                |mut x, y| {
                    let _ = ring::add_assign(&mut x, &y);
                    x
                },
            );
        let r_second = ring::sub(&utv, &r_first)?;
        self.second.set_step("dealer-cross-product");
        self.second.send_u64s(&header(KIND_CROSS, op, n, k, l))?;
        self.second.send_u64s(&r_second)?;
        self.second.flush()?;
        Ok(())
    }

    /// Correlated randomness for one secure comparison of `n` shared values with a public
    /// threshold: one operation per [`crate::mpc::CMP_BATCH`] values (none for `n = 0`), as
    /// [`crate::mpc::Computer::ge_public`] consumes them.
    pub fn ge_public(&mut self, n: usize) -> Result<(), MpcError> {
        let mut left = n;
        while left > 0 {
            let k = left.min(crate::mpc::CMP_BATCH);
            self.ge_public_batch(k)?;
            left -= k;
        }
        Ok(())
    }

    fn ge_public_batch(&mut self, n: usize) -> Result<(), MpcError> {
        let op = self.next_op();
        let sf = &self.seed_first;
        let ss = &self.seed_second;
        let (ra_f, ra_s, rb_f) = (
            stream(sf, "cmp", op, "ra"),
            stream(ss, "cmp", op, "ra"),
            stream(sf, "cmp", op, "rb"),
        );
        // ⟨r⟩_S = (r_F + r_S) ⊕ ⟨r⟩_F
        let mut rb_second = vec![0u64; n];
        combine([&ra_f, &ra_s, &rb_f], &mut rb_second, |o, [x, y, z]| {
            for (j, out) in o.iter_mut().enumerate() {
                *out = x[j].wrapping_add(y[j]) ^ z[j];
            }
        });
        // packed AND triples over GF(2)^64
        let [ta_f, tb_f, tc_f] = ["ta", "tb", "tc"].map(|p| stream(sf, "cmp", op, p));
        let [ta_s, tb_s] = ["ta", "tb"].map(|p| stream(ss, "cmp", op, p));
        let mut tc_second = vec![0u64; CMP_ANDS * n];
        combine(
            [&ta_f, &tb_f, &tc_f, &ta_s, &tb_s],
            &mut tc_second,
            |o, [af, bf, cf, as_, bs]| {
                for (j, out) in o.iter_mut().enumerate() {
                    *out = ((af[j] ^ as_[j]) & (bf[j] ^ bs[j])) ^ cf[j];
                }
            },
        );
        // daBits: β = ⟨β⟩_F ⊕ ⟨β⟩_S bitwise (packed), [β]_S = β − [β]_F
        let words = n.div_ceil(64);
        let beta_f = stream(sf, "cmp", op, "betab").u64s(words);
        let beta_s = stream(ss, "cmp", op, "betab").u64s(words);
        let beta: Vec<u64> = beta_f.iter().zip(&beta_s).map(|(x, y)| x ^ y).collect();
        drop((beta_f, beta_s));
        let betaa_f = stream(sf, "cmp", op, "betaa");
        let mut betaa_second = vec![0u64; n];
        // BLOCK is a multiple of 64, so value j of block i is bit (j % 64) of word (i·BLOCK+j)/64
        betaa_second
            .par_chunks_mut(BLOCK)
            .enumerate()
            .for_each(|(i, o)| {
                let mut bf = vec![0u64; o.len()];
                betaa_f.fill_u64_at(i * BLOCK, &mut bf);
                let words = beta.get(i * BLOCK / 64..).unwrap_or(&[]);
                for ((out, f), j) in o.iter_mut().zip(&bf).zip(0..) {
                    let w = words.get(j / 64).copied().unwrap_or(0);
                    let bit = (w >> (j % 64)) & 1;
                    *out = bit.wrapping_sub(*f);
                }
            });
        self.second.set_step("dealer-compare");
        self.second.send_u64s(&header(KIND_CMP, op, n, 0, 0))?;
        self.second.send_u64s(&rb_second)?;
        self.second.send_u64s(&tc_second)?;
        self.second.send_u64s(&betaa_second)?;
        self.second.flush()?;
        Ok(())
    }

    /// Additive shares of fresh differential-privacy noise, one value per mechanism, matched by
    /// [`crate::mpc::Computer::noise`] with `n = mechanisms.len()`.
    ///
    /// The dealer draws `z_i` from `mechanisms[i]` exactly ([`crate::dp`]) with a ChaCha12
    /// generator seeded from the OS RNG; First's share `r_i` is expanded from First's seed
    /// (label `samen-mpc-v1/noise/<op>/r`) and Second receives `z_i − r_i` after the operation
    /// header. All parameters are checked before anything is drawn or sent
    /// ([`MpcError::Noise`]). The noise values are zeroized after use.
    pub fn noise(&mut self, mechanisms: &[Mechanism]) -> Result<(), MpcError> {
        let prepared = mechanisms
            .iter()
            .map(Prepared::new)
            .collect::<Result<Vec<_>, _>>()?;
        let rng = self.noise_rng.get_or_insert_with(|| {
            let mut key = *Seed::random().as_bytes();
            let rng = ChaCha12Rng::from_seed(key);
            key.zeroize();
            rng
        });
        let mut z = Vec::with_capacity(prepared.len());
        for m in &prepared {
            match m.sample(rng) {
                Ok(v) => z.push(v as u64),
                Err(e) => {
                    z.zeroize();
                    return Err(e.into());
                }
            }
        }
        let op = self.next_op();
        let n = z.len();
        let r_first = stream(&self.seed_first, "noise", op, "r");
        let mut second = z;
        combine([&r_first], &mut second, |o, [r]| {
            for (out, r) in o.iter_mut().zip(r) {
                *out = out.wrapping_sub(*r);
            }
        });
        self.second.set_step("dealer-noise");
        let sent = self
            .second
            .send_u64s(&header(KIND_NOISE, op, n, 0, 0))
            .and_then(|()| self.second.send_u64s(&second))
            .and_then(|()| self.second.flush());
        second.zeroize();
        sent?;
        Ok(())
    }

    /// Number of operations served so far.
    pub fn operations(&self) -> u64 {
        self.op
    }
}
