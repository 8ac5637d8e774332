//! Saving what the user changed in the monitor (sort, theme, pins) back
//! into an existing config file: only those keys are replaced, everything
//! else (comments, order, other keys) is kept as written (toml_edit), and
//! the file is replaced atomically: a temporary file in the same
//! directory, flushed, then renamed over it, so a crash leaves the old
//! file or the new one, never half of one.

use std::io::Write;
use std::path::Path;

use toml_edit::{value, Array, DocumentMut, Item, Table};

/// The preferences the monitor saves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prefs {
    pub sort: Option<&'static str>,
    pub theme: Option<String>,
    pub pinned_processes: Vec<String>,
    pub pinned_remotes: Vec<String>,
}

/// `text` with `prefs` written in (pure: the tests' seam).
pub fn update_text(text: &str, prefs: &Prefs) -> Result<String, String> {
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        e.message().lines().next().unwrap_or("invalid").to_string()
    })?;
    if let Some(sort) = prefs.sort {
        set(doc.as_table_mut(), "sort", sort.into());
    }
    if let Some(theme) = &prefs.theme {
        set(doc.as_table_mut(), "theme", theme.as_str().into());
    }
    let pinned = !prefs.pinned_processes.is_empty() || !prefs.pinned_remotes.is_empty();
    if pinned || doc.contains_key("pins") {
        let pins = doc
            .entry("pins")
            .or_insert_with(|| Item::Table(Table::new()));
        let Some(pins) = pins.as_table_like_mut() else {
            return Err("'pins' is not a table".to_string());
        };
        for (key, items) in [
            ("processes", &prefs.pinned_processes),
            ("remotes", &prefs.pinned_remotes),
        ] {
            if !items.is_empty() || pins.contains_key(key) {
                let array: Array = items.iter().map(String::as_str).collect();
                set(pins, key, toml_edit::Value::Array(array));
            }
        }
    }
    Ok(doc.to_string())
}

/// Sets `key` to `new`, keeping the old value's decoration (the spaces
/// and trailing comment around it).
fn set(table: &mut dyn toml_edit::TableLike, key: &str, new: toml_edit::Value) {
    match table.get_mut(key).and_then(Item::as_value_mut) {
        Some(old) => {
            let decor = old.decor().clone();
            *old = new;
            *old.decor_mut() = decor;
        }
        None => {
            table.insert(key, value(new));
        }
    }
}

/// Rewrites the file at `path` with `prefs`, atomically. Does nothing
/// when the file does not exist (netop writes no file nobody asked for).
pub fn save(path: &Path, prefs: &Prefs) -> std::io::Result<bool> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let updated = update_text(&text, prefs).map_err(std::io::Error::other)?;
    if updated == text {
        return Ok(true);
    }
    write_atomic(path, updated.as_bytes())?;
    Ok(true)
}

/// Writes `bytes` to `path` through a temporary file in its directory and
/// a rename, keeping the old file's permissions.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config.toml".to_string());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        if let Ok(meta) = std::fs::metadata(path) {
            file.set_permissions(meta.permissions())?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
