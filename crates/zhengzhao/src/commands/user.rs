//! `zhengzhao user create|list|reset`: staff accounts from the command line (the first security admin, and the way back in).

use crate::library;
use clap::Subcommand;
use zhengzhao_core::Actor;
use zhengzhao_domain::role::Role;
use zhengzhao_http::ServerConfig;

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a staff account; prints its initial password and TOTP secret,
    /// the only time they are shown. The password must be changed at first login.
    Create {
        /// Login name: 3 to 32 of a-z 0-9 . _ -, starting with a letter
        #[arg(long)]
        username: String,
        /// The person's name as shown in the library
        #[arg(long)]
        name: String,
        /// Org code the account belongs to, e.g. 150000
        #[arg(long)]
        org: String,
        /// A role; repeat for several (e.g. --role security_admin)
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// List staff accounts (never their secrets).
    List,
    /// New initial password and TOTP secret for an account; unlocks it and
    /// ends its sessions (the way back in for a locked-out administrator).
    Reset {
        /// The account's login name.
        #[arg(long)]
        username: String,
    },
}

fn print_credentials(
    user: &zhengzhao_core::staff::StaffView,
    c: &zhengzhao_core::staff::InitialCredentials,
) {
    eprintln!(
        "zhengzhao: account {} ({}) of org {}; the credentials below are shown once",
        user.username, user.id, user.org
    );
    println!("username: {}", user.username);
    println!("initial_password: {}", c.initial_password);
    println!("totp_secret: {}", c.totp_secret);
    println!("totp_uri: {}", c.totp_uri);
}

pub(crate) async fn user(config: &ServerConfig, cmd: UserCommand) -> anyhow::Result<()> {
    let library = library(config).await?;
    match cmd {
        UserCommand::Create {
            username,
            name,
            org,
            roles,
        } => {
            let roles = roles
                .iter()
                .flat_map(|r| r.split(','))
                .map(|r| r.trim().parse::<Role>())
                .collect::<Result<Vec<_>, _>>()?;
            let new = zhengzhao_core::staff::NewStaff {
                username,
                display_name: name,
                org,
                roles,
            };
            let (user, creds) = library.create_staff_user(None, &Actor::cli(), new).await?;
            print_credentials(&user, &creds);
        }
        UserCommand::List => {
            println!(
                "{:<20}  {:<8}  {:<8}  {:<40}  name",
                "username", "org", "state", "roles"
            );
            for u in library.all_staff_users().await? {
                let state = if u.disabled_at.is_some() {
                    "disabled"
                } else if u.locked_until.is_some_and(|t| t > library.now()) {
                    "locked"
                } else {
                    "active"
                };
                println!(
                    "{:<20}  {:<8}  {:<8}  {:<40}  {}",
                    u.username,
                    u.org,
                    state,
                    u.roles
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    u.display_name
                );
            }
        }
        UserCommand::Reset { username } => {
            let found = library.staff_user_named(&username).await?;
            let (user, creds) = library
                .reset_staff_credentials(None, &Actor::cli(), found.id)
                .await?;
            print_credentials(&user, &creds);
        }
    }
    Ok(())
}
