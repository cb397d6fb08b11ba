//! Authentication and roles.
//!
//! Every API but health needs credentials: a bearer token, or a client certificate verified
//! by the configured CA (mutual TLS). A token is 32 random bytes, shown once when created;
//! `DATA/tokens.json` (mode 0600) keeps only its SHA-256, its name, id and role. A client
//! certificate maps to a role when its subject common name or a subject alternative name is
//! listed in `[[tls.client_roles]]`.
//!
//! Roles: `ingest` may only send events, `read` may only read (queries, metrics), `admin`
//! may do both. No credentials or unknown ones: 401; the wrong role: 403.
//!
//! Invariants: a token's secret is never stored or logged; `tokens.json` is replaced
//! atomically; the server rereads it when it changes, so that `auditrail token create` and
//! `token revoke` take effect on a running server within [`TOKEN_RELOAD_INTERVAL`].

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock;
use crate::config::{ClientRole, read_text};
use crate::error::ServerError;
use crate::limits::{CONFIG_FILE_BYTES_MAX, TOKEN_RELOAD_INTERVAL, TOKENS_MAX};

/// The file of token hashes in the data directory.
pub const TOKENS_FILE: &str = "tokens.json";

/// The file holding the first admin token, created on first start.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// Prefix of every token, so that secret scanners recognise them.
pub const TOKEN_PREFIX: &str = "adt_";

/// What credentials may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Send events (the webhook, collectors, agents).
    Ingest,
    /// Read the trail and the metrics.
    Read,
    /// Everything.
    Admin,
}

impl Role {
    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Read => "read",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may do `action`.
    pub fn allows(self, action: Action) -> bool {
        matches!(
            (self, action),
            (Role::Admin, _) | (Role::Ingest, Action::Ingest) | (Role::Read, Action::Read)
        )
    }
}

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Store events.
    Ingest,
    /// Read events, metrics.
    Read,
}

impl Action {
    pub(crate) fn verb(self) -> &'static str {
        match self {
            Action::Ingest => "ingest events",
            Action::Read => "read the trail",
        }
    }
}

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `token:<name>` or `cert:<subject>`.
    pub name: Arc<str>,
    /// The role.
    pub role: Role,
}

/// The verified client certificate of a connection, put into each request's extensions by
/// the listener.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerIdentity {
    /// Subject common names.
    pub common_names: Vec<String>,
    /// DNS names, IP addresses and other subject alternative names, as text.
    pub alt_names: Vec<String>,
}

/// The address a request came from, put into each request's extensions by the listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// One token in `tokens.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    /// Short id (hex), for revocation and logs.
    pub id: String,
    /// Name given at creation.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Hex SHA-256 of the token.
    pub sha256: String,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokensFile {
    version: u32,
    tokens: Vec<TokenEntry>,
}

/// The tokens of a data directory: create, list, revoke.
#[derive(Debug, Clone)]
pub struct Tokens {
    path: PathBuf,
}

impl Tokens {
    /// The tokens of the data directory `data`.
    pub fn new(data: &Path) -> Tokens {
        Tokens {
            path: data.join(TOKENS_FILE),
        }
    }

    /// The token file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every token.
    pub fn list(&self) -> Result<Vec<TokenEntry>, ServerError> {
        Ok(self.read()?.tokens)
    }

