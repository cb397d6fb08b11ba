//! `[[sources]]` of the configuration file: what to collect and how to decode it. Shared by
//! `auditrail serve` and `auditrail agent`.
//!
//! ```toml
//! [[sources]]
//! name = "apiserver"                 # unique; names the state file and the metrics label
//! type = "file"
//! paths = ["/var/log/kube-apiserver/audit*.log"]
//! format = "k8s"                     # auto, k8s, k8s-legacy, okd, mke, dcos, auditd, jsonl
//!
//! [[sources]]
//! name = "adminrouter"
//! type = "journal"
//! format = "dcos"
//! units = ["dcos-adminrouter.service"]
//! ```

use std::path::PathBuf;
use std::time::Duration;

use formats::InputFormat;
use serde::{Deserialize, Deserializer};

use crate::limits::POLL_INTERVAL;

/// One `[[sources]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SourceConfig {
    /// Log files named by paths and glob patterns, tailed.
    File(FileSource),
    /// The systemd journal through `journalctl -o json --follow`.
    Journal(JournalSource),
}

impl SourceConfig {
    /// The source's name.
    pub fn name(&self) -> &str {
        match self {
            SourceConfig::File(source) => &source.name,
            SourceConfig::Journal(source) => &source.name,
        }
    }

    /// The format its records are decoded with.
    pub fn format(&self) -> InputFormat {
        match self {
            SourceConfig::File(source) => source.format,
            SourceConfig::Journal(source) => source.format,
        }
    }
}

/// Where a source starts the first time it sees a file (or the journal): afterwards it
/// always resumes where it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    /// Everything already there (the default: an audit trail wants every record).
    #[default]
    Beginning,
    /// Only what is written from now on (files present at the first scan, the journal).
    End,
}

/// `type = "file"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSource {
    /// Unique name of the source.
    pub name: String,
    /// Paths and glob patterns (`*`, `?`, `[…]`, `**`). Rotated files that still match a
    /// pattern are read to their end; new files that match are picked up.
    pub paths: Vec<String>,
    /// Format of the files' records (default `auto`). Docker json-file logs of MKE's
    /// `ucp-controller` are `mke`.
    #[serde(default = "auto", deserialize_with = "format")]
    pub format: InputFormat,
    /// Where to start in files present at the first scan.
    #[serde(default)]
    pub start_at: StartAt,
    /// How often files are checked for new data, rotation and truncation, in milliseconds.
    #[serde(default)]
    pub poll_interval_ms: Option<u64>,
}

impl FileSource {
    /// The poll interval in force.
    pub fn poll_interval(&self) -> Duration {
        self.poll_interval_ms
            .map_or(POLL_INTERVAL, |ms| Duration::from_millis(ms.max(10)))
    }
}

/// `type = "journal"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalSource {
    /// Unique name of the source.
    pub name: String,
    /// Format of each entry's `MESSAGE` (`dcos` reads the whole entry). Default `auto`.
    #[serde(default = "auto", deserialize_with = "format")]
    pub format: InputFormat,
    /// Systemd units to read (`journalctl --unit`), e.g. `dcos-adminrouter.service`,
    /// `atomic-openshift-master-api.service`.
    #[serde(default)]
    pub units: Vec<String>,
    /// Syslog identifiers to read (`journalctl --identifier`), e.g. `atomic-openshift-master`.
    #[serde(default)]
    pub identifiers: Vec<String>,
    /// A journal directory to read instead of the system journal (`journalctl --directory`).
    #[serde(default)]
    pub directory: Option<PathBuf>,
    /// The `journalctl` program (default: `journalctl` on the `PATH`). Tests point it at a
    /// stand-in that prints `journalctl -o json` lines.
    #[serde(default)]
    pub command: Option<PathBuf>,
    /// Where to start the first time, when no cursor is saved.
    #[serde(default)]
    pub start_at: StartAt,
}

fn auto() -> InputFormat {
    InputFormat::Auto
}

fn format<'de, D: Deserializer<'de>>(deserializer: D) -> Result<InputFormat, D::Error> {
    let name = String::deserialize(deserializer)?;
    parse_format(&name).ok_or_else(|| {
        let known: Vec<&str> = InputFormat::ALL.iter().map(|(_, name)| *name).collect();
        serde::de::Error::custom(format!(
            "unknown format {name:?}; use one of {}",
            known.join(", ")
        ))
    })
}

/// The format named `name` on the command line.
pub fn parse_format(name: &str) -> Option<InputFormat> {
    InputFormat::ALL
        .iter()
        .find(|(_, known)| *known == name)
        .map(|(format, _)| *format)
}

/// Checks a list of sources: names unique, non-empty and usable as file names, every file
/// source with a path. Returns what is wrong, for the operator.
pub fn validate(sources: &[SourceConfig]) -> Result<(), String> {
    let mut names = std::collections::HashSet::new();
    for source in sources {
        let name = source.name();
        let usable = !name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
            && !name.starts_with('.');
        if !usable {
            return Err(format!(
                "source name {name:?}: use 1 to 128 letters, digits, '-', '_' or '.', not starting with '.'"
            ));
        }
        if !names.insert(name) {
            return Err(format!(
                "two sources are named {name:?}; names must be unique"
            ));
        }
        if let SourceConfig::File(file) = source {
            if file.paths.is_empty() {
                return Err(format!(
                    "source {name:?}: give at least one path in `paths`"
                ));
            }
            for pattern in &file.paths {
                glob::Pattern::new(pattern).map_err(|error| {
                    format!("source {name:?}: bad pattern {pattern:?}: {error}")
                })?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        sources: Vec<SourceConfig>,
    }

    #[test]
    fn sources_parse_with_defaults_and_reject_unknown_keys() {
        let file: File = toml::from_str(
            r#"
            [[sources]]
            name = "apiserver"
            type = "file"
            paths = ["/var/log/audit*.log"]
            format = "k8s"

            [[sources]]
            name = "adminrouter"
            type = "journal"
            format = "dcos"
            units = ["dcos-adminrouter.service"]
            "#,
        )
        .unwrap();
        assert_eq!(file.sources.len(), 2);
        assert_eq!(file.sources[0].format(), InputFormat::K8s);
        assert_eq!(file.sources[1].name(), "adminrouter");
        validate(&file.sources).unwrap();
        let error = toml::from_str::<File>(
            "[[sources]]\nname = \"a\"\ntype = \"file\"\npaths = [\"x\"]\npath = \"y\"\n",
        )
        .unwrap_err();
        assert!(error.to_string().contains("path"), "{error}");
        let error = toml::from_str::<File>(
            "[[sources]]\nname = \"a\"\ntype = \"file\"\npaths = [\"x\"]\nformat = \"k9s\"\n",
        )
        .unwrap_err();
        assert!(error.to_string().contains("k8s-legacy"), "{error}");
    }

    #[test]
    fn names_must_be_unique_and_plain() {
        let source = |name: &str| {
            SourceConfig::File(FileSource {
                name: name.to_owned(),
                paths: vec!["x".to_owned()],
                format: InputFormat::Auto,
                start_at: StartAt::Beginning,
                poll_interval_ms: None,
            })
        };
        assert!(validate(&[source("a"), source("a")]).is_err());
        assert!(validate(&[source("../etc")]).is_err());
        assert!(validate(&[source("a"), source("b-1.x")]).is_ok());
    }
}
