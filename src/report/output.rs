//! Output files nobody can hijack, a lock per output directory, and a manifest written last.
//!
//! **Atomic, unpredictable, no link followed.** A file is written to a temporary file created
//! in its own directory with a random name and `O_CREAT | O_EXCL` (the `tempfile` crate), so
//! a symbolic link planted under any name cannot be opened through; it is synced and renamed
//! over the target, and `rename(2)` replaces a link at the target rather than following it. A
//! file appears whole or not at all.
//!
//! **One writer per directory.** [`OutputDir::lock`] takes an advisory lock (`flock`) on
//! `DIR/.metastable.lock` (opened with `O_NOFOLLOW`) for the whole command: a second command
//! writing to the same directory is refused at once with [`OutputError::Busy`] (exit code
//! [`EXIT_BUSY`]), naming the holder the lock file records. Shards of one sweep share a
//! directory: each takes the directory lock *shared* and its own shard lock exclusive, so
//! shards run side by side while an unsharded command (or a merge) on that directory is
//! refused. A command holding the directory alone removes the lock file when it ends; the lock
//! itself is released when the process exits, killed or not.
//!
//! **A whole run or a marked incomplete one.** [`OutputDir::begin`] removes the previous
//! manifest of its kind (`manifest.txt` for `run`) and the files it listed;
//! [`OutputDir::commit`] writes a new one last, naming the command, the seed and every file
//! written. Without its manifest there is no complete output (a command was killed); the next
//! command that takes the lock removes the leftovers of killed writers (temporary files, never
//! anything else).
//!
//! **`--out` itself** may be a symbolic link: it is the path the user chose (a results
//! directory on another disk is common), and a link planted in a shared sticky directory such
//! as `/tmp` is not followed by Linux for other users anyway (`fs.protected_symlinks`). Inside
//! it nothing is followed: subdirectories the program writes into must be real directories.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// The lock file in every output directory.
pub const LOCK_FILE: &str = ".metastable.lock";
/// Written last by `run`; lists the files of a complete output. Each kind of output has its
/// own manifest, so that outputs of different commands can share a directory.
pub const MANIFEST: &str = "manifest.txt";
/// The manifests of `run --replications`, `robustness`, `sweep` and `merge`, `map`.
pub const REPLICATIONS_MANIFEST: &str = "replications.manifest.txt";
pub const ROBUSTNESS_MANIFEST: &str = "robustness.manifest.txt";
pub const SWEEP_MANIFEST: &str = "sweep.manifest.txt";
pub const MAP_MANIFEST: &str = "map.manifest.txt";
/// Exit code of a command refused because another one holds its output directory.
pub const EXIT_BUSY: u8 = 3;
/// Temporary files and directories start with this …
const TEMP_PREFIX: &str = ".metastable-";
/// … and end with this.
const TEMP_SUFFIX: &str = ".tmp";
/// First line of a manifest.
const MANIFEST_TAG: &str = "# metastable output manifest v1";
/// Largest manifest read back, in bytes.
const MAX_MANIFEST_BYTES: u64 = 16 << 20;

/// Why output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Another process holds the directory (exit code [`EXIT_BUSY`]).
    #[error(
        "{}: output directory in use by another metastable process ({holder}); wait for it to \
         finish or choose another --out",
        dir.display()
    )]
    Busy { dir: PathBuf, holder: String },
    /// Writing, renaming or locking failed, or the path is not safe to write through.
    #[error("cannot write {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
}

impl OutputError {
    /// [`EXIT_BUSY`] for a held directory, 1 for other output failures.
    pub fn exit_code(&self) -> u8 {
        match self {
            OutputError::Busy { .. } => EXIT_BUSY,
            OutputError::Io { .. } => 1,
        }
    }

