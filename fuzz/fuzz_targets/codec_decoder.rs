//! Control-message codec (`samen_core::codec`): every public control message kind gives a
//! message or an error, and accepts only canonical encodings.
//! The check is `samen_fuzz::codec_decoder` (also run by `cargo test --lib` in this directory).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| samen_fuzz::codec_decoder(data));
