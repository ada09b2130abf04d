//! `zhengzhao token create|list|revoke`: API tokens for business systems and platforms.

use crate::errors::fail;
use crate::library;
use clap::Subcommand;
use zhengzhao_core::Actor;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;
use zhengzhao_http::ServerConfig;

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token; prints the token alone on stdout, the only time it is shown.
    Create {
        /// Org code the token acts for, e.g. 150000 or 150781
        #[arg(long)]
        org: String,
        /// region_admin, catalog_admin, issuer_clerk, auditor, objection_handler, scenario_approver or security_admin
        #[arg(long)]
        role: String,
        /// A note saying who or what the token is for
        #[arg(long, default_value = "")]
        label: String,
        /// Also make an HMAC key (printed on a second line): every request
        /// with this token must then be signed (see README, "Signed requests")
        #[arg(long)]
        signed: bool,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by its id.
    Revoke {
        /// The token's id, as `token list` shows it.
        id: String,
    },
}

pub(crate) async fn token(config: &ServerConfig, cmd: TokenCommand) -> anyhow::Result<()> {
    let library = library(config).await?;
    match cmd {
        TokenCommand::Create {
            org,
            role,
            label,
            signed,
        } => {
            let org = OrgCode::parse(&org).map_err(|e| {
                fail(
                    format!("--org {org}：{}", e.zh()),
                    format!("--org {org}: {e}"),
                )
            })?;
            let role: Role = role.parse()?;
            let (record, secret, signing) = library
                .create_token_with(&Actor::cli(), &org, role, &label, signed)
                .await?;
            eprintln!(
                "zhengzhao: token {} for org {} role {} created; it is shown once, below{}",
                record.id,
                record.org,
                record.role,
                if signed {
                    " (second line: the HMAC signing key)"
                } else {
                    ""
                }
            );
            println!("{secret}");
            if let Some(key) = signing {
                println!("{key}");
            }
        }
        TokenCommand::List => {
            println!(
                "{:<36}  {:<10}  {:<17}  {:<8}  label",
                "id", "org", "role", "state"
            );
            for t in library.tokens().await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{:<36}  {:<10}  {:<17}  {:<8}  {}",
                    t.id, t.org, t.role, state, t.label
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let id = uuid::Uuid::parse_str(&id).map_err(|_| {
                fail(
                    format!("“{id}”不是令牌编号"),
                    format!("'{id}' is not a token id"),
                )
            })?;
            let t = library.revoke_token(&Actor::cli(), id).await?;
            println!("token {} revoked", t.id);
        }
    }
    Ok(())
}