    fn io(path: &Path, e: impl std::fmt::Display) -> OutputError {
        OutputError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}

/// The directory of `path` (`.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A temporary file in `dir` with a random name, created exclusively (no link followed), with
/// the permissions an ordinary file gets (0666 less the umask, not the temporary 0600).
fn temp_file(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX).suffix(TEMP_SUFFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

/// Writes `bytes` to `path` atomically (see the module documentation).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = temp_file(parent_of(path))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// An output directory held by this process (see the module documentation).
pub struct OutputDir {
    dir: PathBuf,
    _locks: Vec<File>,
    /// This output's manifest (set by [`OutputDir::begin`]).
    manifest: &'static str,
    /// The lock file held alone, removed (still locked) when the command ends.
    remove_on_drop: Option<PathBuf>,
    /// Directories [`OutputDir::lock`] created, deepest first: removed again (if still empty)
    /// when the command ends without writing, so bad input found late leaves nothing behind.
    created: Vec<PathBuf>,
    begun: bool,
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if let Some(path) = &self.remove_on_drop {
            let _ = std::fs::remove_file(path);
        }
        if !self.begun && self.remove_on_drop.is_some() {
            for d in &self.created {
                if std::fs::remove_dir(d).is_err() {
                    break;
                }
            }
        }
    }
}

/// How a command holds its directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// The directory alone (run, sweep, map, merge, …).
    Whole,
    /// One shard: the directory shared with the other shards, the shard's own lock alone.
    Shard,
}

impl OutputDir {
    /// Creates `dir` (and its parents), locks it for `holder` (a short description of this
    /// command, recorded in the lock file for the next one to name) and removes the leftovers
    /// of killed writers. `shard_lock` is the shard's own lock file name with [`Hold::Shard`].
    pub fn lock(
        dir: &Path,
        hold: Hold,
        shard_lock: &str,
        holder: &str,
    ) -> Result<OutputDir, OutputError> {
        let created: Vec<PathBuf> = dir
            .ancestors()
            .filter(|a| !a.as_os_str().is_empty())
            .take_while(|a| std::fs::symlink_metadata(a).is_err())
            .map(Path::to_path_buf)
            .collect();
        std::fs::create_dir_all(dir).map_err(|e| OutputError::io(dir, e))?;
        let meta = std::fs::metadata(dir).map_err(|e| OutputError::io(dir, e))?;
        if !meta.is_dir() {
            return Err(OutputError::io(dir, "not a directory"));
        }
        let mut locks = Vec::new();
        let main_path = dir.join(LOCK_FILE);
        let main = take_lock(dir, &main_path, hold == Hold::Shard)?;
        if hold == Hold::Whole {
            record_holder(&main, holder);
        }
        locks.push(main);
        if hold == Hold::Shard {
            let own = take_lock(dir, &dir.join(shard_lock), false)?;
            record_holder(&own, holder);
            locks.push(own);
        }
        let out = OutputDir {
            dir: dir.to_path_buf(),
            _locks: locks,
            manifest: MANIFEST,
            created,
            begun: false,
            // Held alone, the lock file can go at the end (a process that opened it meanwhile
            // sees it replaced and retries, `take_lock`); held shared, it stays, or a later
            // command could lock a new file while the shards still hold the old one.
            remove_on_drop: (hold == Hold::Whole).then_some(main_path),
        };
        if hold == Hold::Whole {
            // Alone on the directory: every temporary file in it is a killed writer's.
            out.remove_leftovers();
        }
        Ok(out)
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Starts a new output whose manifest is `manifest`: removes the previous one, then the
    /// files it listed (so no file of an earlier output of this kind stays beside this one's).
    pub fn begin(&mut self, manifest: &'static str) -> Result<(), OutputError> {
        self.manifest = manifest;
        self.begun = true;
        let manifest = self.dir.join(manifest);
        let old = crate::scenario::read::read_capped(&manifest, MAX_MANIFEST_BYTES, "manifest")
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        match std::fs::remove_file(&manifest) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(OutputError::io(&manifest, e)),
        }
        let Some(old) = old.filter(|t| t.starts_with(MANIFEST_TAG)) else {
            return Ok(());
        };
        for line in old.lines() {
            if let Some(rel) = line.strip_prefix("file ")
                && let Some(rel) = safe_relative(rel)
                && self.real_dirs_to(rel)
            {
                let _ = std::fs::remove_file(self.dir.join(rel));
            }
        }
        Ok(())
    }

