use super::children::{latest_progress, minutes};

#[test]
fn progress_is_read_from_the_runner_log() {
    let log = "\
2026-11-29T19:59:25.092735Z  INFO samen_study::runner: connecting to the other parties party=bureau
2026-11-29T19:59:25.172030Z  INFO samen_study::runner: phase started phase=\"join\"
2026-11-29T19:59:25.184419Z  INFO samen_study::runner: progress phase=\"join\" percent=0
2026-11-29T19:59:26.753697Z  INFO samen_study::runner: progress phase=\"join\" percent=10
";
    assert_eq!(latest_progress(log), Some(("join".to_string(), Some(10))));
    let later = format!(
        "{log}2026-11-29T19:59:34.069669Z  INFO samen_study::runner: phase started phase=\"shares\"\n"
    );
    assert_eq!(latest_progress(&later), Some(("shares".to_string(), None)));
    assert_eq!(latest_progress(""), None);
    assert_eq!(latest_progress("WARN something else\n"), None);
}

#[test]
fn time_left_is_written_in_minutes_and_seconds() {
    assert_eq!(minutes(95), "1m 35s");
    assert_eq!(minutes(40), "40s");
    assert_eq!(minutes(600), "10m 00s");
}
