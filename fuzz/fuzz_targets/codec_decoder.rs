//! Control-message codec (`samen_core::codec`): a message or an error; a decoded message
//! survives a re-encode.
//! The check is `samen_fuzz::codec_decoder` (also run by `cargo test --lib` in this directory).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| samen_fuzz::codec_decoder(data));
