//! Bulk framing of `recv_u64s`: the first byte is the element count, the rest is cut into
//! frames at every 0xff byte (a frame boundary marker); the result must match the format.
//! The check is `samen_fuzz::recv_u64s` (also run by `cargo test --lib` in this directory).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| samen_fuzz::recv_u64s(data));
