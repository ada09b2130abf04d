//! `zhengzhao backup` and `zhengzhao restore`: a consistent copy, and a checked restore that refuses what would lose or fork the library.

use crate::errors::{bail2, fail};
use std::path::{Path, PathBuf};
use zhengzhao_core::Library;
use zhengzhao_http::ServerConfig;

pub(crate) async fn backup(config: &ServerConfig, to: &Path) -> anyhow::Result<()> {
    if config.database_url.is_some() {
        bail2!(
            "PostgreSQL 证照库用 pg_dump 备份（见 docs/backup-and-restore.md）",
            "backups of a PostgreSQL library are taken with pg_dump (see docs/backup-and-restore.md)",
        );
    }
    if to.exists() {
        bail2!(
            format!("{} 已存在；备份从不覆盖文件", to.display()),
            format!("{} exists; a backup never overwrites a file", to.display()),
        );
    }
    let started = std::time::Instant::now();
    let store = zhengzhao_store_sqlite::SqliteStore::open_existing(config.sqlite_path())
        .await?
        .ok_or_else(|| {
            zhengzhao_http::app::StartError::NoLibrary(zhengzhao_http::app::library_location(
                config,
            ))
        })?;
    // VACUUM INTO: one read transaction, so the copy is the database as of
    // one instant, while writers carry on.
    store.vacuum_into(to.to_path_buf()).await?;
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    println!(
        "backup written to {} ({bytes} bytes, {:.1} s); keep the master key apart from it",
        to.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The file and its SQLite sidecars (WAL, shared memory, rollback journal).
fn with_sidecars(p: &Path) -> [PathBuf; 4] {
    ["", "-wal", "-shm", "-journal"].map(|s| {
        let mut name = p.as_os_str().to_owned();
        name.push(s);
        PathBuf::from(name)
    })
}

/// Does the file start like a SQLite database?
fn looks_like_sqlite(path: &Path) -> anyhow::Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(path).map_err(|e| {
        fail(
            format!("无法读取 {}：{e}", path.display()),
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    Ok(f.read_exact(&mut head).is_ok() && &head == b"SQLite format 3\0")
}

pub(crate) async fn restore(config: &ServerConfig, from: &Path, force: bool) -> anyhow::Result<()> {
    if config.database_url.is_some() {
        bail2!(
            "PostgreSQL 证照库用 pg_restore 恢复（见 docs/backup-and-restore.md）",
            "a PostgreSQL library is restored with pg_restore (see docs/backup-and-restore.md)",
        );
    }
    if !looks_like_sqlite(from)? {
        bail2!(
            format!(
                "{} 不是 SQLite 数据库，不是 zhengzhao backup 生成的备份",
                from.display()
            ),
            format!(
                "{} is not a SQLite database, so not a backup made by `zhengzhao backup`",
                from.display()
            ),
        );
    }
    let target = config.sqlite_path();
    if target.exists() && !force {
        bail2!(
            format!(
                "{} 中已有证照库，恢复会替换它：请先停止服务，再加 --force",
                target.display()
            ),
            format!(
                "{} holds a library; restoring would replace it: stop the server and pass --force",
                target.display()
            ),
        );
    }
    let made_dir = !config.data_dir.exists();
    let restored = restore_checked(config, from, &target).await;
    if restored.is_err() && made_dir {
        // Leave nothing behind: the directory this run made holds only the lock.
        let _ = std::fs::remove_file(config.data_dir.join(zhengzhao_http::app::LOCK_FILE));
        let _ = std::fs::remove_dir(&config.data_dir);
    }
    restored
}

async fn restore_checked(config: &ServerConfig, from: &Path, target: &Path) -> anyhow::Result<()> {
    // `serve` holds this lock while it runs: a library is never replaced
    // under a running server.
    let _lock = zhengzhao_http::app::DataDirLock::acquire(&config.data_dir)?;
    let started = std::time::Instant::now();
    // Check a scratch copy (opening it may migrate it), then install a
    // fresh copy of the backup itself.
    let scratch = config.data_dir.join("zhengzhao.db.restore-check");
    let staged = config.data_dir.join("zhengzhao.db.restoring");
    for f in with_sidecars(&scratch)
        .iter()
        .chain(with_sidecars(&staged).iter())
    {
        let _ = std::fs::remove_file(f);
    }
    let copy = |to: &Path| {
        std::fs::copy(from, to).map_err(|e| {
            fail(
                format!("无法复制 {} 到 {}：{e}", from.display(), to.display()),
                format!("cannot copy {} to {}: {e}", from.display(), to.display()),
            )
        })
    };
    copy(&scratch)?;
    let checked = check_backup(config, from, &scratch).await;
    for f in with_sidecars(&scratch) {
        let _ = std::fs::remove_file(f);
    }
    let (keys, audit, signatures) = checked?;
    let install = || -> std::io::Result<()> {
        std::fs::File::open(&staged)?.sync_all()?;
        // The old library's WAL must not be replayed onto the restored file.
        for f in with_sidecars(target).iter().skip(1) {
            let _ = std::fs::remove_file(f);
        }
        std::fs::rename(&staged, target)
    };
    copy(&staged)?;
    install().map_err(|e| {
        let _ = std::fs::remove_file(&staged);
        fail(
            format!("无法把备份放到 {}：{e}", target.display()),
            format!("cannot install the backup as {}: {e}", target.display()),
        )
    })?;
    println!(
        "restored {} into {} in {:.1} s: master key opens its {} wrapped keys, audit log verified ({} entries, {} checkpoints; {} newer events not yet in the tree), {} licenses with {} signed versions verified",
        from.display(),
        target.display(),
        started.elapsed().as_secs_f64(),
        keys.wrapped(),
        audit.entries_checked,
        audit.checkpoints_checked,
        audit.pending,
        signatures.licenses,
        signatures.versions
    );
    Ok(())
}

/// Everything a restore checks on its scratch copy before it installs anything.
async fn check_backup(
    config: &ServerConfig,
    from: &Path,
    scratch: &Path,
) -> anyhow::Result<(
    zhengzhao_core::keys::MasterKeyReport,
    zhengzhao_core::audit_log::VerifyReport,
    zhengzhao_core::backup::SignatureReport,
)> {
    let Some(store) = zhengzhao_store_sqlite::SqliteStore::open_existing(scratch).await? else {
        bail2!(
            format!(
                "{} 中没有证照库，不是 zhengzhao backup 生成的备份",
                from.display()
            ),
            format!(
                "{} holds no library: it is not a backup made by `zhengzhao backup`",
                from.display()
            ),
        );
    };
    let mut library = Library::new(std::sync::Arc::new(store));
    let key = zhengzhao_http::app::configured_master_key(config)
        .map_err(|e| fail(format!("主密钥不可用：{e}"), format!("master key: {e}")))?;
    let given = key.is_some();
    if let Some(key) = key {
        library = library.with_master_key(key);
    }
    // The keys first: a library restored without the key that opens them
    // can verify, but never sign, log anyone in or open personal data.
    let keys = library.check_master_key().await?;
    if let Some(problem) = &keys.problem {
        let master = config.default_master_key_path();
        if given {
            bail2!(
                format!("给出的主密钥打不开备份中的密钥，不是这个证照库的主密钥（{problem}）"),
                format!("{problem}: the master key given is not this library's"),
            );
        }
        bail2!(
            format!(
                "备份中的密钥以主密钥加密保存，但未提供主密钥：请将它放到 {}，或用 --master-key-file、ZHENGZHAO_MASTER_KEY 指定",
                master.display()
            ),
            format!(
                "{problem}: put the library's master key in {} or give --master-key-file or ZHENGZHAO_MASTER_KEY",
                master.display()
            ),
        );
    }
    let audit = library.verify_audit().await?;
    if let Some(problem) = audit.problem {
        bail2!(
            format!("备份的审计日志校验未通过：{problem}"),
            format!("the backup's audit log does not verify: {problem}"),
        );
    }
    let signatures = library.verify_license_signatures().await?;
    if let Some(problem) = signatures.problem.clone() {
        bail2!(
            format!("备份中的证照签名校验未通过：{problem}"),
            format!("the backup's licenses do not verify: {problem}"),
        );
    }
    Ok((keys, audit, signatures))
}
