//! Files that appear complete or not at all.
//!
//! An [`AtomicFile`] is written as a temporary file in the destination's directory (so that
//! the final rename stays on one file system) and moved into place only by
//! [`AtomicFile::commit`] or [`AtomicFile::commit_new`]; dropped without a commit, the
//! temporary file is removed. A crash or an error therefore never leaves a partial
//! destination file.
//!
//! ```
//! use std::io::Write;
//! let dir = std::env::temp_dir().join(format!("samen-atomic-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let dest = dir.join("table.csv");
//! let mut f = samen_core::atomic::AtomicFile::create(&dest, 0o600).unwrap();
//! f.file().write_all(b"a,b\n").unwrap();
//! assert!(!dest.exists()); // not there until committed
//! f.commit(true).unwrap();
//! assert_eq!(std::fs::read(&dest).unwrap(), b"a,b\n");
//! samen_core::atomic::write_atomic(&dest, b"c\n", 0o600).unwrap(); // replaces
//! assert_eq!(std::fs::read(&dest).unwrap(), b"c\n");
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes the temporary files of one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Most names tried for a temporary file before giving up.
const MAX_ATTEMPTS: u32 = 64;

/// A file being written beside its destination, moved into place when committed.
#[derive(Debug)]
pub struct AtomicFile {
    file: File,
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Create a new temporary file for `dest` in `dest`'s directory, with permission bits
    /// `mode` on Unix (ignored elsewhere; the process umask still applies).
    pub fn create(dest: &Path, mode: u32) -> io::Result<AtomicFile> {
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut attempt = 0;
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let tmp = dir.join(format!(".{name}.samen-tmp-{}-{n}", std::process::id()));
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(mode);
            }
            #[cfg(not(unix))]
            let _ = mode;
            match options.open(&tmp) {
                Ok(file) => {
                    return Ok(AtomicFile {
                        file,
                        tmp,
                        dest: dest.to_path_buf(),
                        committed: false,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < MAX_ATTEMPTS => {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The temporary file, to write the contents to.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The destination path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Flush, sync to disk if `durable`, and rename over the destination (replacing it).
    pub fn commit(mut self, durable: bool) -> io::Result<()> {
        self.file.flush()?;
        if durable {
            self.file.sync_all()?;
        }
        fs::rename(&self.tmp, &self.dest)?;
        self.committed = true;
        Ok(())
    }

    /// Flush, sync to disk and link into place without replacing anything: an existing
    /// destination is an error of kind [`io::ErrorKind::AlreadyExists`].
    pub fn commit_new(mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.sync_all()?;
        fs::hard_link(&self.tmp, &self.dest)?;
        // The destination exists now; dropping `self` removes the temporary name.
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Write `bytes` to `path` atomically (temporary file, synced, renamed over `path`), with
/// permission bits `mode` on Unix.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut f = AtomicFile::create(path, mode)?;
    f.file().write_all(bytes)?;
    f.commit(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh empty directory for one test.
    fn test_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("samen-atomic-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn nothing_is_left_without_a_commit_and_commit_new_never_replaces() {
        let dir = test_dir("commit");
        let dest = dir.join("out.txt");
        {
            let mut f = AtomicFile::create(&dest, 0o600).unwrap();
            f.file().write_all(b"partial").unwrap();
        }
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);

        let mut f = AtomicFile::create(&dest, 0o600).unwrap();
        f.file().write_all(b"first").unwrap();
        f.commit_new().unwrap();
        let mut g = AtomicFile::create(&dest, 0o600).unwrap();
        g.file().write_all(b"second").unwrap();
        let e = g.commit_new().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&dest).unwrap(), b"first");
        // only the destination remains
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn mode_is_applied() {
        use std::os::unix::fs::PermissionsExt;
        let dir = test_dir("mode");
        let dest = dir.join("key");
        write_atomic(&dest, b"k", 0o600).unwrap();
        let mode = fs::metadata(&dest).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        fs::remove_dir_all(&dir).unwrap();
    }
}
