//! The output folder of `samen run`: written only when the run succeeds, as one set.
//!
//! Layout (documented in `docs/protocols/study-runner.md`, "Output folder"): every file of a
//! run (the tables, `<party>-summary.json`) is first written into a fresh hidden sibling of the
//! output folder, `.<name>.samen-<run id>`, on the same file system; the manifest
//! [`MANIFEST`] (`run.json`: run id, study name and hash, party, and the SHA-256 of every file)
//! is written last; then that folder is renamed to the output folder. A reader therefore sees
//! either no folder, an earlier run's complete folder, or this run's complete folder, never a
//! mix, and a failed run leaves nothing behind.
//!
//! Before a party connects to its peers ([`OutDir::prepare`]) the output folder must be new,
//! empty, or (with `--force`) the folder of an earlier run, recognised by its manifest; a
//! folder holding other files is never replaced.

use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use thiserror::Error;

/// The manifest every output folder holds, written last: run id, study hash, the files.
pub const MANIFEST: &str = "run.json";

/// An error preparing or publishing the output folder.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OutDirError {
    /// The folder holds an earlier run's results and `--force` was not given.
    #[error(
        "output folder {path} holds the results of an earlier run (its {MANIFEST}); use \
         --force to replace them, or choose another folder"
    )]
    EarlierRun {
        /// The output folder.
        path: String,
    },
    /// The folder holds files that no samen run wrote; it is never replaced.
    #[error(
        "output folder {path} is not empty and is not the output of a samen run (no \
         {MANIFEST}); choose a new or empty folder"
    )]
    NotEmpty {
        /// The output folder.
        path: String,
    },
    /// The path exists and is not a folder.
    #[error("output folder {path} exists and is not a folder")]
    NotAFolder {
        /// The path.
        path: String,
    },
    /// Reading, creating, writing or renaming failed.
    #[error("cannot write output folder {path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OutDirError + '_ {
    move |source| OutDirError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A run's id: 16 bytes from the operating system's random source, in hex.
pub fn new_run_id() -> String {
    use rand::TryRngCore;
    let mut bytes = [0u8; 16];
    if rand::rngs::OsRng.try_fill_bytes(&mut bytes).is_err() {
        // Without the OS source, time and process id still separate runs (the id is a label,
        // not a secret).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut h = Sha256::new();
        h.update(nanos.to_le_bytes());
        h.update(std::process::id().to_le_bytes());
        let d = h.finalize();
        bytes.copy_from_slice(d.get(..16).unwrap_or(&[0; 16]));
    }
    hex::encode(bytes)
}

/// What a run's output folder is before the run.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Existing {
    /// No such path.
    Absent,
    /// An empty folder.
    Empty,
    /// An earlier run's folder (it holds a manifest), to be replaced (`--force`).
    EarlierRun,
}

/// A checked output folder (see the module documentation).
#[derive(Clone, Debug)]
pub struct OutDir {
    path: PathBuf,
    existing: Existing,
}

impl OutDir {
    /// Check `path` before the run: new, empty, or an earlier run's folder with `force`.
    pub fn prepare(path: &Path, force: bool) -> Result<OutDir, OutDirError> {
        let shown = || path.display().to_string();
        let existing = match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Existing::Absent,
            Err(e) => return Err(io_err(path)(e)),
            Ok(m) if !m.is_dir() => return Err(OutDirError::NotAFolder { path: shown() }),
            Ok(_) => {
                let mut entries = std::fs::read_dir(path).map_err(io_err(path))?;
                if entries.next().is_none() {
                    Existing::Empty
                } else if !path.join(MANIFEST).is_file() {
                    return Err(OutDirError::NotEmpty { path: shown() });
                } else if force {
                    Existing::EarlierRun
                } else {
                    return Err(OutDirError::EarlierRun { path: shown() });
                }
            }
        };
        // The folder that will hold the staging folder must be writable: find out now, before
        // the run, by creating and removing a file there (its parents are created only when the
        // run succeeds).
        let parent = parent_of(path);
        let mut probe_dir = parent.as_path();
        while !probe_dir.exists() {
            match probe_dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => probe_dir = p,
                _ => {
                    probe_dir = Path::new(".");
                    break;
                }
            }
        }
        tempfile::Builder::new()
            .prefix(".samen-probe-")
            .tempfile_in(probe_dir)
            .map_err(io_err(probe_dir))?;
        Ok(OutDir {
            path: path.to_path_buf(),
            existing,
        })
    }

    /// Write `files` (name, bytes) and the manifest into a staging folder and move it into
    /// place as the output folder. Returns the paths of the files in the output folder.
    pub fn publish(
        &self,
        files: &[(String, Vec<u8>)],
        manifest: &Manifest,
    ) -> Result<Vec<PathBuf>, OutDirError> {
        let parent = parent_of(&self.path);
        std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".to_string());
        let staging = parent.join(format!(".{name}.samen-{}", manifest.run_id));
        let result = self.publish_via(&staging, &parent, &name, files, manifest);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        result
    }

    fn publish_via(
        &self,
        staging: &Path,
        parent: &Path,
        name: &str,
        files: &[(String, Vec<u8>)],
        manifest: &Manifest,
    ) -> Result<Vec<PathBuf>, OutDirError> {
        std::fs::create_dir(staging).map_err(io_err(staging))?;
        let mut listed = Vec::new();
        for (file, bytes) in files {
            let p = staging.join(file);
            write_synced(&p, bytes)?;
            listed.push((file.clone(), hex::encode(Sha256::digest(bytes))));
        }
        let text = manifest.to_json(&listed);
        write_synced(&staging.join(MANIFEST), text.as_bytes())?;
        sync_dir(staging);
        match self.existing {
            // rename(2) replaces an empty folder atomically.
            Existing::Absent | Existing::Empty => {
                std::fs::rename(staging, &self.path).map_err(io_err(&self.path))?;
            }
            Existing::EarlierRun => {
                let old = parent.join(format!(".{name}.samen-replaced-{}", manifest.run_id));
                std::fs::rename(&self.path, &old).map_err(io_err(&self.path))?;
                if let Err(e) = std::fs::rename(staging, &self.path) {
                    // Put the earlier run back rather than leave no folder.
                    let _ = std::fs::rename(&old, &self.path);
                    return Err(io_err(&self.path)(e));
                }
                let _ = std::fs::remove_dir_all(&old);
            }
        }
        sync_dir(parent);
        Ok(files.iter().map(|(f, _)| self.path.join(f)).collect())
    }
}