    /// Creates a token; returns its secret (shown once) and its entry. Without a name, the
    /// name is `<role>-<id>`.
    pub fn create(
        &self,
        role: Role,
        name: Option<&str>,
        now: SystemTime,
    ) -> Result<(String, TokenEntry), ServerError> {
        let mut file = self.read()?;
        if file.tokens.len() >= TOKENS_MAX {
            return Err(ServerError::Config {
                path: self.path.clone(),
                reason: format!("holds {TOKENS_MAX} tokens, the limit; revoke some"),
            });
        }
        let mut secret_bytes = [0u8; 32];
        getrandom::fill(&mut secret_bytes).map_err(|e| ServerError::Random(e.to_string()))?;
        let secret = format!(
            "{TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret_bytes)
        );
        let hash = hex(&token_hash(&secret));
        let id = hash[..12].to_owned();
        let name = name.map_or_else(|| format!("{}-{id}", role.as_str()), str::to_owned);
        if file.tokens.iter().any(|token| token.name == name) {
            return Err(ServerError::DuplicateToken(name));
        }
        let entry = TokenEntry {
            id,
            name,
            role,
            sha256: hash,
            created: now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        };
        file.tokens.push(entry.clone());
        self.write(&file)?;
        Ok((secret, entry))
    }

    /// Revokes the token named `name_or_id` or with that id; returns it.
    pub fn revoke(&self, name_or_id: &str) -> Result<TokenEntry, ServerError> {
        let mut file = self.read()?;
        let position = file
            .tokens
            .iter()
            .position(|token| token.name == name_or_id || token.id == name_or_id)
            .ok_or_else(|| ServerError::UnknownToken(name_or_id.to_owned()))?;
        let entry = file.tokens.remove(position);
        self.write(&file)?;
        Ok(entry)
    }

    /// On first start: when `admin.token` does not exist and no admin token is known,
    /// creates an admin token named `admin` and writes it to `DATA/admin.token` (mode 0600).
    /// Returns the file's path when it was created.
    pub fn ensure_admin(&self, now: SystemTime) -> Result<Option<PathBuf>, ServerError> {
        let Some(data) = self.path.parent() else {
            return Ok(None);
        };
        let admin_path = data.join(ADMIN_TOKEN_FILE);
        if admin_path.exists() || self.list()?.iter().any(|t| t.role == Role::Admin) {
            return Ok(None);
        }
        let (secret, _) = self.create(Role::Admin, Some("admin"), now)?;
        write_private(&admin_path, format!("{secret}\n").as_bytes())?;
        Ok(Some(admin_path))
    }

    fn read(&self) -> Result<TokensFile, ServerError> {
        match std::fs::metadata(&self.path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(TokensFile {
                    version: 1,
                    tokens: Vec::new(),
                });
            }
            _ => {}
        }
        let text = read_text(&self.path, CONFIG_FILE_BYTES_MAX)?;
        serde_json::from_str(&text).map_err(|error| ServerError::Config {
            path: self.path.clone(),
            reason: error.to_string(),
        })
    }

    fn write(&self, file: &TokensFile) -> Result<(), ServerError> {
        let mut text = serde_json::to_vec_pretty(file).map_err(|error| ServerError::Config {
            path: self.path.clone(),
            reason: error.to_string(),
        })?;
        text.push(b'\n');
        write_private(&self.path, &text)
    }
}

/// Writes `bytes` to `path` atomically with owner-only permissions.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ServerError> {
    let temporary = path.with_extension("tmp");
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ServerError::Io { path, source }
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary).map_err(io(&temporary))?;
    file.write_all(bytes).map_err(io(&temporary))?;
    file.sync_all().map_err(io(&temporary))?;
    std::fs::rename(&temporary, path).map_err(io(path))
}

/// SHA-256 of a token.
pub fn token_hash(secret: &str) -> [u8; 32] {
    let digest = Sha256::digest(secret.as_bytes());
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&digest);
    hash
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug)]
struct Loaded {
    by_hash: HashMap<String, Principal>,
    modified: Option<SystemTime>,
    checked: Instant,
}

/// Checks credentials against the token file and the client certificate roles.
#[derive(Debug)]
pub struct Authenticator {
    tokens: Tokens,
    loaded: RwLock<Loaded>,
    client_roles: Vec<ClientRole>,
}

impl Authenticator {
    /// Loads the tokens of `tokens`.
    pub fn new(
        tokens: Tokens,
        client_roles: Vec<ClientRole>,
    ) -> Result<Authenticator, ServerError> {
        let loaded = load(&tokens)?;
        Ok(Authenticator {
            tokens,
            loaded: RwLock::new(loaded),
            client_roles,
        })
    }

