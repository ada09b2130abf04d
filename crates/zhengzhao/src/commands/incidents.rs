//! `zhengzhao backlog` (every emergency backlog item not done, with its due
//! day) and `zhengzhao calendar import FILE` (a newer holiday arrangement).

use crate::library;
use clap::Subcommand;
use std::path::PathBuf;
use zhengzhao_core::Actor;
use zhengzhao_http::ServerConfig;

#[derive(Debug, Subcommand)]
pub(crate) enum CalendarCommand {
    /// Import a holiday arrangement (date<TAB>holiday|workday<TAB>name, whole
    /// years); it replaces those years of the shipped calendar.
    Import {
        /// The file (the format of data/cn-holidays.tsv)
        file: PathBuf,
    },
}

/// One JSON line per item not done: its incident, source, due day, state.
pub(crate) async fn backlog(config: &ServerConfig) -> anyhow::Result<()> {
    let library = library(config).await?;
    let open = library.open_backlog().await?;
    let overdue = open.iter().filter(|(_, i)| i.state == "overdue").count();
    for (incident, item) in &open {
        let line = serde_json::json!({
            "incident_id": incident.incident_id,
            "org": incident.org,
            "source": item.source,
            "operation": item.operation,
            "paper_issued_on": item.paper_issued_on,
            "due_on": item.due_on,
            "provisional": item.provisional,
            "state": item.state,
        });
        println!("{line}");
    }
    eprintln!(
        "{} 项未完成，其中 {overdue} 项逾期 / {} items not done, {overdue} overdue",
        open.len(),
        open.len()
    );
    Ok(())
}

pub(crate) async fn calendar(config: &ServerConfig, cmd: CalendarCommand) -> anyhow::Result<()> {
    let library = library(config).await?;
    match cmd {
        CalendarCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)?;
            let years = library.import_calendar(&Actor::cli(), &text).await?;
            let years: Vec<String> = years.iter().map(ToString::to_string).collect();
            println!("imported {}", years.join(", "));
        }
    }
    Ok(())
}
