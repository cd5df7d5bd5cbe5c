//! `cxrules register-webhook --url URL`: registers this service's webhook with CXone for the event
//! types the rules handle. Idempotent: an existing registration for the URL is left alone.

mod api;
mod inbound;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use serde_json::{json, Value};

use super::check::{load, write_diagnostics, Loaded};
use super::outcome::{Hinted, Status};
use crate::config::CxoneAccessArgs;
use crate::cxone::{
    AuthFlow, BodyTemplate, CxoneSettings, ProfileName, TokenSource, Vars, SEED_TOKEN_PATH,
};
use crate::Metrics;
use api::{Existing, Refusal, WebhookApi};
use inbound::{Inbound, InboundArgs};

/// The placeholders a registration body may use.
const BODY_VARS: &[&str] = &["name", "url", "event_types", "headers"];

/// Flags of `cxrules register-webhook`.
#[derive(Debug, Clone, clap::Args)]
pub struct RegisterWebhookArgs {
    /// The public URL CXone should post events to (this service's webhook route).
    #[arg(long)]
    pub url: String,
    /// The registration's name.
    #[arg(long, default_value = "cxrules")]
    pub name: String,
    /// An event type to subscribe to (repeat it); default: every type the rules handle.
    #[arg(long = "event-type", value_name = "TYPE")]
    pub event_types: Vec<String>,
    /// The rules directory whose event types are registered.
    #[arg(long, default_value = "rules", env = "CXRULES_RULES")]
    pub rules: PathBuf,
    /// Print the requests instead of sending them (no credentials needed).
    #[arg(long)]
    pub dry_run: bool,
    /// API path of webhook registrations: GET lists them, POST adds one.
    #[arg(
        long,
        env = "CXONE_WEBHOOKS_PATH",
        default_value = "/api/v2/events/webhooks"
    )]
    pub path: String,
    /// JSON file of the registration body; `{name}`, `{url}`, `{event_types}` and `{headers}`
    /// (what the inbound auth needs CXone to send) are filled in.
    /// Default: `{name, url, eventTypes, isActive: true, headers}`.
    #[arg(long, value_name = "FILE", env = "CXONE_WEBHOOK_BODY_FILE")]
    pub body_file: Option<PathBuf>,
    /// The call profile the service runs with: `seed` registers the webhook; `dfo` (the real
    /// platform, which has no webhook registration for digital events) refuses and says how
    /// events reach cxrules there.
    #[arg(long, env = "CXONE_PROFILE", value_enum, default_value_t = ProfileName::Seed)]
    pub cxone_profile: ProfileName,
    /// Where CXone is and the client credentials.
    #[command(flatten)]
    pub cxone: CxoneAccessArgs,
    /// The inbound authentication the registration must match.
    #[command(flatten)]
    pub inbound: InboundArgs,
}

/// Why `register-webhook` does nothing under `dfo`, and what to do instead.
pub const DFO_REFUSAL: &str = "error: the real CXone platform (profile `dfo`) has no API to \
register a webhook for digital events; nothing was sent.
  = hint: events reach cxrules from a Studio script: add a REST API action that POSTs the \
contact's compact JSON to https://<this host>/studio/v1/decide with the header \
`Authorization: Bearer <CXRULES_STUDIO_TOKEN>`, and route on the `skillId` of its answer. \
README.md, \"Connecting CXone\", walks through it step by step.";

/// What to register, worked out before any request.
#[derive(Debug)]
struct Plan {
    endpoint: String,
    body: Value,
    /// The body with secrets replaced by their variable's name, for printing.
    shown_body: Value,
    event_types: Vec<String>,
}

