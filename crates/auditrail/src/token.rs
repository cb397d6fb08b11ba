//! `auditrail token create|revoke|list`: the server's API tokens, kept hashed in
//! `DATA/tokens.json`. A running server picks changes up within a second.

use std::io::Write;

use anyhow::{Context, Result};
use server::{Role, Tokens};

use crate::cli::{CommonArgs, TokenCommand, TokenRole};
use crate::{Status, clock};

pub(crate) fn run(command: &TokenCommand, common: &CommonArgs) -> Result<Status> {
    let tokens = Tokens::new(&common.data);
    let mut stdout = std::io::stdout().lock();
    match command {
        TokenCommand::Create(args) => {
            let role = match args.role {
                TokenRole::Ingest => Role::Ingest,
                TokenRole::Read => Role::Read,
                TokenRole::Admin => Role::Admin,
            };
            if !common.data.is_dir() {
                anyhow::bail!(
                    "{} is not a data directory; start `auditrail serve` or `import` there first, or give --data",
                    common.data.display()
                );
            }
            let (secret, entry) = tokens
                .create(role, args.name.as_deref(), clock::now())
                .context("cannot create the token")?;
            writeln!(stdout, "{secret}")?;
            if !common.quiet {
                crate::input::eprintln_clear(&format!(
                    "auditrail token: created {} token {} (id {}); it is shown only this once",
                    entry.role.as_str(),
                    entry.name,
                    entry.id
                ));
            }
        }
        TokenCommand::Revoke { name } => {
            let entry = tokens.revoke(name).context("cannot revoke the token")?;
            if !common.quiet {
                crate::input::eprintln_clear(&format!(
                    "auditrail token: revoked {} (id {})",
                    entry.name, entry.id
                ));
            }
        }
        TokenCommand::List => {
            for entry in tokens.list().context("cannot read the tokens")? {
                writeln!(
                    stdout,
                    "{}\t{}\t{}",
                    entry.id,
                    entry.role.as_str(),
                    entry.name
                )?;
            }
        }
    }
    Ok(Status::Success)
}
