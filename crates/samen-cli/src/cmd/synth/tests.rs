use super::generate::{check_digit, distinct_bsns, push_padded};
use super::*;

fn passes_11_test(bsn: u32) -> bool {
    let mut d = [0u32; 9];
    let mut v = bsn;
    for x in d.iter_mut().rev() {
        *x = v % 10;
        v /= 10;
    }
    let s: i64 = (0..8)
        .map(|i| i64::from(9 - i as u32) * i64::from(d[i]))
        .sum::<i64>()
        - i64::from(d[8]);
    s.rem_euclid(11) == 0 && bsn != 0
}

#[test]
fn check_digit_agrees_with_the_11_test() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for bsn in distinct_bsns(&mut rng, 10_000) {
        assert!(passes_11_test(bsn), "{bsn}");
    }
    // A known valid BSN (the example from the government's documentation): 111222333.
    assert_eq!(check_digit(11_122_233), Some(3));
}

#[test]
fn padding() {
    let mut b = Vec::new();
    push_padded(&mut b, 1234567, 8);
    assert_eq!(b, b"01234567");
    b.clear();
    push_padded(&mut b, 0, 1);
    assert_eq!(b, b"0");
    b.clear();
    push_padded(&mut b, 1_000_000, 1);
    assert_eq!(b, b"1000000");
}

#[test]
fn study_file_is_valid_toml() {
    let v: toml::Value = toml::from_str(&study_toml([1, 2, 3], Join::TwoParty)).unwrap();
    assert_eq!(v["outputs"].as_array().unwrap().len(), OUTPUTS.len());
}
