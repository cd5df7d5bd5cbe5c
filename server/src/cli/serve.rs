//! `cxrules serve`: load the rules, start the host, serve until SIGTERM or Ctrl-C, drain.

use anyhow::Context;
use cxrules_server::tools::Hinted;
use cxrules_server::{AppState, Config, ServeArgs, StartError};
use tokio::net::TcpListener;

/// Serves until the shutdown signal; an error that stops the start names its cause and
/// what to do.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::from_args(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config))
}

fn announce(config: &Config) {
    match &config.dry_run_reason {
        Some(reason) => tracing::warn!(
            "DRY-RUN: decisions are made, logged and counted, but no call is made to CXone ({reason}); \
             set CXONE_CLIENT_ID and CXONE_CLIENT_SECRET to go live"
        ),
        None => tracing::info!(profile = ?config.profile.base, "live: updates are sent to CXone"),
    }
    if !config.webhook_auth.is_enabled() && !config.is_dry_run() {
        tracing::warn!(
            "inbound webhooks are not authenticated; set --webhook-auth and CXRULES_WEBHOOK_SECRET"
        );
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    announce(&config);
    let state = AppState::from_config(&config).await.map_err(|e| match e {
        StartError::Rules(e) => Hinted::error(
            format!(
                "cannot load the rules in {}:\n{e}",
                config.rules_dir.display()
            ),
            format!(
                "fix the rules (`cxrules check {}` lists every problem)",
                config.rules_dir.display()
            ),
        ),
        StartError::DedupStore(e) => Hinted::usage(
            format!(
                "--dedup-store cannot be used: {}",
                e.message().split("; hint:").next().unwrap_or_default()
            ),
            "give a redis URL such as redis://host:6379/0, rediss://host:6380 or \
             redis+unix:///path/to/sock (CXRULES_DEDUP_STORE)",
        ),
        StartError::ShadowRules(dir, e) => Hinted::error(
            format!("cannot load the shadow rules in {}:\n{e}", dir.display()),
            format!(
                "fix the shadow rules (`cxrules check {}` lists every problem), or start \
                 without --shadow-rules",
                dir.display()
            ),
        ),
        StartError::Outbox(e) => Hinted::error(
            format!("--data-dir cannot be used: {e}"),
            match e {
                cxrules_server::outbox::OpenError::Locked(_) => {
                    "one `cxrules serve` per data dir: stop the other one, or give this one its own --data-dir (CXRULES_DATA_DIR)"
                }
                _ => "give a directory of its own to --data-dir (CXRULES_DATA_DIR); a damaged outbox.redb can be moved aside (its pending updates are then not sent)",
            },
        ),
        other => anyhow::Error::new(other),
    })?;
    let listener = TcpListener::bind(config.bind).await.map_err(|e| {
        Hinted::error(
            format!("cannot listen on {}: {e}", config.bind),
            "pick another --port or --bind, or stop what is listening there",
        )
    })?;
    tracing::info!(
        addr = %listener.local_addr()?,
        rules = %config.rules_dir.display(),
        version = %state.engine().rules().version(),
        watch = config.watch,
        webhook_auth = config.webhook_auth.mode(),
        "cxrules serving"
    );
    cxrules_server::reload::reload_on_sighup(state.clone());
    cxrules_server::run(listener, state.clone(), shutdown_signal()).await?;
    state.close_capture();
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