    /// The principal of a bearer token, if the token is known.
    pub fn token(&self, secret: &str) -> Option<Principal> {
        self.reload_if_changed();
        let hash = hex(&token_hash(secret));
        let loaded = self.loaded.read().ok()?;
        loaded.by_hash.get(&hash).cloned()
    }

    /// The principal of a verified client certificate, if its subject has a role.
    pub fn certificate(&self, peer: &PeerIdentity) -> Option<Principal> {
        self.client_roles.iter().find_map(|rule| {
            let matches = peer
                .common_names
                .iter()
                .chain(&peer.alt_names)
                .any(|name| *name == rule.subject);
            matches.then(|| Principal {
                name: Arc::from(format!("cert:{}", rule.subject)),
                role: rule.role,
            })
        })
    }

    fn reload_if_changed(&self) {
        let due = self
            .loaded
            .read()
            .is_ok_and(|loaded| loaded.checked.elapsed() >= TOKEN_RELOAD_INTERVAL);
        if !due {
            return;
        }
        let Ok(mut loaded) = self.loaded.write() else {
            return;
        };
        loaded.checked = clock::instant();
        let modified = modified(self.tokens.path());
        if modified == loaded.modified {
            return;
        }
        match load(&self.tokens) {
            Ok(fresh) => *loaded = fresh,
            // Keep the tokens known so far; the file may be mid-replacement.
            Err(error) => tracing::warn!("cannot reload tokens: {error}"),
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn load(tokens: &Tokens) -> Result<Loaded, ServerError> {
    let modified = modified(tokens.path());
    let by_hash = tokens
        .list()?
        .into_iter()
        .map(|entry| {
            let principal = Principal {
                name: Arc::from(format!("token:{}", entry.name)),
                role: entry.role,
            };
            (entry.sha256, principal)
        })
        .collect();
    Ok(Loaded {
        by_hash,
        modified,
        checked: clock::instant(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_authenticate_revoke() {
        let data = tempfile::tempdir().unwrap();
        let tokens = Tokens::new(data.path());
        let now = UNIX_EPOCH;
        let admin = tokens.ensure_admin(now).unwrap().unwrap();
        assert!(tokens.ensure_admin(now).unwrap().is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&admin).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = std::fs::metadata(tokens.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let admin_secret = std::fs::read_to_string(&admin).unwrap();
        let (secret, entry) = tokens.create(Role::Ingest, Some("hook"), now).unwrap();
        assert!(secret.starts_with(TOKEN_PREFIX));
        let stored = std::fs::read_to_string(tokens.path()).unwrap();
        assert!(!stored.contains(&secret), "the secret is not stored");
        let auth = Authenticator::new(tokens.clone(), Vec::new()).unwrap();
        assert_eq!(auth.token(&secret).unwrap().role, Role::Ingest);
        assert_eq!(auth.token(admin_secret.trim()).unwrap().role, Role::Admin);
        assert!(auth.token("adt_nope").is_none());
        assert!(matches!(
            tokens.create(Role::Read, Some("hook"), now),
            Err(ServerError::DuplicateToken(_))
        ));
        assert_eq!(tokens.revoke(&entry.id).unwrap().name, "hook");
        assert!(tokens.revoke("hook").is_err());
        let auth = Authenticator::new(tokens, Vec::new()).unwrap();
        assert!(auth.token(&secret).is_none());
    }

    #[test]
    fn roles() {
        assert!(Role::Ingest.allows(Action::Ingest));
        assert!(!Role::Ingest.allows(Action::Read));
        assert!(Role::Read.allows(Action::Read));
        assert!(!Role::Read.allows(Action::Ingest));
        assert!(Role::Admin.allows(Action::Read) && Role::Admin.allows(Action::Ingest));
    }
}