    /// Whether every directory on the way to `rel` inside the directory is a real directory
    /// (not a link), so that removing `rel` cannot reach outside.
    fn real_dirs_to(&self, rel: &Path) -> bool {
        let mut at = self.dir.clone();
        let parts: Vec<Component<'_>> = rel.components().collect();
        parts[..parts.len().saturating_sub(1)].iter().all(|c| {
            at.push(c.as_os_str());
            std::fs::symlink_metadata(&at).is_ok_and(|m| m.is_dir())
        })
    }

    /// The path of `rel` (a relative path of plain names) inside the directory, with its
    /// parent directories created; refuses a parent that is a symbolic link or not a directory.
    pub fn prepare(&self, rel: &str) -> Result<PathBuf, OutputError> {
        let Some(rel) = safe_relative(rel) else {
            return Err(OutputError::io(
                &self.dir.join(rel),
                "not a plain relative path",
            ));
        };
        let mut at = self.dir.clone();
        let parts: Vec<Component<'_>> = rel.components().collect();
        for c in &parts[..parts.len().saturating_sub(1)] {
            at.push(c.as_os_str());
            match std::fs::symlink_metadata(&at) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(OutputError::io(
                        &at,
                        "exists and is not a directory (a symbolic link is not followed)",
                    ));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir(&at).map_err(|e| OutputError::io(&at, e))?;
                }
                Err(e) => return Err(OutputError::io(&at, e)),
            }
        }
        Ok(self.dir.join(rel))
    }

    /// Writes `bytes` to `rel` inside the directory, atomically; returns its path.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> Result<PathBuf, OutputError> {
        let path = self.prepare(rel)?;
        write_atomic(&path, bytes).map_err(|e| OutputError::io(&path, e))?;
        Ok(path)
    }

    /// Writes `rel` inside the directory atomically with `render`, which streams the content
    /// into a buffered temporary file (a long run's `windows.csv` is never whole in memory);
    /// returns its path.
    pub fn write_streamed(
        &self,
        rel: &str,
        render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<PathBuf, OutputError> {
        let path = self.prepare(rel)?;
        let streamed = (|| {
            let mut tmp = temp_file(parent_of(&path))?;
            {
                let mut out = std::io::BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
                render(&mut out)?;
                out.flush()?;
            }
            tmp.as_file().sync_all()?;
            tmp.persist(&path).map_err(|e| e.error)?;
            Ok::<(), std::io::Error>(())
        })();
        streamed.map_err(|e| OutputError::io(&path, e))?;
        Ok(path)
    }

    /// Writes the manifest, last: `about` (lines describing the command: `key: value`), then
    /// one `file REL` line per file written.
    pub fn commit(&self, about: &[(&str, String)], files: &[PathBuf]) -> Result<(), OutputError> {
        let mut text = format!("{MANIFEST_TAG}\n");
        for (k, v) in about {
            text.push_str(&format!("{k}: {}\n", v.replace('\n', " ")));
        }
        for f in files {
            let rel = f.strip_prefix(&self.dir).unwrap_or(f);
            text.push_str(&format!("file {}\n", rel.display()));
        }
        let path = self.dir.join(self.manifest);
        write_atomic(&path, text.as_bytes()).map_err(|e| OutputError::io(&path, e))
    }

    /// Removes temporary files of killed writers in the directory and its subdirectories one
    /// level down: this version's `.metastable-*.tmp`, and earlier versions' staging
    /// directories of the same name and `.NAME.PID.tmp` / `.NAME.PID.N.tmp.png` files.
    fn remove_leftovers(&self) {
        let mut dirs = vec![self.dir.clone()];
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            dirs.extend(entries.filter_map(|e| {
                let e = e.ok()?;
                let is_dir = e.file_type().ok()?.is_dir();
                // A subdirectory with its own lock is another output directory: not ours.
                let own = e.path().join(LOCK_FILE).exists();
                (is_dir && !own && !is_temp(&e.file_name().to_string_lossy())).then(|| e.path())
            }));
        }
        for d in dirs {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                if !is_temp(&e.file_name().to_string_lossy()) {
                    continue;
                }
                match e.file_type() {
                    Ok(t) if t.is_dir() => {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                    Ok(_) => {
                        let _ = std::fs::remove_file(e.path());
                    }
                    Err(_) => {}
                }
            }
        }
    }
}

