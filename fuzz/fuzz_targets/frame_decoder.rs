//! Frame decoder: the first byte is the piece size; the rest, fed whole and in pieces, must
//! give the same frames or error, no frame over its kind's limit, abort payloads sanitised.
//! The check is `samen_fuzz::frame_decoder` (also run by `cargo test --lib` in this directory).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| samen_fuzz::frame_decoder(data));