/// The folder `path` is in (`.` for a bare name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), OutDirError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

/// Make a folder's entries durable (best effort: not every platform can open a folder).
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The manifest of one run's output folder.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The run's id ([`new_run_id`]), also in the summary.
    pub run_id: String,
    /// The study's name.
    pub study: String,
    /// SHA-256 of the study file, hex.
    pub study_sha256: String,
    /// This party.
    pub party: String,
}

impl Manifest {
    fn to_json(&self, files: &[(String, String)]) -> String {
        let v = serde_json::json!({
            "run_id": self.run_id,
            "study": self.study,
            "study_sha256": self.study_sha256,
            "party": self.party,
            "files": files
                .iter()
                .map(|(name, sha)| serde_json::json!({"name": name, "sha256": sha}))
                .collect::<Vec<_>>(),
        });
        serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn manifest(id: &str) -> Manifest {
        Manifest {
            run_id: id.to_string(),
            study: "s".to_string(),
            study_sha256: "00".to_string(),
            party: "p".to_string(),
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_new_folder_appears_complete_with_its_manifest() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("a/b/out");
        let o = OutDir::prepare(&out, false).unwrap();
        assert!(
            !d.path().join("a").exists(),
            "nothing is created before the run succeeds"
        );
        let files = vec![("t.csv".to_string(), b"x\n1\n".to_vec())];
        o.publish(&files, &manifest("r1")).unwrap();
        assert_eq!(names(&out), vec!["run.json", "t.csv"]);
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join(MANIFEST)).unwrap()).unwrap();
        assert_eq!(m["run_id"], "r1");
        assert_eq!(m["files"][0]["name"], "t.csv");
        assert_eq!(
            m["files"][0]["sha256"],
            hex::encode(Sha256::digest(b"x\n1\n"))
        );
        // No staging folder is left beside it.
        assert_eq!(names(&d.path().join("a/b")), vec!["out"]);
    }

    #[test]
    fn an_earlier_run_is_refused_without_force_and_replaced_with_it() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        let first = vec![("old.csv".to_string(), b"1\n".to_vec())];
        OutDir::prepare(&out, false)
            .unwrap()
            .publish(&first, &manifest("r1"))
            .unwrap();
        let e = OutDir::prepare(&out, false).unwrap_err();
        assert!(matches!(e, OutDirError::EarlierRun { .. }), "{e}");
        assert!(e.to_string().contains("--force"), "{e}");
        let second = vec![("new.csv".to_string(), b"2\n".to_vec())];
        OutDir::prepare(&out, true)
            .unwrap()
            .publish(&second, &manifest("r2"))
            .unwrap();
        assert_eq!(names(&out), vec!["new.csv", "run.json"]);
        assert_eq!(names(d.path()), vec!["out"]);
    }

    #[test]
    fn a_folder_with_other_files_is_never_replaced() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("notes.txt"), "mine").unwrap();
        for force in [false, true] {
            let e = OutDir::prepare(d.path(), force).unwrap_err();
            assert!(matches!(e, OutDirError::NotEmpty { .. }), "{e}");
        }
        let file = d.path().join("notes.txt");
        assert!(matches!(
            OutDir::prepare(&file, true).unwrap_err(),
            OutDirError::NotAFolder { .. }
        ));
        // An empty folder is fine, and replaced by the run's folder.
        let empty = d.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        OutDir::prepare(&empty, false)
            .unwrap()
            .publish(&[], &manifest("r3"))
            .unwrap();
        assert_eq!(names(&empty), vec!["run.json"]);
    }

    #[test]
    fn run_ids_differ() {
        let (a, b) = (new_run_id(), new_run_id());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
