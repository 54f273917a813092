//! Tests of the `codec` module.

use super::*;

/// A test message with every field type the codec offers.
#[derive(Debug, PartialEq)]
struct Sample {
    small: u8,
    short: u16,
    word: u32,
    long: u64,
    hash: [u8; 4],
    name: String,
    blob: Vec<u8>,
    list: Vec<u16>,
}

impl Encode for Sample {
    fn encode(&self, out: &mut Vec<u8>) {
        self.small.encode(out);
        self.short.encode(out);
        self.word.encode(out);
        self.long.encode(out);
        self.hash.encode(out);
        put_str(out, &self.name);
        put_bytes(out, &self.blob);
        put_len(out, self.list.len());
        for x in &self.list {
            x.encode(out);
        }
    }
}

impl Decode for Sample {
    const WHAT: &'static str = "sample";
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Sample {
            small: r.u8()?,
            short: r.u16()?,
            word: r.u32()?,
            long: r.u64()?,
            hash: r.array()?,
            name: r.string("name", 8)?,
            blob: r.bytes("blob", 8)?.to_vec(),
            list: r.vec("list", 4, |r| r.u16())?,
        })
    }
}

fn sample() -> Sample {
    Sample {
        small: 1,
        short: 0x0203,
        word: 0x0405_0607,
        long: 0x0809_0a0b_0c0d_0e0f,
        hash: [0xaa, 0xbb, 0xcc, 0xdd],
        name: "né".into(),
        blob: vec![9],
        list: vec![1, 0x100],
    }
}

#[test]
fn golden_sample() {
    golden::check(
        &sample(),
        "01\
         0302\
         07060504\
         0f0e0d0c0b0a0908\
         aabbccdd\
         030000006ec3a9\
         0100000009\
         0200000001000001",
    );
}

#[test]
fn lengths_over_the_limit_are_refused_before_allocating() {
    let mut long = sample();
    long.name = "123456789".into();
    let bytes = encode_to_vec(&long);
    assert_eq!(
        decode_exact::<Sample>(&bytes),
        Err(CodecError::LengthOverLimit {
            what: "sample",
            field: "name",
            len: 9,
            max: 8
        })
    );
    // A huge announced count with few bytes behind it.
    let mut r = Reader::new("sample", &[0xff, 0xff, 0xff, 0xff, 0]);
    assert!(matches!(
        r.vec("list", usize::MAX, |r| r.u8()),
        Err(CodecError::Truncated { .. })
    ));
    let mut r = Reader::new("sample", &[3, 0, 0, 0, 0]);
    assert!(matches!(
        r.vec("list", 4, |r| r.u8()),
        Err(CodecError::Truncated { .. })
    ));
}

#[test]
fn invalid_utf8_bad_values_and_oversized_input_are_named() {
    let mut s = encode_to_vec(&sample());
    // The name's second byte (0xc3) becomes an invalid UTF-8 start.
    if let Some(b) = s.get_mut(24) {
        *b = 0xff;
    }
    assert_eq!(
        decode_exact::<Sample>(&s),
        Err(CodecError::InvalidUtf8 {
            what: "sample",
            field: "name"
        })
    );
    let r = Reader::new("ping", &[]);
    assert_eq!(
        r.bad_value("role", 7).to_string(),
        "malformed ping: role has the invalid value 7"
    );
    let mut r = Reader::new("ping", &[2]);
    assert_eq!(
        r.version(1),
        Err(CodecError::Version {
            what: "ping",
            got: 2,
            expected: 1
        })
    );
    let big = vec![0u8; MAX_CONTROL_MESSAGE + 1];
    assert_eq!(
        decode_exact::<Sample>(&big),
        Err(CodecError::TooLarge {
            what: "sample",
            len: MAX_CONTROL_MESSAGE + 1
        })
    );
    let mut too_long = sample();
    too_long.blob = vec![0; 9];
    assert!(matches!(
        encode_checked(&too_long),
        Err(CodecError::LengthOverLimit { field: "blob", .. })
    ));
    assert!(encode_checked(&sample()).is_ok());
}

#[test]
fn the_reader_counts_what_is_left() {
    let mut r = Reader::new("x", &[1, 2, 3]);
    assert_eq!((r.left(), r.is_empty()), (3, false));
    assert_eq!(r.take(2).unwrap(), &[1, 2]);
    assert_eq!(
        r.u16(),
        Err(CodecError::Truncated {
            what: "x",
            wanted: 2,
            left: 1
        })
    );
    assert_eq!(r.u8().unwrap(), 3);
    assert!(r.is_empty());
    assert!(r.finish().is_ok());
}
