//! Load → validate → compile: a rules directory becomes one immutable `CompiledRules`.
//!
//! Every problem in every file is collected before giving up, each located (file, line:column or
//! document path) with a hint. The same function serves start-up, reload and `cxrules check`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::dedup::config::{
    Channel, DedupConfig, WindowMode, WindowSpec, DEFAULT_FIELDS, DEFAULT_MAX_FINGERPRINTS,
    DEFAULT_MAX_INTERACTIONS,
};
use crate::dedup::store::WindowPolicy;
use crate::diag::{Diagnostic, Diagnostics};
use crate::events::{EventRule, FIELD_NAMES};
use crate::hint::unknown_name_hint;
use crate::normalize::Normalizer;
use crate::routing::route::Route;
use crate::rulefile::{parse_file, Entry, ParsedFile};
use crate::testcase::TestCaseSpec;

/// The longest dedup window accepted (the in-memory store keeps times as 32-bit milliseconds).
const MAX_WINDOW: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// The compiled, immutable rule set. Evaluation reads it; nothing mutates it.
#[derive(Debug)]
pub struct CompiledRules {
    pub(crate) version: String,
    pub(crate) loaded_at: SystemTime,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) events: Vec<EventRule>,
    pub(crate) dedup: Option<DedupConfig>,
    pub(crate) routes: BTreeMap<String, Route>,
    pub(crate) tests: Vec<TestCaseSpec>,
}

impl CompiledRules {
    /// The content hash of the rule files (the first 16 hex digits of a SHA-256).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// When this rule set was compiled.
    pub fn loaded_at(&self) -> SystemTime {
        self.loaded_at
    }

    /// The rule files it came from.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Every event type the rules handle.
    pub fn event_types(&self) -> Vec<String> {
        self.events
            .iter()
            .flat_map(|e| e.types.iter().cloned())
            .collect()
    }

    /// The event rules.
    pub fn events(&self) -> &[EventRule] {
        &self.events
    }

    /// The dedup windows, when the rules define them.
    pub fn dedup(&self) -> Option<&DedupConfig> {
        self.dedup.as_ref()
    }

    /// The test cases the rule files carry.
    pub fn tests(&self) -> &[TestCaseSpec] {
        &self.tests
    }
}

/// The rule files of a directory: `*.yaml` and `*.yml`, sorted, hidden entries skipped (a
/// Kubernetes ConfigMap mount keeps its real files under `..data`, linked from visible names).
pub fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, Box<Diagnostic>> {
    let read = std::fs::read_dir(dir).map_err(|e| {
        Box::new(
            Diagnostic::file(dir, format!("cannot read the rules directory: {e}"))
                .with_hint("pass the directory that holds the *.yaml rule files"),
        )
    })?;
    let mut files: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with('.')
                && (name.ends_with(".yaml") || name.ends_with(".yml"))
                && p.is_file()
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Box::new(
            Diagnostic::file(dir, "no rule files (*.yaml, *.yml) in the rules directory")
                .with_hint("add a rule file, for example a copy of the project's rules/dedup.yaml"),
        ));
    }
    Ok(files)
}

/// Reads and compiles every rule file of `dir`.
pub fn load_dir(dir: &Path) -> Result<CompiledRules, Diagnostics> {
    let sources = read_sources(dir)?;
    compile_sources(sources.files, sources.problems)
}

/// The texts of a directory's rule files, with the read errors met on the way.
#[derive(Debug, Clone)]
pub struct Sources {
    /// (path, text) of every file read.
    pub files: Vec<(PathBuf, String)>,
    /// Files that could not be read.
    pub problems: Vec<Diagnostic>,
}

impl Sources {
    /// The content hash the compiled rules will carry as their version.
    pub fn version(&self) -> String {
        content_hash(&self.files)
    }
}

/// Reads the rule files of `dir` without compiling them.
pub fn read_sources(dir: &Path) -> Result<Sources, Diagnostics> {
    let paths = rule_files(dir).map_err(|d| Diagnostics(vec![*d]))?;
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push((path, text)),
            Err(e) => problems.push(
                Diagnostic::file(&path, format!("cannot read the rule file: {e}"))
                    .with_hint("check the file's permissions"),
            ),
        }
    }
    Ok(Sources { files, problems })
}

