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
//! | `to_field(n, m)` | u, z_F (m·n residues each) | w (m·n residues) | z_S = u·w − z_F (m·n residues) |
//! | `solve_gram(d)` (after `to_field`) | R, B, C (q² each), v, Rv (q each), t, t² per prime | R, B (q² each), v (q), t per prime | C_S = R·B − C_F, (Rv)_S, (t²)_S per prime |
//!
//! The dealer deals no differential-privacy noise: each computing party draws its own
//! ([`crate::mpc::Computer::noise`]), so no party, the dealer included, knows the noise of a
//! released value.
//!
//! Every message to Second starts with a 5-word header (operation kind, sequence number and
//! shape) so that a dealer and a party that disagree about the sequence of operations stop
//! with [`MpcError::OutOfSync`] instead of computing garbage.
//!
//! [`Seed`]: crate::prg::Seed
//! [`Role::First`]: crate::Role::First
//! [`Role::Second`]: crate::Role::Second
//! [`MpcError::OutOfSync`]: crate::mpc::MpcError::OutOfSync

pub use crate::mpc::Dealer;
