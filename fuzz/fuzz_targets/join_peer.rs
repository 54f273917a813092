//! Private join against a scripted peer: the first 10 bytes are its opening message, then
//! each frame is a length byte `l` (`l & 0x7f` points of 32 bytes if the top bit is set, else
//! `l` bytes) and its bytes. Must end in a result or an error, never a panic.
//! The check is `samen_fuzz::join_peer` (also run by `cargo test --lib` in this directory).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| samen_fuzz::join_peer(data));
