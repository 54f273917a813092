//! Dealer hello: the first byte picks the role, the rest is the dealer's first frame to a
//! computing party (`Computer::new`). Only `samen-dealer-v1:` + the party's role byte + 32
//! bytes may be accepted.
//! The check is `samen_fuzz::dealer_hello` (also run by `cargo test --lib` in this directory).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| samen_fuzz::dealer_hello(data));