/// Compiles rule files given as (path, text); `diags` carries problems found before this step.
pub fn compile_sources(
    sources: Vec<(PathBuf, String)>,
    mut diags: Vec<Diagnostic>,
) -> Result<CompiledRules, Diagnostics> {
    let version = content_hash(&sources);
    let files: Vec<PathBuf> = sources.iter().map(|(p, _)| p.clone()).collect();
    let parsed: Vec<ParsedFile> = sources
        .into_iter()
        .map(|(p, t)| parse_file(&p, t, &mut diags))
        .collect();
    let rules = Compiler {
        parsed: &parsed,
        diags: &mut diags,
    }
    .compile(version, files);
    if diags.is_empty() {
        Ok(rules)
    } else {
        Err(Diagnostics(diags))
    }
}

fn content_hash(sources: &[(PathBuf, String)]) -> String {
    let mut h = Sha256::new();
    for (path, text) in sources {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}

/// Where each named thing was defined, to report both places of a duplicate.
type Seen<'a> = HashMap<String, (&'a ParsedFile, &'a [String])>;

struct Compiler<'a, 'd> {
    parsed: &'a [ParsedFile],
    diags: &'d mut Vec<Diagnostic>,
}

impl<'a> Compiler<'a, '_> {
    fn compile(mut self, version: String, files: Vec<PathBuf>) -> CompiledRules {
        let normalizers = self.normalizers();
        let events = self.events();
        let extra: Vec<String> = events
            .iter()
            .flat_map(|e| e.fields.keys().cloned())
            .collect();
        let dedup = self.dedup(&normalizers, &extra);
        let routes = self.routes(&events);
        let has_dedup = self.parsed.iter().any(|f| f.has_dedup_default);
        self.check_references(&events, &routes, has_dedup);
        let tests = self.tests();
        CompiledRules {
            version,
            loaded_at: SystemTime::now(),
            files,
            events,
            dedup,
            routes,
            tests,
        }
    }

    /// Collects one kind of named entry over all files, reporting names defined twice.
    fn unique<T>(
        &mut self,
        kind: &str,
        pick: impl Fn(&'a ParsedFile) -> &'a [Entry<T>],
    ) -> Vec<(&'a ParsedFile, &'a Entry<T>)> {
        let mut seen: Seen<'a> = HashMap::new();
        let mut out = Vec::new();
        for file in self.parsed {
            for entry in pick(file) {
                if let Some((first, first_path)) = seen.get(&entry.name) {
                    let (line, _) =
                        crate::locate::locate(&first.text, first_path).unwrap_or((0, 0));
                    let d = file
                        .diag(
                            &entry.path,
                            format!("{kind} `{}` is defined twice", entry.name),
                        )
                        .with_hint(format!(
                            "it is also defined at {}:{line}; rename or remove one of them",
                            first.path.display()
                        ));
                    self.diags.push(d);
                    continue;
                }
                seen.insert(entry.name.clone(), (file, &entry.path));
                out.push((file, entry));
            }
        }
        out
    }

    fn normalizers(&mut self) -> HashMap<String, Arc<Normalizer>> {
        let mut out = HashMap::new();
        for (file, entry) in self.unique("normalizer", |f| &f.normalizers) {
            match Normalizer::compile(&entry.spec) {
                Ok(n) => {
                    out.insert(entry.name.clone(), Arc::new(n));
                }
                Err(errors) => {
                    for e in errors {
                        let mut path = entry.path.clone();
                        path.push(e.index.to_string());
                        let mut d = file.diag(&path, e.message);
                        if let Some(h) = e.hint {
                            d = d.with_hint(h);
                        }
                        self.diags.push(d);
                    }
                }
            }
        }
        out
    }

    fn events(&mut self) -> Vec<EventRule> {
        let mut out = Vec::new();
        for (file, entry) in self.unique("event", |f| &f.events) {
            match EventRule::compile(&entry.name, &entry.spec) {
                Ok(rule) => out.push(rule),
                Err(errors) => {
                    for (sub, message, hint) in errors {
                        let path: Vec<String> = entry.path.iter().cloned().chain(sub).collect();
                        self.diags.push(file.diag(&path, message).with_hint(hint));
                    }
                }
            }
        }
        out
    }

    fn dedup(
        &mut self,
        normalizers: &HashMap<String, Arc<Normalizer>>,
        extra: &[String],
    ) -> Option<DedupConfig> {
        let defaults: Vec<_> = self
            .parsed
            .iter()
            .filter_map(|f| f.dedup_default.as_ref().map(|d| (f, d)))
            .collect();
        if let Some((second, entry)) = defaults.get(1) {
            let first = defaults[0].0;
            self.diags.push(
                second
                    .diag(&entry.path, "`dedup.default` is defined twice")
                    .with_hint(format!(
                        "it is also defined in {}; keep one",
                        first.path.display()
                    )),
            );
        }
        let channels = self.unique("dedup channel", |f| &f.channels);
        let Some((file, default)) = defaults.first().copied() else {
            if self.parsed.iter().any(|f| f.has_dedup_default) {
                // The default failed to read (already reported); still report the channels' own
                // mistakes, against a stand-in window so no missing-window error is invented.
                let stand_in = WindowSpec {
                    window: Some("1s".into()),
                    ..WindowSpec::default()
                };
                for (f, entry) in channels {
                    self.channel(f, &entry.name, entry, &stand_in, normalizers, extra);
                }
                return None;
            }
            if let Some((file, entry)) = channels.first() {
                self.diags.push(
                    file.diag(&entry.path, "dedup channels need a `dedup.default`")
                        .with_hint("add `dedup:` → `default:` with at least `window: 45s`"),
                );
            }
            return None;
        };
        let base = WindowSpec::default();
        let default_ch = self.channel(file, "default", default, &base, normalizers, extra)?;
        let mut out = BTreeMap::new();
        for (f, entry) in channels {
            if let Some(ch) = self.channel(f, &entry.name, entry, &default.spec, normalizers, extra)
            {
                out.insert(entry.name.clone(), ch);
            }
        }
        Some(DedupConfig {
            default: default_ch,
            channels: out,
        })
    }

    fn channel(
        &mut self,
        file: &ParsedFile,
        name: &str,
        entry: &Entry<WindowSpec>,
        base: &WindowSpec,
        normalizers: &HashMap<String, Arc<Normalizer>>,
        extra: &[String],
    ) -> Option<Channel> {
        let spec = &entry.spec;
        let at = |key: &str| -> Vec<String> {
            entry
                .path
                .iter()
                .cloned()
                .chain([key.to_string()])
                .collect()
        };
        let window = match spec.window.as_ref().or(base.window.as_ref()) {
            None => {
                self.diags.push(
                    file.diag(&entry.path, "the dedup window is not set")
                        .with_hint("add `window: 45s`"),
                );
                return None;
            }
            Some(w) => match w.parse() {
                Ok(d) if d > MAX_WINDOW => {
                    self.diags.push(file.diag(&at("window"), "the dedup window is longer than 7 days").with_hint("a duplicate is a re-send within minutes or hours; write a window such as `45s` or `1h`"));
                    return None;
                }
                Ok(d) if !d.is_zero() => d,
                Ok(_) => {
                    self.diags.push(
                        file.diag(&at("window"), "the dedup window must be longer than zero")
                            .with_hint("write a window such as `45s`"),
                    );
                    return None;
                }
                Err(e) => {
                    self.diags.push(
                        file.diag(&at("window"), e)
                            .with_hint(crate::duration::DurationStr::HINT),
                    );
                    return None;
                }
            },
        };
        let fields: Vec<String> = spec
            .fingerprint
            .clone()
            .or_else(|| base.fingerprint.clone())
            .unwrap_or_else(|| DEFAULT_FIELDS.iter().map(|s| s.to_string()).collect());
        let known: Vec<&str> = FIELD_NAMES
            .iter()
            .copied()
            .chain(extra.iter().map(String::as_str))
            .collect();
        let mut ok = true;
        for (i, f) in fields.iter().enumerate() {
            if !known.contains(&f.as_str()) {
                let path: Vec<String> = at("fingerprint")
                    .into_iter()
                    .chain([i.to_string()])
                    .collect();
                self.diags.push(
                    file.diag(&path, format!("unknown fingerprint field `{f}`"))
                        .with_hint(unknown_name_hint(f, known.iter().copied())),
                );
                ok = false;
            }
        }
        if fields.is_empty() {
            self.diags.push(
                file.diag(
                    &at("fingerprint"),
                    "the fingerprint needs at least one field",
                )
                .with_hint("write `fingerprint: [sender, content]`"),
            );
            ok = false;
        }
        let normalizer_name = spec.normalizer.clone().or_else(|| base.normalizer.clone());
        let normalizer = match &normalizer_name {
            None => None,
            Some(n) => match normalizers.get(n) {
                Some(norm) => Some(norm.clone()),
                None => {
                    let names: Vec<&str> = self
                        .parsed
                        .iter()
                        .flat_map(|f| f.normalizers.iter().map(|e| e.name.as_str()))
                        .collect();
                    self.diags.push(
                        file.diag(&at("normalizer"), format!("unknown normalizer `{n}`"))
                            .with_hint(unknown_name_hint(n, names.iter().copied())),
                    );
                    ok = false;
                    None
                }
            },
        };
        let mode = spec.mode.or(base.mode).unwrap_or_default();
        let policy = WindowPolicy {
            window,
            sliding: mode == WindowMode::Sliding,
            max_interactions: spec
                .max_interactions
                .or(base.max_interactions)
                .unwrap_or(DEFAULT_MAX_INTERACTIONS) as usize,
            max_fingerprints: spec
                .max_fingerprints_per_interaction
                .or(base.max_fingerprints_per_interaction)
                .unwrap_or(DEFAULT_MAX_FINGERPRINTS) as usize,
        };
        let steps = normalizer_name
            .as_ref()
            .and_then(|n| {
                self.parsed
                    .iter()
                    .flat_map(|f| &f.normalizers)
                    .find(|e| &e.name == n)
            })
            .map(|e| format!("{:?}", e.spec));
        let identity = format!("{policy:?}|{fields:?}|{steps:?}");
        ok.then(|| Channel {
            name: name.to_string(),
            policy,
            fields,
            normalizer,
            identity,
        })
    }

    fn routes(&mut self, events: &[EventRule]) -> BTreeMap<String, Route> {
        let mut out = BTreeMap::new();
        let extra: Vec<String> = events
            .iter()
            .flat_map(|e| e.fields.keys().cloned())
            .collect();
        for (file, entry) in self.unique("route", |f| &f.routes) {
            match Route::compile(&entry.name, &entry.spec, &extra) {
                Ok(r) => {
                    out.insert(entry.name.clone(), r);
                }
                Err(errors) => {
                    for (sub, message, hint) in errors {
                        let path: Vec<String> = entry.path.iter().cloned().chain(sub).collect();
                        self.diags.push(file.diag(&path, message).with_hint(hint));
                    }
                }
            }
        }
        out
    }

    fn check_references(
        &mut self,
        events: &[EventRule],
        routes: &BTreeMap<String, Route>,
        has_dedup: bool,
    ) {
        let entries = self
            .parsed
            .iter()
            .flat_map(|f| f.events.iter().map(move |e| (f, e)));
        for (file, entry) in entries {
            let Some(rule) = events.iter().find(|e| e.name == entry.name) else {
                continue;
            };
            if let Some(route) = &rule.route {
                if !routes.contains_key(route) {
                    let path: Vec<String> = entry
                        .path
                        .iter()
                        .cloned()
                        .chain(["route".to_string()])
                        .collect();
                    self.diags.push(
                        file.diag(&path, format!("unknown route `{route}`"))
                            .with_hint(unknown_name_hint(route, routes.keys().map(String::as_str))),
                    );
                }
            }
            if rule.dedup && !has_dedup {
                let path: Vec<String> = entry
                    .path
                    .iter()
                    .cloned()
                    .chain(["dedup".to_string()])
                    .collect();
                self.diags.push(
                    file.diag(
                        &path,
                        "dedup is on for this event but no `dedup:` section defines a window",
                    )
                    .with_hint("add `dedup:` → `default:` → `window: 45s` to a rule file"),
                );
            }
        }
    }

    fn tests(&mut self) -> Vec<TestCaseSpec> {
        let mut out = Vec::new();
        for (file, e) in self.unique("test case", |f| &f.tests) {
            if e.name.trim().is_empty() {
                let path: Vec<String> =
                    e.path.iter().cloned().chain(["name".to_string()]).collect();
                self.diags.push(
                    file.diag(&path, "a test case needs a name")
                        .with_hint("add `name: what the case checks`"),
                );
                continue;
            }
            out.push(e.spec.clone());
        }
        out
    }
}
