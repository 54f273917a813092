//! Hello decoder: a hello or an error; a decoded hello survives a re-encode, and the error
//! comparing it with this party's hello prints no control characters.
//! The check is `samen_fuzz::hello_decoder` (also run by `cargo test --lib` in this directory).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| samen_fuzz::hello_decoder(data));
