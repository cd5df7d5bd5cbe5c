//! Replay inputs: the events file, a capture directory (its files in the order they were
//! written) or standard input, and the inventory answers file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use cxrules_engine::replay::MapInventory;
use cxrules_engine::testcase::MockAnswer;

use crate::tools::Hinted;

/// The events, read line by line, and their size in bytes when known (for the progress bar).
pub struct Events {
    /// The reader.
    pub reader: Box<dyn BufRead + Send>,
    /// The file's size, when it is a regular file.
    pub size: Option<u64>,
}

/// Opens the events file; `-` is standard input.
pub fn open_events(path: &Path) -> anyhow::Result<Events> {
    if path.as_os_str() == "-" {
        return Ok(Events {
            reader: Box::new(BufReader::with_capacity(1 << 16, std::io::stdin())),
            size: None,
        });
    }
    if path.is_dir() {
        return open_dir(path);
    }
    let file = File::open(path).map_err(|e| {
        Hinted::error(
            format!("cannot read the events file {}: {e}", path.display()),
            "pass a JSONL file with one recorded event per line, or `-` for standard input",
        )
    })?;
    let size = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    Ok(Events {
        reader: Box::new(BufReader::with_capacity(1 << 16, file)),
        size,
    })
}

/// The files of a capture directory (`serve --capture`), oldest first, read as one stream; a
/// directory without capture files is read as its `*.jsonl` files in name order. A file that
/// does not end with a line break (one being written) is followed by one, so its last line
/// never runs into the next file's first.
fn open_dir(dir: &Path) -> anyhow::Result<Events> {
    let mut files = crate::capture::capture_files(dir);
    if files.is_empty() {
        files = jsonl_files(dir)?;
    }
    if files.is_empty() {
        return Err(Hinted::error(
            format!("{} holds no capture files (*.jsonl)", dir.display()),
            "pass the directory `serve --capture` writes to, or one JSONL file",
        ));
    }
    let mut reader: Box<dyn Read + Send> = Box::new(std::io::empty());
    let mut size = 0;
    for path in files {
        let mut file = File::open(&path).map_err(|e| {
            Hinted::error(
                format!("cannot read the capture file {}: {e}", path.display()),
                "check that the files are readable",
            )
        })?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        size += len;
        let mut last = [b'\n'];
        if len > 0 {
            file.seek(SeekFrom::End(-1))?;
            file.read_exact(&mut last)?;
            file.seek(SeekFrom::Start(0))?;
        }
        reader = Box::new(reader.chain(file));
        if last[0] != b'\n' {
            reader = Box::new(reader.chain(&b"\n"[..]));
        }
    }
    Ok(Events {
        reader: Box::new(BufReader::with_capacity(1 << 16, reader)),
        size: Some(size),
    })
}

fn jsonl_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Hinted::error(
            format!("cannot read the directory {}: {e}", dir.display()),
            "check that the directory is readable",
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    Ok(files)
}

/// Reads a YAML or JSON map of SKU → answer (`in_stock`, `timeout`, `unreachable`, `{error: 503}`).
pub fn load_inventory(path: &Path) -> anyhow::Result<MapInventory> {
    let shown = path.display();
    let hint = "write a map of SKU to status, such as `SKU-VOICE-000001: in_stock` or `SKU-X: {error: 503}`";
    let text = std::fs::read_to_string(path)
        .map_err(|e| Hinted::error(format!("cannot read the inventory file {shown}: {e}"), hint))?;
    let value = cxrules_engine::yaml::parse(&text).map_err(|e| {
        let at = e.line.map(|l| format!(":{l}")).unwrap_or_default();
        Hinted::usage(format!("{shown}{at}: {}", e.message), hint)
    })?;
    if value.is_null() {
        return Ok(MapInventory::default());
    }
    let answers: BTreeMap<String, MockAnswer> =
        cxrules_engine::yaml::from_value(value).map_err(|e| {
            let at = if e.path.is_empty() {
                String::new()
            } else {
                format!(" (at `{}`)", e.path.join("."))
            };
            Hinted::usage(format!("{shown}{at}: {}", e.message), hint)
        })?;
    Ok(MapInventory::new(answers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cxrules_engine::routing::source::LookupError;

    #[test]
    fn yaml_and_json_inventories_load_every_answer_form() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = dir.path().join("inv.yaml");
        std::fs::write(&yaml, "A: in_stock\nB: timeout\nC: {error: 503}\n").unwrap();
        let inv = load_inventory(&yaml).unwrap();
        assert_eq!(inv.answer("A"), Ok("in_stock".into()));
        assert_eq!(inv.answer("B"), Err(LookupError::Timeout));
        assert_eq!(inv.answer("C"), Err(LookupError::Upstream(503)));
        let json = dir.path().join("inv.json");
        std::fs::write(
            &json,
            r#"{"A": "low_stock", "D": {"status": "unreachable"}}"#,
        )
        .unwrap();
        let inv = load_inventory(&json).unwrap();
        assert_eq!(inv.answer("D"), Ok("unreachable".into()));
        assert_eq!(inv.answer("B"), Err(LookupError::Client(404)));
    }

    #[test]
    fn a_directory_reads_its_files_in_order_with_a_break_after_an_unfinished_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("capture-2-000002.jsonl"), "{\"n\":3}\n").unwrap();
        std::fs::write(
            dir.path().join("capture-1-000001.jsonl"),
            "{\"n\":1}\n{\"n\":2}",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not read").unwrap();
        let mut text = String::new();
        open_events(dir.path())
            .unwrap()
            .reader
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
        let empty = tempfile::tempdir().unwrap();
        let e = open_events(empty.path()).err().unwrap();
        assert!(e.to_string().contains("no capture files"), "{e}");
    }

    #[test]
    fn a_bad_inventory_file_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inv.yaml");
        std::fs::write(&path, "A: [1, 2]\n").unwrap();
        let e = load_inventory(&path).unwrap_err();
        assert!(e.to_string().contains("(at `A`)"), "{e}");
        let missing = load_inventory(&dir.path().join("nope.yaml")).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("cannot read the inventory file"),
            "{missing}"
        );
    }
}
