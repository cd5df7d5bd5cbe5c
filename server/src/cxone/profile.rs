//! Call profiles: how updates become CXone requests (`seed` for the seeds' API, `dfo` for the
//! real digital platform), overridable from a YAML file.

use std::path::Path;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::path::IdError;
use super::template::{parse_method, BodyTemplate, MissingValue, PathTemplate, TemplateError};
use super::update::{Endpoint, Update, METADATA_VARS, ROUTING_VARS};

/// The `seed` profile's token endpoint path.
pub const SEED_TOKEN_PATH: &str = "/oauth2/token";

/// The built-in profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ProfileName {
    /// The seeds' calls: client credentials at `/oauth2/token`, PATCH under `/api/v2`.
    #[default]
    Seed,
    /// The real platform: OpenID discovery, password grant, PUT under `/dfo/3.0`.
    Dfo,
}

/// Which of an event's ids the calls address (the `{id}` of a call's path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallAddress {
    /// The interaction id (the seeds' API addresses interactions).
    #[default]
    Interaction,
    /// The contact id the event rule reads (`fields.contact_id`; the interaction id when the
    /// rule reads none): the real digital API addresses contacts by their contact number.
    Contact,
}

impl CallAddress {
    /// The id a decision's calls address: `None` when the decision has none.
    pub fn id(self, decision: &cxrules_engine::Decision) -> Option<&str> {
        match self {
            CallAddress::Interaction => decision.interaction_id.as_deref(),
            CallAddress::Contact => decision
                .contact_id
                .as_deref()
                .or(decision.interaction_id.as_deref()),
        }
    }

    /// How the id is named in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            CallAddress::Interaction => "interaction id",
            CallAddress::Contact => "contact id",
        }
    }
}

/// How a token is obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFlow {
    /// OAuth2 client credentials posted to `token_path` on the API base URL.
    ClientCredentials {
        /// Path of the token endpoint.
        token_path: String,
        /// Scope sent with the request, if any.
        scope: Option<String>,
    },
    /// OpenID discovery at the issuer, then the password grant with an access key and the
    /// client id/secret in a Basic header; the API host is discovered from the tenant.
    Password,
}

/// One call: method, path and body.
#[derive(Debug, Clone, PartialEq)]
pub struct CallTemplate {
    /// HTTP method.
    pub method: Method,
    /// Path under the API base URL, with `{id}`.
    pub path: PathTemplate,
    /// JSON body.
    pub body: BodyTemplate,
}

/// A complete profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The built-in profile this one starts from.
    pub base: ProfileName,
    /// Token flow.
    pub auth: AuthFlow,
    /// Which id the calls address.
    pub address: CallAddress,
    /// The dedup attributes call, if the profile makes one.
    pub metadata: Option<CallTemplate>,
    /// The routing call, if the profile makes one.
    pub routing: Option<CallTemplate>,
}

/// A request ready to send (the path is relative to the API base URL).
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedCall {
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// HTTP method.
    pub method: Method,
    /// Encoded path.
    pub path: String,
    /// The path prefix the request must stay under.
    pub prefix: String,
    /// JSON body, as the text sent.
    pub body: String,
}

/// Why no call could be prepared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    /// The profile makes no call of this kind.
    #[error("the profile makes no {0} call")]
    NoCall(&'static str),
    /// The id cannot go into a path.
    #[error(transparent)]
    Id(#[from] IdError),
    /// The body needs a value the decision lacks.
    #[error(transparent)]
    Missing(#[from] MissingValue),
}

/// A profile file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read profile file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML is not a profile.
    #[error("profile file {path} is not valid: {source}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        source: cxrules_engine::yaml::SyntaxError,
    },
    /// A call template is wrong.
    #[error("profile file {path}, {call} call: {source}")]
    Template {
        /// The file.
        path: String,
        /// `metadata` or `routing`.
        call: &'static str,
        /// Why.
        source: TemplateError,
    },
}

/// A call in a profile file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCall {
    #[serde(default)]
    disabled: bool,
    method: Option<String>,
    path: Option<String>,
    body: Option<Value>,
}

/// A profile file: a built-in profile and what to change in it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(default)]
    extends: ProfileName,
    address: Option<CallAddress>,
    token_path: Option<String>,
    scope: Option<String>,
    metadata: Option<RawCall>,
    routing: Option<RawCall>,
}

fn call(method: &str, path: &str, body: Value, vars: &[&str]) -> CallTemplate {
    // Built-in templates are fixed and covered by tests, so parsing them cannot fail.
    CallTemplate {
        method: parse_method(method).expect("built-in method"),
        path: PathTemplate::parse(path).expect("built-in path"),
        body: BodyTemplate::parse(body, vars).expect("built-in body"),
    }
}

impl Profile {
    /// A built-in profile.
    pub fn builtin(name: ProfileName) -> Self {
        match name {
            ProfileName::Seed => Self::seed(),
            ProfileName::Dfo => Self::dfo(),
        }
    }

