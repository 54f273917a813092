//! Frame decoder: arbitrary bytes, fed whole and in pieces, must never panic, must agree
//! between the two ways of feeding, and must never yield a frame over its kind's limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use samen_net::frame::{decode_all, FrameDecoder};

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let whole = decode_all(bytes);
    let piece = usize::from(split).max(1);
    let mut decoder = FrameDecoder::new();
    let mut frames = Vec::new();
    let mut outcome = Ok(());
    'outer: for chunk in bytes.chunks(piece) {
        let mut rest = chunk;
        while !rest.is_empty() {
            match decoder.decode(rest) {
                Ok((used, frame)) => {
                    assert!(used > 0 && used <= rest.len());
                    frames.extend(frame);
                    rest = &rest[used..];
                }
                Err(e) => {
                    outcome = Err(e);
                    break 'outer;
                }
            }
        }
    }
    let pieces = outcome.and_then(|()| decoder.finish()).map(|()| frames);
    assert_eq!(whole, pieces);
    if let Ok(frames) = whole {
        for f in frames {
            assert!(f.payload.len() <= f.kind.max_len());
        }
    }
});
