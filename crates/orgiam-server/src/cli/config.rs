//! Saved connections: `orgiam login` writes a profile (URL and key) to
//! `$XDG_CONFIG_HOME/orgiam/profiles.yaml` (or `~/.config/orgiam/profiles.yaml`), readable by
//! its owner only (mode 0600); `orgiam logout` removes it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::http::{Failure, Outcome};

/// One saved connection.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Profile {
    /// The server's base URL.
    pub url: String,
    /// The API key.
    pub key: String,
}

/// Every saved profile, by name.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Profiles {
    /// Profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// The profile file's path.
pub fn path() -> Outcome<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => return Err(Failure::new("neither XDG_CONFIG_HOME nor HOME is set")),
        },
    };
    Ok(base.join("orgiam").join("profiles.yaml"))
}

/// The saved profiles (none if the file does not exist).
pub fn load() -> Outcome<Profiles> {
    let p = path()?;
    match std::fs::read_to_string(&p) {
        Ok(s) => serde_yaml_ng::from_str(&s)
            .map_err(|e| Failure::new(format!("cannot read {}: {e}", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Profiles::default()),
        Err(e) => Err(Failure::new(format!("cannot read {}: {e}", p.display()))),
    }
}

/// Writes the profiles, creating the directory; the file is readable by its owner only.
pub fn save(profiles: &Profiles) -> Outcome<PathBuf> {
    let p = path()?;
    let fail = |e: std::io::Error| Failure::new(format!("cannot write {}: {e}", p.display()));
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let text = serde_yaml_ng::to_string(profiles).map_err(|e| Failure::new(e.to_string()))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    use std::io::Write as _;
    let mut f = opts.open(&p).map_err(fail)?;
    // an existing file keeps its mode on open: set it again
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(fail)?;
    }
    f.write_all(text.as_bytes()).map_err(fail)?;
    Ok(p)
}
