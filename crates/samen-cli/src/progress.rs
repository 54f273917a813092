//! A run's progress, for people and for programs: a spinner or bar on a terminal, a log line
//! every tenth of the way, and (with `samen run --progress-file FILE`) one JSON line per event.
//!
//! The progress file is the structured interface: a supervisor (such as `samen demo`) reads its
//! last line instead of scraping log text. Each line is an object
//! `{"phase": "<phase>", "percent": <0..=100 or null>}`: `null` when a phase starts, then the
//! whole percentage each time it changes while the phase reports progress (the join does).
//! Phases and percentages are all it holds: no identifier, size or secret.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// One line of a progress file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressEvent {
    /// The phase (`join`, `shares`, `products`, …).
    pub phase: String,
    /// How far the phase is, in whole percent, if it reports progress.
    pub percent: Option<u64>,
}

impl ProgressEvent {
    /// The last complete event of a progress file's text (a line still being written is
    /// skipped), if any.
    pub fn last_in(text: &str) -> Option<ProgressEvent> {
        text.lines()
            .rev()
            .find_map(|line| serde_json::from_str(line).ok())
    }
}

/// The writer of a progress file. Writing is best effort: progress is a convenience, so a
/// failed write is logged once and never stops the study.
#[derive(Clone)]
pub struct ProgressFile {
    file: Arc<Mutex<File>>,
    failed: Arc<AtomicBool>,
}

impl ProgressFile {
    /// Create (or truncate) `path`.
    pub fn create(path: &Path) -> std::io::Result<ProgressFile> {
        Ok(ProgressFile {
            file: Arc::new(Mutex::new(File::create(path)?)),
            failed: Arc::default(),
        })
    }

    /// Append one event as a line (written whole, in one call).
    pub fn event(&self, phase: &str, percent: Option<u64>) {
        let event = ProgressEvent {
            phase: phase.to_string(),
            percent,
        };
        let Ok(mut line) = serde_json::to_vec(&event) else {
            return;
        };
        line.push(b'\n');
        let written = match self.file.lock() {
            Ok(mut f) => f.write_all(&line).and_then(|()| f.flush()),
            Err(_) => Err(std::io::Error::other("progress file lock poisoned")),
        };
        if let Err(e) = written {
            if !self.failed.swap(true, Ordering::Relaxed) {
                tracing::warn!("cannot write the progress file ({e}); the study goes on");
            }
        }
    }
}

/// The progress callback of a run: turns the spinner into a bar with percentage and estimated
/// time left while a phase reports progress, writes each whole percent to the progress file,
/// and logs every tenth of the way at `info` (for runs without a terminal).
pub fn reporter(
    bar: Option<indicatif::ProgressBar>,
    file: Option<ProgressFile>,
) -> impl Fn(&str, u64, u64) + Send + Sync {
    let bar_style = indicatif::ProgressStyle::with_template(
        "{spinner} {msg} [{wide_bar}] {percent:>3}% ({elapsed} elapsed, about {eta} left)",
    )
    .ok();
    // The phase and whole percent last reported.
    let last: Mutex<Option<(String, u64)>> = Mutex::new(None);
    move |phase, done, total| {
        if total == 0 {
            return;
        }
        if let Some(b) = &bar {
            if b.length() != Some(total) {
                if b.length().is_none() {
                    if let Some(st) = &bar_style {
                        b.set_style(st.clone());
                    }
                    b.reset_eta();
                }
                b.set_length(total);
            }
            b.set_position(done);
        }
        let percent = (u128::from(done.min(total)) * 100 / u128::from(total)) as u64;
        let before = match last.lock() {
            Ok(mut last) => match last.as_mut() {
                Some((p, before)) if p == phase => Some(std::mem::replace(before, percent)),
                _ => {
                    *last = Some((phase.to_string(), percent));
                    None
                }
            },
            Err(_) => return,
        };
        if before == Some(percent) {
            return;
        }
        if let Some(f) = &file {
            f.event(phase, Some(percent));
        }
        if before.is_none_or(|b| b / 10 != percent / 10) {
            tracing::info!(phase, percent = percent / 10 * 10, "progress");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_json_lines_and_the_last_complete_one_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        let file = ProgressFile::create(&path).unwrap();
        file.event("join", None);
        let report = reporter(None, Some(file.clone()));
        for done in 0..=40 {
            report("join", done, 200);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], r#"{"phase":"join","percent":null}"#);
        // one line per whole percent: 0, 1, …, 20
        assert_eq!(lines.len(), 1 + 21, "{text}");
        let last = ProgressEvent::last_in(&text).unwrap();
        assert_eq!(
            last,
            ProgressEvent {
                phase: "join".into(),
                percent: Some(20)
            }
        );
        // a line cut off mid-write is skipped
        let torn = format!("{text}{{\"phase\":\"sha");
        assert_eq!(ProgressEvent::last_in(&torn), Some(last));
        file.event("shares", None);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            ProgressEvent::last_in(&text).map(|e| (e.phase, e.percent)),
            Some(("shares".to_string(), None))
        );
        assert_eq!(ProgressEvent::last_in(""), None);
    }
}