/// Registers the webhook (or prints the requests with `--dry-run`), reporting to `out`; refusals
/// by CXone are reported to `err` and give exit 1.
pub async fn execute(
    args: &RegisterWebhookArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Status> {
    if args.cxone_profile == ProfileName::Dfo {
        writeln!(err, "{DFO_REFUSAL}")?;
        return Ok(Status::Usage);
    }
    let (event_types, source) = match event_types(args, err)? {
        Ok(found) => found,
        Err(status) => return Ok(status),
    };
    let inbound = args.inbound.inbound()?;
    let plan = plan(args, event_types, &inbound)?;
    if args.dry_run {
        writeln!(out, "dry run: nothing sent")?;
    }
    writeln!(
        out,
        "event types from {source}: {}",
        plan.event_types.join(", ")
    )?;
    writeln!(out, "{}", inbound.summary)?;
    if let Some(warning) = &inbound.warning {
        writeln!(err, "warning: {warning}")?;
    }
    if args.dry_run {
        write_dry_run(args, &plan, out)?;
        return Ok(Status::Ok);
    }
    let api = WebhookApi::new(
        tokens(args)?,
        plan.endpoint.clone(),
        args.cxone.cxone_timeout,
    )?;
    let result = match api.find(&args.url).await {
        Ok(Some(existing)) => return report_existing(args, &plan, &existing, out),
        Ok(None) => api.create(&plan.body).await,
        Err(refusal) => Err(refusal),
    };
    match result {
        Ok(id) => {
            let id = id.map(|id| format!(" (id {id})")).unwrap_or_default();
            writeln!(out, "ok: registered the webhook{id} for {}", args.url)?;
            writeln!(out, "  event types: {}", plan.event_types.join(", "))?;
            Ok(Status::Ok)
        }
        Err(Refusal::AlreadyExists) => {
            writeln!(
                out,
                "ok: cxone already has a registration for {}; nothing changed",
                args.url
            )?;
            Ok(Status::Ok)
        }
        Err(Refusal::Failed(e)) => Err(e),
        Err(refusal) => {
            let (message, hint) = refusal.explain();
            writeln!(err, "error: {message}\n  = hint: {hint}")?;
            Ok(Status::Failed)
        }
    }
}

/// `cxrules register-webhook`: reports to standard output and error.
pub async fn run(args: &RegisterWebhookArgs) -> anyhow::Result<Status> {
    execute(args, &mut std::io::stdout(), &mut std::io::stderr()).await
}

/// The event types to register: the flags', or every type the rules handle; with where they
/// come from (`--event-type`, or the rules directory and its files).
fn event_types(
    args: &RegisterWebhookArgs,
    err: &mut dyn Write,
) -> anyhow::Result<Result<(Vec<String>, String), Status>> {
    if !args.event_types.is_empty() {
        return Ok(Ok((args.event_types.clone(), "--event-type".into())));
    }
    let rules = match load(&args.rules) {
        Loaded::Valid(rules) => rules,
        other => {
            if let Loaded::Invalid(d) | Loaded::Unreadable(d) = &other {
                write_diagnostics(&args.rules, d, err)?;
            }
            writeln!(
                err,
                "error: the event types come from the rules, and they do not load"
            )?;
            writeln!(
                err,
                "  = hint: fix the rules, or name the types with --event-type"
            )?;
            return Ok(Err(Status::CannotRun));
        }
    };
    let mut types: Vec<String> = Vec::new();
    for t in rules.event_types() {
        if !types.contains(&t) {
            types.push(t);
        }
    }
    if types.is_empty() {
        return Err(Hinted::usage(
            "the rules handle no event type",
            "add an event rule, or name the types with --event-type",
        ));
    }
    let files: Vec<String> = rules
        .files()
        .iter()
        .map(|f| {
            f.file_name()
                .unwrap_or(f.as_os_str())
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let source = format!(
        "the rules in {} ({})",
        super::outcome::dir_label(&args.rules),
        files.join(", ")
    );
    Ok(Ok((types, source)))
}

fn plan(
    args: &RegisterWebhookArgs,
    event_types: Vec<String>,
    inbound: &Inbound,
) -> anyhow::Result<Plan> {
    let url = reqwest::Url::parse(&args.url)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
        .ok_or_else(|| Hinted::usage(format!("`{}` is not an http(s) URL", args.url), "pass the public URL of this service's webhook route, such as https://rules.example.com/webhook/cxone/events"))?;
    if !args.path.starts_with('/') {
        return Err(Hinted::usage(
            format!("webhooks path `{}` must start with `/`", args.path),
            "pass a path such as /api/v2/events/webhooks",
        ));
    }
    let template = body_template(args)?;
    let vars = |headers: &Value| -> Vars {
        [
            ("name", json!(args.name)),
            ("url", json!(url.as_str())),
            ("event_types", json!(event_types)),
            ("headers", headers.clone()),
        ]
        .into_iter()
        .collect()
    };
    let body = template.render(&vars(&inbound.headers))?;
    let shown_body = template.render(&vars(&inbound.shown_headers))?;
    let endpoint = format!(
        "{}{}",
        args.cxone.cxone_base_url.trim_end_matches('/'),
        args.path
    );
    Ok(Plan {
        endpoint,
        body,
        shown_body,
        event_types,
    })
}

fn body_template(args: &RegisterWebhookArgs) -> anyhow::Result<BodyTemplate> {
    let body = match &args.body_file {
        None => json!({
            "name": "{name}",
            "url": "{url}",
            "eventTypes": "{event_types}",
            "isActive": true,
            "headers": "{headers}",
        }),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the body file {}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| Hinted::usage(format!("{} is not JSON: {e}", path.display()), "write the registration body as JSON with {name}, {url} and {event_types} placeholders"))?
        }
    };
    Ok(BodyTemplate::parse(body, BODY_VARS)?)
}

fn tokens(args: &RegisterWebhookArgs) -> anyhow::Result<Arc<TokenSource>> {
    let (Some(client_id), Some(secret)) = args.cxone.client_credentials() else {
        return Err(Hinted::usage("no cxone credentials", "set CXONE_CLIENT_ID and CXONE_CLIENT_SECRET (or CONE_CLIENT_ID and CONE_CLIENT_SECRET), or use --dry-run to see the request"));
    };
    let settings = CxoneSettings {
        base_url: args.cxone.cxone_base_url.clone(),
        issuer: String::new(),
        api_url: None,
        tenant_id: None,
        client_id,
        client_secret: secret,
        access_key_id: None,
        access_key_secret: None,
        timeout: args.cxone.cxone_timeout,
        http2_prior_knowledge: false,
    };
    let flow = AuthFlow::ClientCredentials {
        token_path: token_path(args).to_owned(),
        scope: args.cxone.cxone_scope.clone(),
    };
    let http = reqwest::Client::builder()
        .timeout(args.cxone.cxone_timeout)
        .build()?;
    Ok(Arc::new(TokenSource::new(
        http,
        Arc::new(settings),
        flow,
        Metrics::new(),
    )))
}

/// The token endpoint path: the flag's, else the seed profile's.
fn token_path(args: &RegisterWebhookArgs) -> &str {
    args.cxone
        .cxone_token_path
        .as_deref()
        .unwrap_or(SEED_TOKEN_PATH)
}

fn write_dry_run(
    args: &RegisterWebhookArgs,
    plan: &Plan,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let token_url = format!(
        "{}{}",
        args.cxone.cxone_base_url.trim_end_matches('/'),
        token_path(args)
    );
    writeln!(out, "1. POST {token_url} (client credentials) for a token")?;
    writeln!(
        out,
        "2. GET {}: stop if a registration for {} exists",
        plan.endpoint, args.url
    )?;
    writeln!(out, "3. POST {}", plan.endpoint)?;
    writeln!(out, "   Authorization: Bearer <token>")?;
    writeln!(out, "   Content-Type: application/json")?;
    writeln!(out)?;
    serde_json::to_writer_pretty(&mut *out, &plan.shown_body)?;
    writeln!(out)?;
    Ok(())
}

fn report_existing(
    args: &RegisterWebhookArgs,
    plan: &Plan,
    existing: &Existing,
    out: &mut dyn Write,
) -> anyhow::Result<Status> {
    let id = existing
        .id
        .as_deref()
        .map(|id| format!(" (id {id})"))
        .unwrap_or_default();
    writeln!(
        out,
        "ok: a webhook for {} is already registered{id}; nothing changed",
        args.url
    )?;
    if let Some(types) = &existing.event_types {
        let missing: Vec<&String> = plan
            .event_types
            .iter()
            .filter(|t| !types.contains(t))
            .collect();
        if !missing.is_empty() {
            let missing: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            writeln!(out, "note: it does not subscribe to {}; change it in CXone, or delete it and run this again", missing.join(", "))?;
        }
    }
    Ok(Status::Ok)
}
