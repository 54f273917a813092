//! The documentation's one table of statistics lists exactly `Statistic::ALL`, in order.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use samen_study::spec::Statistic;

#[test]
fn the_statistics_table_lists_every_statistic() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/protocols/study-runner.md"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let section = text
        .split("### Statistics\n")
        .nth(1)
        .expect("a section '### Statistics'");
    let names: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with("| statistic |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_start_matches('|')
                .split('|')
                .next()
                .unwrap()
                .trim()
                .trim_matches('`')
        })
        .collect();
    let all: Vec<&str> = Statistic::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(names, all);
}
