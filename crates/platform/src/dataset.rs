//! A data set the platform serves: entities, compute centers and the record
//! lines in stream order, each kept as its raw text so a bad line is served
//! byte for byte. Loaded from or written to three files:
//! `records.jsonl`, `entities.json` and `centers.json`.

use serde_json::Value;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// File name of the record lines, one per line.
pub const RECORDS_FILE: &str = "records.jsonl";
/// File name of the entities, a JSON array.
pub const ENTITIES_FILE: &str = "entities.json";
/// File name of the compute centers, a JSON array.
pub const CENTERS_FILE: &str = "centers.json";

/// Entities, centers and record lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    /// Entity objects, as served by `GET /v1/entities`.
    pub entities: Vec<Value>,
    /// Compute-center objects, as served by `GET /v1/compute-centers`.
    pub centers: Vec<Value>,
    /// Record lines in stream order, each the raw text of one record (valid JSON or not).
    pub records: Vec<String>,
}

/// A data-set file that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A registry file is not a JSON array.
    #[error("{path}: not a JSON array: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io { path: path.to_owned(), source }
}

fn read_array(path: &Path) -> Result<Vec<Value>, DatasetError> {
    let text = fs::read(path).map_err(io_err(path))?;
    serde_json::from_slice(&text).map_err(|source| DatasetError::Json { path: path.to_owned(), source })
}

/// Splits a JSONL file into lines: `\n` ends a line, white space around a
/// line is not part of it, blank lines are skipped, and bytes that are not
/// UTF-8 are replaced (such a line is malformed anyway).
pub fn split_lines(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|line| !line.is_empty())
        .map(|line| String::from_utf8_lossy(line).into_owned())
        .collect()
}

fn write_array(path: &Path, items: &[Value]) -> Result<(), DatasetError> {
    let mut text = String::from("[\n");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            text.push_str(",\n");
        }
        text.push_str(&item.to_string());
    }
    text.push_str("\n]\n");
    fs::write(path, text).map_err(io_err(path))
}

impl Dataset {
    /// Loads the three files.
    pub fn from_files(records: &Path, entities: &Path, centers: &Path) -> Result<Dataset, DatasetError> {
        let bytes = fs::read(records).map_err(io_err(records))?;
        Ok(Dataset { entities: read_array(entities)?, centers: read_array(centers)?, records: split_lines(&bytes) })
    }

    /// Loads `records.jsonl`, `entities.json` and `centers.json` from a directory.
    pub fn from_dir(dir: &Path) -> Result<Dataset, DatasetError> {
        Dataset::from_files(&dir.join(RECORDS_FILE), &dir.join(ENTITIES_FILE), &dir.join(CENTERS_FILE))
    }

    /// Writes `records.jsonl`, `entities.json` and `centers.json` into `dir`, creating it.
    pub fn write_files(&self, dir: &Path) -> Result<(), DatasetError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let path = dir.join(RECORDS_FILE);
        let file = fs::File::create(&path).map_err(io_err(&path))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        for line in &self.records {
            out.write_all(line.as_bytes()).map_err(io_err(&path))?;
            out.write_all(b"\n").map_err(io_err(&path))?;
        }
        out.flush().map_err(io_err(&path))?;
        write_array(&dir.join(ENTITIES_FILE), &self.entities)?;
        write_array(&dir.join(CENTERS_FILE), &self.centers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_round_trips_files() {
        assert_eq!(split_lines(b"a\r\n\n  \n b \n{oops"), vec!["a", "b", "{oops"]);
        let d = Dataset {
            entities: vec![serde_json::json!({"credit_code": "x", "name": "合肥某公司"})],
            centers: vec![],
            records: vec![r#"{"record_id":"r-1"}"#.into(), "{broken".into()],
        };
        let dir = tempfile::tempdir().unwrap();
        d.write_files(dir.path()).unwrap();
        assert_eq!(Dataset::from_dir(dir.path()).unwrap(), d);
        assert!(matches!(Dataset::from_dir(&dir.path().join("nope")), Err(DatasetError::Io { .. })));
    }
}
