//! Reading an input file with a size cap: scenario, sweep and map files, shard files, resume
//! journals.
//!
//! The size in the directory entry is not a bound (`/dev/zero` says 0 bytes and never ends; a
//! FIFO says 0 and blocks for ever until a writer comes), so a file is opened without blocking,
//! refused unless it is a regular file, and read through a cap of `limit + 1` bytes: a file
//! that grows past the limit while it is read is refused too.

use std::io::Read;
use std::path::Path;

/// Why an input file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The OS refused (missing file, permission, …): the message is the OS's.
    #[error("cannot read {what}: {error}")]
    Io { what: String, error: std::io::Error },
    /// Not a regular file, or too large: the message says which limit.
    #[error("{0}")]
    Refused(String),
}

/// Reads `path` (a `what`, for messages) if it is a regular file of at most `limit` bytes.
pub fn read_capped(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, ReadError> {
    let io = |error| ReadError::Io {
        what: what.to_string(),
        error,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        // A FIFO opened for reading blocks until a writer opens it; O_NONBLOCK makes open
        // return at once, and regular files ignore the flag for reads.
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        let kind = file_kind(&meta);
        return Err(ReadError::Refused(format!(
            "is {kind}, expected a {what} (a regular file)"
        )));
    }
    if meta.len() > limit {
        return Err(ReadError::Refused(format!(
            "{what} is {} bytes; the limit is {limit}",
            meta.len()
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::Refused(format!(
            "{what} grew past the limit of {limit} bytes while it was read"
        )));
    }
    Ok(bytes)
}

/// Reads `path` as UTF-8 text (see [`read_capped`]); errors are one line of text.
pub fn read_text_capped(path: &Path, limit: u64, what: &str) -> Result<String, String> {
    let bytes = read_capped(path, limit, what).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{what} is not UTF-8 text: invalid byte at offset {}",
            e.utf8_error().valid_up_to()
        )
    })
}

/// "a directory", "a FIFO", … for messages.
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_directories_and_large_files() {
        let e = read_capped(Path::new("/dev/zero"), 1024, "scenario file").unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let e = read_capped(Path::new("/"), 1024, "scenario file").unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
        let dir = tempfile::tempdir().expect("temp dir");
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; 2048]).expect("write");
        let e = read_capped(&big, 1024, "scenario file").unwrap_err();
        assert!(e.to_string().contains("the limit is 1024"), "{e}");
        assert_eq!(read_capped(&big, 2048, "x").expect("fits").len(), 2048);
    }
}
