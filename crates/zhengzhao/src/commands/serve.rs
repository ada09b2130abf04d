//! `zhengzhao serve` and `zhengzhao init`: run the library, or only create it.

use crate::errors::fail;
use zhengzhao_core::Library;
use zhengzhao_http::{Application, ServerConfig, open_store};

/// Register for SIGTERM and SIGINT now (before announcing that we listen, so
/// that a supervisor's early SIGTERM is never lost) and resolve on either.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handler = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| {
                fail(
                    format!("无法处理 {name} 信号：{e}"),
                    format!("cannot handle {name}: {e}"),
                )
            })
        };
        let mut term = handler(SignalKind::terminate(), "SIGTERM")?;
        let mut int = handler(SignalKind::interrupt(), "SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            tracing::info!("shutting down: finishing requests in flight");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async move {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down: finishing requests in flight");
        })
    }
}

fn describe(config: &ServerConfig) -> String {
    match &config.database_url {
        Some(_) => "PostgreSQL".to_owned(),
        None => format!("SQLite at {}", config.sqlite_path().display()),
    }
}

pub(crate) async fn serve(config: ServerConfig) -> anyhow::Result<()> {
    let where_ = describe(&config);
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let app = Application::build(config).await?;
    let shutdown = shutdown_signal()?;
    println!("zhengzhao: library on {where_}");
    if let Some(path) = &app.admin_token_path {
        println!(
            "zhengzhao: new library seeded; admin API token written to {} (mode 0600)",
            path.display()
        );
    }
    let base = format!("{scheme}://{}", app.addr());
    println!("zhengzhao: listening on {base}");
    println!("  health:        {base}/healthz");
    println!("  catalog page:  {base}/catalog");
    println!("  catalog API:   {base}/api/v1/catalog");
    println!("  API docs:      {base}/api/docs");
    tracing::info!(addr = %app.addr(), "serving");
    app.run_until(shutdown)
        .await
        .map_err(|e| fail(format!("服务异常停止：{e}"), format!("serving failed: {e}")))?;
    Ok(())
}

/// `init`: create (and seed) the library, or find it ready.
pub(crate) async fn init(config: &ServerConfig) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let key = zhengzhao_http::app::master_key_for(config, &store).await?;
    let library = Library::new(store).with_master_key(key);
    if let Some(path) = library.ensure_seeded(&config.data_dir).await? {
        eprintln!(
            "zhengzhao: new library seeded; admin API token written to {} (mode 0600)",
            path.display()
        );
    }
    println!("zhengzhao: library ready on {}", describe(config));
    Ok(())
}
