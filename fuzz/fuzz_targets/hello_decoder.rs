//! Hello / control-message decoder (bincode 2 behind `samen_core::codec`): arbitrary bytes must
//! decode to a hello or fail with an error, never panic; a decoded hello survives a re-encode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use samen_net::hello::Hello;

fuzz_target!(|data: &[u8]| {
    if let Ok(hello) = Hello::decode("fuzz", data) {
        let again = hello.encode().expect("a decoded hello re-encodes");
        assert_eq!(Hello::decode("fuzz", &again).expect("round trip"), hello);
        let _ = hello.check(&hello);
    }
});
