use super::children::minutes;

#[test]
fn time_left_is_written_in_minutes_and_seconds() {
    assert_eq!(minutes(95), "1m 35s");
    assert_eq!(minutes(40), "40s");
    assert_eq!(minutes(600), "10m 00s");
}