/// A temporary name of this version (`.metastable-XXXXXX.tmp`) or of earlier ones
/// (`.NAME.PID.tmp`, `.NAME.PID.N.tmp.png`, PID and N digits) — nothing a person would name a
/// file they keep.
fn is_temp(name: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(mid) = name
        .strip_prefix(TEMP_PREFIX)
        .and_then(|r| r.strip_suffix(TEMP_SUFFIX))
    {
        return !mid.is_empty() && mid.bytes().all(|b| b.is_ascii_alphanumeric());
    }
    let Some(rest) = name.strip_prefix('.') else {
        return false;
    };
    if let Some(stem) = rest.strip_suffix(".tmp") {
        return stem.rsplit_once('.').is_some_and(|(_, pid)| digits(pid));
    }
    if let Some(stem) = rest.strip_suffix(".tmp.png") {
        let mut parts = stem.rsplitn(3, '.');
        let (n, pid) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        return digits(n) && digits(pid) && parts.next().is_some();
    }
    false
}

/// `rel` if it is a relative path of plain names (no `..`, no root, not empty).
fn safe_relative(rel: &str) -> Option<&Path> {
    let p = Path::new(rel);
    let plain = p.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && p.components().next().is_some()).then_some(p)
}

/// Opens (creating) a lock file without following a link.
fn open_lock(path: &Path) -> Result<File, OutputError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            OutputError::io(
                path,
                "is a symbolic link (refused: a lock file is never followed)",
            )
        } else {
            OutputError::io(path, e)
        }
    })?;
    match file.metadata() {
        Ok(m) if m.is_file() => Ok(file),
        Ok(_) => Err(OutputError::io(path, "is not a regular file")),
        Err(e) => Err(OutputError::io(path, e)),
    }
}

/// Opens and locks `path` (shared or alone), retrying if the file was replaced between the
/// open and the lock (its holder removed it on exit).
fn take_lock(dir: &Path, path: &Path, shared: bool) -> Result<File, OutputError> {
    for _ in 0..16 {
        let file = open_lock(path)?;
        let taken = if shared {
            file.try_lock_shared()
        } else {
            file.try_lock()
        };
        check_taken(dir, &file, taken)?;
        if same_file(&file, path) {
            return Ok(file);
        }
    }
    Err(OutputError::io(path, "the lock file keeps being replaced"))
}

/// Whether `path` still names the open `file`.
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::symlink_metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

fn check_taken(
    dir: &Path,
    file: &File,
    taken: Result<(), std::fs::TryLockError>,
) -> Result<(), OutputError> {
    match taken {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.take(512).read_to_string(&mut holder);
            let holder = holder.trim();
            Err(OutputError::Busy {
                dir: dir.to_path_buf(),
                holder: if holder.is_empty() {
                    "holder unknown".into()
                } else {
                    holder.to_string()
                },
            })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(OutputError::io(dir, e)),
    }
}

