//! `zhengzhao outbox list|show|replay`: the outbox relay's rows, for the
//! operator (works while the server runs).

use crate::library;
use clap::Subcommand;
use zhengzhao_core::Actor;
use zhengzhao_core::outbox::{OutboxFilter, parse_state};
use zhengzhao_http::ServerConfig;

#[derive(Debug, Subcommand)]
pub(crate) enum OutboxCommand {
    /// The rows, newest first, one JSON object a line.
    List {
        /// pending, in_flight, delivered, rejected or parked
        #[arg(long)]
        state: Option<String>,
        /// platform, national_platform or channel:NAME
        #[arg(long)]
        destination: Option<String>,
        /// Rows with a smaller id (the next page)
        #[arg(long)]
        before: Option<i64>,
        /// At most this many rows (1–500)
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// One row and the body it sends, as JSON.
    Show {
        /// The row's id (from `outbox list`)
        id: i64,
    },
    /// Send a rejected or parked row again, from its first attempt.
    Replay {
        /// The row's id (from `outbox list`)
        id: i64,
    },
}

pub(crate) async fn outbox(config: &ServerConfig, cmd: OutboxCommand) -> anyhow::Result<()> {
    let library = library(config).await?;
    match cmd {
        OutboxCommand::List {
            state,
            destination,
            before,
            limit,
        } => {
            let filter = OutboxFilter {
                destination,
                state: state.as_deref().map(parse_state).transpose()?,
                before_id: before,
                limit,
            };
            for e in library.list_outbox(&filter).await? {
                println!("{}", serde_json::to_string(&e)?);
            }
        }
        OutboxCommand::Show { id } => {
            let (entry, body) = library.show_outbox(id).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"entry": entry, "body": body}))?
            );
        }
        OutboxCommand::Replay { id } => {
            let entry = library.replay_outbox_as(&Actor::cli(), id).await?;
            println!("{}", serde_json::to_string(&entry)?);
        }
    }
    Ok(())
}
