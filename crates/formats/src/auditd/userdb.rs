//! Names for user and group ids, from passwd and group texts the operator supplies.
//!
//! auditrail never reads `/etc/passwd` of the machine it runs on: the log comes from another
//! host, whose ids mean other people. Names come only from the log itself (ENRICHED
//! interpretations) or from this database, built from the *contents* of that host's files.

use std::collections::HashMap;

use crate::limits::AUDITD_USER_DB_ENTRIES_MAX;

/// User and group names by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserDb {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
}

/// A passwd or group text that could not be fully read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserDbError {
    /// More lines than [`AUDITD_USER_DB_ENTRIES_MAX`].
    #[error("{file} has more than {AUDITD_USER_DB_ENTRIES_MAX} entries")]
    TooManyEntries {
        /// `passwd` or `group`.
        file: &'static str,
    },
}

impl UserDb {
    /// An empty database: only `0` is named (`root`), as auparse always does.
    pub fn new() -> UserDb {
        UserDb::default()
    }

    /// Reads `passwd` (`name:x:uid:gid:…`) and `group` (`name:x:gid:members`) texts. Comment,
    /// blank and malformed lines are skipped (NIS `+` lines too); the first name for an id
    /// wins, as with NSS.
    pub fn from_passwd_group(passwd: &[u8], group: &[u8]) -> Result<UserDb, UserDbError> {
        Ok(UserDb {
            users: read_entries(passwd, "passwd")?,
            groups: read_entries(group, "group")?,
        })
    }

    /// The user name of `uid`.
    pub fn user(&self, uid: u32) -> Option<&str> {
        match uid {
            0 => Some("root"),
            _ => self.users.get(&uid).map(String::as_str),
        }
    }

    /// The group name of `gid`.
    pub fn group(&self, gid: u32) -> Option<&str> {
        match gid {
            0 => Some("root"),
            _ => self.groups.get(&gid).map(String::as_str),
        }
    }
}

fn read_entries(text: &[u8], file: &'static str) -> Result<HashMap<u32, String>, UserDbError> {
    let mut entries = HashMap::new();
    for (count, line) in text.split(|&byte| byte == b'\n').enumerate() {
        if count >= AUDITD_USER_DB_ENTRIES_MAX {
            return Err(UserDbError::TooManyEntries { file });
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() || matches!(line[0], b'#' | b'+' | b'-') {
            continue;
        }
        let mut parts = line.split(|&byte| byte == b':');
        let (Some(name), Some(_password), Some(id)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        let Some(id) = std::str::from_utf8(id)
            .ok()
            .and_then(|id| id.parse::<u32>().ok())
        else {
            continue;
        };
        if !name.is_empty() {
            entries.entry(id).or_insert_with(|| name.to_owned());
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_passwd_and_group() {
        let passwd = b"root:x:0:0:root:/root:/bin/bash\n# comment\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\nbad line\nalias:x:1000:1000::/:/bin/sh\n";
        let group = b"root:x:0:\nshadow:x:42:\nalice:x:1000:\n";
        let db = UserDb::from_passwd_group(passwd, group).unwrap();
        assert_eq!(db.user(0), Some("root"));
        assert_eq!(db.user(1000), Some("alice"));
        assert_eq!(db.user(1001), None);
        assert_eq!(db.group(42), Some("shadow"));
        assert_eq!(UserDb::new().user(0), Some("root"));
        assert_eq!(UserDb::new().group(5), None);
    }
}