/// Records who holds a lock (best effort: the lock, not this text, is what excludes).
fn record_holder(file: &File, holder: &str) {
    let text = format!("pid {}: {holder}\n", std::process::id());
    let _ = file.set_len(0);
    let _ = { file }.write_all(text.as_bytes());
    let _ = file.sync_data();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_link_is_never_followed() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let outside = tmp.path().join("outside.txt");
        std::fs::write(&outside, "precious").expect("write");
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).expect("mkdir");
        // Links named like every temporary name of the old scheme, and the target itself.
        for name in [
            format!(".windows.csv.{}.tmp", std::process::id()),
            "windows.csv".to_string(),
        ] {
            std::os::unix::fs::symlink(&outside, out.join(name)).expect("symlink");
        }
        write_atomic(&out.join("windows.csv"), b"new").expect("write");
        assert_eq!(std::fs::read_to_string(&outside).expect("read"), "precious");
        assert_eq!(
            std::fs::read_to_string(out.join("windows.csv")).expect("read"),
            "new"
        );
    }

    #[test]
    fn a_second_holder_is_refused_and_named() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let first = OutputDir::lock(tmp.path(), Hold::Whole, "", "metastable run a.toml")
            .expect("first lock");
        let second = OutputDir::lock(tmp.path(), Hold::Whole, "", "metastable run b.toml");
        let Err(e) = second else {
            panic!("second lock taken")
        };
        assert_eq!(e.exit_code(), EXIT_BUSY);
        assert!(e.to_string().contains("metastable run a.toml"), "{e}");
        drop(first);
        OutputDir::lock(tmp.path(), Hold::Whole, "", "again").expect("free again");
    }

    #[test]
    fn shards_share_a_directory_but_not_a_shard() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let _a = OutputDir::lock(tmp.path(), Hold::Shard, ".shard-0.lock", "shard 0").expect("a");
        let _b = OutputDir::lock(tmp.path(), Hold::Shard, ".shard-1.lock", "shard 1").expect("b");
        assert!(OutputDir::lock(tmp.path(), Hold::Shard, ".shard-1.lock", "again").is_err());
        assert!(OutputDir::lock(tmp.path(), Hold::Whole, "", "merge").is_err());
    }

    #[test]
    fn only_temporary_names_are_leftovers() {
        for name in [
            ".metastable-a1B2c3.tmp",
            ".windows.csv.4242.tmp",
            ".dashboard.png.4242.7.tmp.png",
        ] {
            assert!(is_temp(name), "{name}");
        }
        for name in [
            ".notes.tmp",
            "windows.csv",
            ".metastable.lock",
            ".metastable-.tmp",
            ".a.b.tmp.png",
        ] {
            assert!(!is_temp(name), "{name}");
        }
    }

    #[test]
    fn begin_removes_the_previous_output_and_leftovers() {
        let tmp = tempfile::tempdir().expect("temp dir");
        {
            let mut out = OutputDir::lock(tmp.path(), Hold::Whole, "", "one").expect("lock");
            out.begin(MANIFEST).expect("begin");
            let a = out.write("a/windows.csv", b"1").expect("write");
            out.commit(&[("seed", "1".into())], &[a]).expect("commit");
        }
        std::fs::write(tmp.path().join(".metastable-abc.tmp"), "half").expect("leftover");
        std::fs::write(tmp.path().join("a/.windows.csv.99.tmp"), "half").expect("leftover");
        let mut out = OutputDir::lock(tmp.path(), Hold::Whole, "", "two").expect("lock");
        assert!(!tmp.path().join(".metastable-abc.tmp").exists());
        assert!(!tmp.path().join("a/.windows.csv.99.tmp").exists());
        out.begin(MAP_MANIFEST).expect("begin another kind");
        assert!(
            tmp.path().join("a/windows.csv").exists(),
            "another kind's file"
        );
        out.begin(MANIFEST).expect("begin");
        assert!(!tmp.path().join("a/windows.csv").exists(), "old run's file");
        assert!(!tmp.path().join(MANIFEST).exists());
        assert!(out.prepare("../x").is_err());
    }

    #[test]
    fn a_forged_manifest_cannot_remove_files_outside() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).expect("mkdir");
        std::fs::write(outside.join("keep.txt"), "keep").expect("write");
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).expect("mkdir");
        std::os::unix::fs::symlink(&outside, out.join("sub")).expect("symlink");
        std::fs::write(
            out.join(MANIFEST),
            format!("{MANIFEST_TAG}\nfile sub/keep.txt\nfile ../outside/keep.txt\n"),
        )
        .expect("manifest");
        let mut dir = OutputDir::lock(&out, Hold::Whole, "", "t").expect("lock");
        dir.begin(MANIFEST).expect("begin");
        assert!(outside.join("keep.txt").exists());
    }
}
