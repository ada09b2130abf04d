//! `zhengzhao keys list|rotate|revoke|rotate-data-key|import`: signing keys and data keys.

use crate::errors::fail;
use crate::library;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use zhengzhao_core::Actor;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_http::ServerConfig;

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// List an org's keys (or the local CA's, without --org), active and retired.
    List {
        /// Org code whose keys to list, e.g. 150102 [default: the local CA]
        #[arg(long)]
        org: Option<String>,
    },
    /// Start a new key for an org, certified by the local test CA; the old one is retired.
    Rotate {
        /// Org code, e.g. 150102
        #[arg(long)]
        org: String,
    },
    /// Start a new data key for personal face fields (SM4-GCM); older keys
    /// stay to open what they sealed.
    RotateDataKey,
    /// Revoke an org's signing key (a compromised key): its certificate goes
    /// on the local CA's CRL, and what it signed from the revocation time on
    /// no longer verifies as genuine. The org's next license gets a new key.
    Revoke {
        /// The key's id (from `keys list --org …`)
        key: String,
        /// key_compromise, ca_compromise, affiliation_changed, superseded or cessation_of_operation
        #[arg(long)]
        reason: String,
        /// Since when the key is not to be trusted (RFC 3339, e.g.
        /// 2026-12-01T08:00:00+08:00), when a compromise began earlier
        /// [default: now]
        #[arg(long)]
        at: Option<String>,
    },
    /// Install a key and certificate issued by a real CA for an org.
    Import {
        /// Org code the key signs for, e.g. 150102
        #[arg(long)]
        org: String,
        /// The org's SM2 certificate, PEM
        #[arg(long)]
        cert: PathBuf,
        /// Its private key, PKCS#8 PEM
        #[arg(long)]
        key: PathBuf,
    },
}

pub(crate) async fn keys(config: &ServerConfig, cmd: KeysCommand) -> anyhow::Result<()> {
    let library = library(config).await?;
    let org_of = |code: &str| {
        let code = code.to_owned();
        let library = library.clone();
        async move {
            let parsed = OrgCode::parse(&code).map_err(|e| {
                fail(
                    format!("--org {code}：{}", e.zh()),
                    format!("--org {code}: {e}"),
                )
            })?;
            library.store.org(&parsed).await?.ok_or_else(|| {
                fail(
                    format!("机构 {code} 不存在"),
                    format!("org {code} does not exist"),
                )
            })
        }
    };
    match cmd {
        KeysCommand::List { org } => {
            let org = match org {
                Some(o) => Some(org_of(&o).await?.code),
                None => None,
            };
            println!(
                "{:<36}  {:<8}  {:<9}  {:<8}  {:<20}  not after",
                "id", "purpose", "source", "state", "created"
            );
            let revoked: Vec<uuid::Uuid> = library
                .store
                .key_revocations()
                .await?
                .iter()
                .map(|r| r.key_id)
                .collect();
            for k in library.store.signing_keys(org.as_ref()).await? {
                let state = if revoked.contains(&k.id) {
                    "revoked"
                } else if k.retired_at.is_some() {
                    "retired"
                } else {
                    "active"
                };
                println!(
                    "{:<36}  {:<8}  {:<9}  {:<8}  {:<20}  {}",
                    k.id,
                    k.purpose.as_str(),
                    k.source.as_str(),
                    state,
                    k.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    k.not_after.strftime("%Y-%m-%d")
                );
            }
        }
        KeysCommand::Rotate { org } => {
            let org = org_of(&org).await?;
            let k = library.rotate_key(&Actor::cli(), &org).await?;
            println!(
                "key {} is now active for {}; earlier keys stay available for verification",
                k.id, org.code
            );
        }
        KeysCommand::Revoke { key, reason, at } => {
            let id = uuid::Uuid::parse_str(&key).map_err(|_| {
                fail(
                    format!("{key} 不是密钥标识（UUID）"),
                    format!("{key} is not a key id (UUID)"),
                )
            })?;
            let at = at
                .map(|t| {
                    t.parse::<jiff::Timestamp>().map_err(|e| {
                        fail(
                            format!("--at {t} 不是RFC 3339时间：{e}"),
                            format!("--at {t} is not an RFC 3339 time: {e}"),
                        )
                    })
                })
                .transpose()?;
            let r = library.revoke_key(&Actor::cli(), id, &reason, at).await?;
            println!(
                "key {} revoked from {} ({}); it is on the CRL and signs no more",
                r.key_id, r.revoked_at, r.reason
            );
        }
        KeysCommand::RotateDataKey => {
            let id = library.rotate_data_key(&Actor::cli()).await?;
            println!(
                "data key {id} now seals new personal data; earlier keys stay to open what they sealed"
            );
        }
        KeysCommand::Import { org, cert, key } => {
            let org = org_of(&org).await?;
            let read = |path: &Path| {
                std::fs::read_to_string(path).map_err(|e| {
                    fail(
                        format!("无法读取 {}：{e}", path.display()),
                        format!("cannot read {}: {e}", path.display()),
                    )
                })
            };
            let cert_pem = read(&cert)?;
            let key_pem = read(&key)?;
            let k = library
                .import_key(&Actor::cli(), &org, &cert_pem, &key_pem)
                .await?;
            println!(
                "imported key {} for {}; it signs from now on",
                k.id, org.code
            );
        }
    }
    Ok(())
}
