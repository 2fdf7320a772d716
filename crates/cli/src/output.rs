//! Output files written whole: every file a command writes goes to a temporary
//! file in the target's folder, is flushed and synced, and is renamed over the
//! target (then the folder is synced). A crash or kill at any moment leaves the
//! old file or the complete new one, never a part. An existing file is replaced
//! only when the command was given `--force`.

use anyhow::{anyhow, Context, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// A file being written; it appears under its name only when [`Output::commit`] succeeds.
#[derive(Debug)]
pub struct Output {
    target: PathBuf,
    force: bool,
    tmp: BufWriter<NamedTempFile>,
}

/// The folder a path is in (`.` for a bare name).
fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Refuses an existing target unless replacing was asked for.
fn check_target(target: &Path, force: bool) -> Result<()> {
    if !force && target.symlink_metadata().is_ok() {
        return Err(anyhow!("{} already exists; give --force to replace it", target.display()));
    }
    Ok(())
}

/// Syncs a folder so a rename in it survives a crash.
fn sync_folder(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("cannot sync the folder {}", dir.display()))
}

impl Output {
    /// Starts writing `target`: refused when it exists and `force` is off.
    pub fn create(target: &Path, force: bool) -> Result<Output> {
        check_target(target, force)?;
        let dir = folder(target);
        let tmp = NamedTempFile::new_in(dir).with_context(|| format!("cannot create a temporary file in {} for {}", dir.display(), target.display()))?;
        Ok(Output { target: target.to_path_buf(), force, tmp: BufWriter::with_capacity(1 << 20, tmp) })
    }

    /// Where the bytes go until the commit.
    pub fn writer(&mut self) -> &mut impl Write {
        &mut self.tmp
    }

    /// Flushes, syncs and renames the file into place, then syncs its folder.
    pub fn commit(self) -> Result<()> {
        let target = self.target;
        let tmp = self.tmp.into_inner().map_err(|e| anyhow!("cannot write {}: {}", target.display(), e.error()))?;
        tmp.as_file().sync_all().with_context(|| format!("cannot sync {}", target.display()))?;
        let persisted = if self.force { tmp.persist(&target).map(drop) } else { tmp.persist_noclobber(&target).map(drop) };
        persisted.map_err(|e| match e.error.kind() {
            std::io::ErrorKind::AlreadyExists => anyhow!("{} already exists; give --force to replace it", target.display()),
            _ => anyhow!("cannot write {}: {}", target.display(), e.error),
        })?;
        sync_folder(folder(&target))
    }
}

/// Writes `bytes` to `target` whole.
pub fn write_whole(target: &Path, force: bool, bytes: &[u8]) -> Result<()> {
    let mut out = Output::create(target, force)?;
    out.writer().write_all(bytes).with_context(|| format!("cannot write {}", target.display()))?;
    out.commit()
}

/// Writes several files into `dir` whole: `write` fills a temporary folder inside
/// `dir`, then each of `names` is synced and renamed into `dir`. Every target is
/// checked before any is replaced.
pub fn write_folder(dir: &Path, force: bool, names: &[&str], write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for name in names {
        check_target(&dir.join(name), force)?;
    }
    let staging = tempfile::Builder::new().prefix(".staging").tempdir_in(dir).with_context(|| format!("cannot create a temporary folder in {}", dir.display()))?;
    write(staging.path())?;
    for name in names {
        let (from, to) = (staging.path().join(name), dir.join(name));
        File::open(&from).and_then(|f| f.sync_all()).with_context(|| format!("cannot sync {}", to.display()))?;
        place(&from, &to, force)?;
    }
    sync_folder(dir)
}

/// Writes a data set's three files (`records.jsonl`, `entities.json`, `centers.json`) into `dir` whole.
pub fn write_dataset(data: &subsidy_platform::dataset::Dataset, dir: &Path, force: bool) -> Result<()> {
    use subsidy_platform::dataset::{CENTERS_FILE, ENTITIES_FILE, RECORDS_FILE};
    write_folder(dir, force, &[RECORDS_FILE, ENTITIES_FILE, CENTERS_FILE], |staging| data.write_files(staging).with_context(|| format!("cannot write the data set to {}", dir.display())))
}

/// Renames `from` to `to`; without `force`, never over a file that appeared meanwhile.
fn place(from: &Path, to: &Path, force: bool) -> Result<()> {
    let placed = if force { std::fs::rename(from, to) } else { std::fs::hard_link(from, to).and_then(|()| std::fs::remove_file(from)) };
    placed.map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => anyhow!("{} already exists; give --force to replace it", to.display()),
        _ => anyhow!("cannot write {}: {e}", to.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_new_file_and_replaces_only_with_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        write_whole(&path, false, b"first\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first\n");
        let refused = write_whole(&path, false, b"second\n").unwrap_err().to_string();
        assert!(refused.contains("out.csv") && refused.contains("--force"), "{refused}");
        assert_eq!(std::fs::read(&path).unwrap(), b"first\n");
        write_whole(&path, true, b"second\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left behind");
    }

    #[test]
    fn an_unfinished_file_never_appears() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        std::fs::write(&path, b"old\n").unwrap();
        let mut out = Output::create(&path, true).unwrap();
        out.writer().write_all(b"half of the new").unwrap();
        drop(out);
        assert_eq!(std::fs::read(&path).unwrap(), b"old\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_file_created_meanwhile_is_not_clobbered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let out = Output::create(&path, false).unwrap();
        std::fs::write(&path, b"someone else's\n").unwrap();
        assert!(out.commit().unwrap_err().to_string().contains("--force"));
        assert_eq!(std::fs::read(&path).unwrap(), b"someone else's\n");
    }

    #[test]
    fn writes_a_folder_of_files_and_refuses_existing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let files = |text: &'static str| move |d: &Path| -> Result<()> { ["a", "b"].iter().try_for_each(|n| Ok(std::fs::write(d.join(n), text)?)) };
        write_folder(dir.path(), false, &["a", "b"], files("1")).unwrap();
        assert!(write_folder(dir.path(), false, &["a", "b"], files("2")).unwrap_err().to_string().contains("--force"));
        assert_eq!(std::fs::read_to_string(dir.path().join("b")).unwrap(), "1");
        write_folder(dir.path(), true, &["a", "b"], files("2")).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("a")).unwrap(), "2");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "the staging folder is gone");
    }
}