    fn seed() -> Self {
        let meta = json!({"attributes": {
            "deduplication:status": "{status}",
            "deduplication:lastSequence": "{last_sequence}",
        }});
        let routing = json!({"routing": {"skills": "{skill_refs}", "queues": "{queue_refs}"}});
        Self {
            base: ProfileName::Seed,
            auth: AuthFlow::ClientCredentials {
                token_path: SEED_TOKEN_PATH.into(),
                scope: None,
            },
            address: CallAddress::Interaction,
            metadata: Some(call(
                "PATCH",
                "/api/v2/interactions/{id}",
                meta,
                METADATA_VARS,
            )),
            routing: Some(call(
                "PATCH",
                "/api/v2/routing/interactions/{id}",
                routing,
                ROUTING_VARS,
            )),
        }
    }

    fn dfo() -> Self {
        let meta = json!([
            {"ident": "deduplication-status", "value": "{status}"},
            {"ident": "deduplication-last-sequence", "value": "{last_sequence|string}"},
        ]);
        let routing = json!({"skillId": "{skill_id}"});
        Self {
            base: ProfileName::Dfo,
            auth: AuthFlow::Password,
            // DFO contact calls take the contact number (`data.case.id`), not the interaction.
            address: CallAddress::Contact,
            metadata: Some(call(
                "PUT",
                "/dfo/3.0/contacts/{id}/custom-fields",
                meta,
                METADATA_VARS,
            )),
            routing: Some(call(
                "PUT",
                "/dfo/3.0/contacts/{id}/routing-queue",
                routing,
                ROUTING_VARS,
            )),
        }
    }

    /// Reads a profile file (YAML) over its `extends` built-in.
    pub fn from_file(path: &Path) -> Result<Self, ProfileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::from_yaml(&text).map_err(|e| match e {
            ProfileError::Parse { source, .. } => ProfileError::Parse {
                path: shown,
                source,
            },
            ProfileError::Template { call, source, .. } => ProfileError::Template {
                path: shown,
                call,
                source,
            },
            other => other,
        })
    }

    /// Parses profile YAML over its `extends` built-in.
    pub fn from_yaml(text: &str) -> Result<Self, ProfileError> {
        let raw: RawProfile =
            cxrules_engine::yaml::from_str(text).map_err(|source| ProfileError::Parse {
                path: String::new(),
                source,
            })?;
        let mut profile = Self::builtin(raw.extends);
        if let Some(address) = raw.address {
            profile.address = address;
        }
        if let AuthFlow::ClientCredentials { token_path, scope } = &mut profile.auth {
            if let Some(p) = raw.token_path {
                *token_path = p;
            }
            if raw.scope.is_some() {
                *scope = raw.scope;
            }
        }
        let wrap = |call, source| ProfileError::Template {
            path: String::new(),
            call,
            source,
        };
        profile.metadata = overlay(profile.metadata, raw.metadata, METADATA_VARS)
            .map_err(|e| wrap("metadata", e))?;
        profile.routing =
            overlay(profile.routing, raw.routing, ROUTING_VARS).map_err(|e| wrap("routing", e))?;
        Ok(profile)
    }

    fn template(&self, endpoint: Endpoint) -> Result<&CallTemplate, PrepareError> {
        match endpoint {
            Endpoint::Metadata => self.metadata.as_ref(),
            Endpoint::Routing => self.routing.as_ref(),
        }
        .ok_or(PrepareError::NoCall(endpoint.as_str()))
    }

    /// What [`Profile::prepare`] would answer, without building the request: `Ok` when it
    /// would make one, else the same error.
    pub fn check(&self, id: &str, update: &Update) -> Result<(), PrepareError> {
        let template = self.template(update.endpoint())?;
        super::path::check_id(id)?;
        template.body.check_with(&|name: &str| update.has(name))?;
        Ok(())
    }

    /// Turns an update for one interaction into a request.
    pub fn prepare(&self, id: &str, update: &Update) -> Result<PreparedCall, PrepareError> {
        let endpoint = update.endpoint();
        let template = self.template(endpoint)?;
        Ok(PreparedCall {
            endpoint,
            method: template.method.clone(),
            path: template.path.render(id)?,
            prefix: template.path.prefix().to_owned(),
            body: template
                .body
                .render_with(&|name: &str| update.var(id, name))?,
        })
    }
}

fn overlay(
    base: Option<CallTemplate>,
    raw: Option<RawCall>,
    vars: &[&str],
) -> Result<Option<CallTemplate>, TemplateError> {
    let Some(raw) = raw else { return Ok(base) };
    if raw.disabled {
        return Ok(None);
    }
    let missing = || TemplateError::BadPath("(none given and no built-in call)".into());
    let method = match (raw.method, &base) {
        (Some(m), _) => parse_method(&m)?,
        (None, Some(b)) => b.method.clone(),
        (None, None) => Method::PATCH,
    };
    let path = match (raw.path, &base) {
        (Some(p), _) => PathTemplate::parse(&p)?,
        (None, Some(b)) => b.path.clone(),
        (None, None) => return Err(missing()),
    };
    let body = match (raw.body, &base) {
        (Some(b), _) => BodyTemplate::parse(b, vars)?,
        (None, Some(b)) => b.body.clone(),
        (None, None) => BodyTemplate::parse(json!({}), vars)?,
    };
    Ok(Some(CallTemplate { method, path, body }))
}

#[cfg(test)]
mod tests;
