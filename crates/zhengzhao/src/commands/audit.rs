//! `zhengzhao audit verify|checkpoint|verifier-key`: the audit log checked end to end, a signed checkpoint, the key to check checkpoints with.

use crate::errors::bail2;
use crate::library;
use clap::Subcommand;
use zhengzhao_core::Actor;
use zhengzhao_http::ServerConfig;

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Rebuild the audit tree from the events and check it against the stored
    /// tree and every signed checkpoint; fails naming the first bad entry.
    Verify,
    /// Bring the tree up to date, sign a checkpoint of it now and print it
    /// (a C2SP signed note: text, blank line, Ed25519 and SM2 lines).
    Checkpoint,
    /// Print the Ed25519 verifier key of the checkpoints (signed-note vkey),
    /// to hand to those who check them.
    VerifierKey,
}

pub(crate) async fn audit(config: &ServerConfig, cmd: AuditCommand) -> anyhow::Result<()> {
    let library = library(config).await?;
    match cmd {
        AuditCommand::Verify => {
            library.integrate_audit().await?;
            let report = library.verify_audit().await?;
            match report.problem {
                None => {
                    println!(
                        "audit log verified: {} entries, {} signed checkpoints, {} pending",
                        report.entries_checked, report.checkpoints_checked, report.pending
                    );
                    Ok(())
                }
                Some(problem) => {
                    println!(
                        "audit log FAILED verification after {} good entries: {problem}",
                        report.entries_checked
                    );
                    bail2!(
                        format!("审计日志校验未通过：{problem}"),
                        format!("audit log verification failed: {problem}"),
                    )
                }
            }
        }
        AuditCommand::Checkpoint => {
            let cp = library.checkpoint_audit(&Actor::cli()).await?;
            let view = library.checkpoint_view(&cp).await?;
            match view.signed_note {
                Some(signed) => print!("{signed}"),
                // The log has not grown since a checkpoint of the old format.
                None => {
                    print!("{}", view.note);
                    eprintln!(
                        "旧格式检查点（无Ed25519签名）；SM2签名：{sig}\nlegacy checkpoint (no Ed25519 line); its SM2 signature: {sig}",
                        sig = view.signature
                    );
                }
            }
            Ok(())
        }
        AuditCommand::VerifierKey => {
            println!("{}", library.audit_verifier_key()?.vkey);
            Ok(())
        }
    }
}
