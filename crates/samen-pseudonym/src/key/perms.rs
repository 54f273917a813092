//! Key files readable by their owner only (Unix).

use super::*;

/// Refuse a key file whose group or other users have any access (Unix).
#[cfg(unix)]
pub(super) fn check_owner_only(path: &Path, file: &std::fs::File) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = file.metadata().map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Shared {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
pub(super) fn check_owner_only(_path: &Path, _file: &std::fs::File) -> Result<(), KeyError> {
    Ok(())
}
