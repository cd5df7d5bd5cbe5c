//! Load → validate → compile: a rules directory becomes one immutable `CompiledRules`.
//!
//! Every problem in every file is collected before giving up, each located (file, line:column or
//! document path) with a hint. The same function serves start-up, reload and `cxrules check`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::dedup::compile::Defined;
use crate::dedup::config::{Channel, DedupConfig, WindowSpec};
use crate::diag::{Diagnostic, Diagnostics};
use crate::events::{EventRule, EventSpec};
use crate::hint::unknown_name_hint;
use crate::normalize::Normalizer;
use crate::routing::route::Route;
use crate::rulefile::{parse_file, Entry, ParsedFile};
use crate::testcase::TestCaseSpec;

use crate::sources::content_hash;
pub use crate::sources::{read_sources, rule_files, Sources};

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
    /// Where each test case is written (`rules/tests.yaml:57`), in the order of `tests`.
    pub(crate) test_sites: Vec<String>,
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

    /// Where the `index`th test case is written: `file:line`.
    pub fn test_site(&self, index: usize) -> Option<&str> {
        self.test_sites.get(index).map(String::as_str)
    }
}

/// Reads and compiles every rule file of `dir`.
pub fn load_dir(dir: &Path) -> Result<CompiledRules, Diagnostics> {
    let sources = read_sources(dir)?;
    compile_sources(sources.files, sources.problems)
}

/// What the host requires of rules beyond the rule language itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requirements {
    /// Every target of a route used by an event rule that reads a contact number
    /// (`fields.contact_id`) must carry a `skill_id`: the real CXone digital API routes a
    /// contact to a numeric skill and nothing else (the host's `dfo` profile).
    pub skill_ids: bool,
}

/// Compiles rule files given as (path, text); `diags` carries problems found before this step.
pub fn compile_sources(
    sources: Vec<(PathBuf, String)>,
    diags: Vec<Diagnostic>,
) -> Result<CompiledRules, Diagnostics> {
    compile_sources_for(sources, diags, Requirements::default())
}

/// [`compile_sources`] with the host's [`Requirements`] checked too.
pub fn compile_sources_for(
    sources: Vec<(PathBuf, String)>,
    mut diags: Vec<Diagnostic>,
    requirements: Requirements,
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
        requirements,
    }
    .compile(version, files);
    if diags.is_empty() {
        Ok(rules)
    } else {
        Err(Diagnostics(diags))
    }
}

/// A window that compiles, standing in for one that is broken or missing (and reported), so
/// what depends on it is still checked.
fn stand_in_window() -> WindowSpec {
    WindowSpec {
        window: Some("1s".into()),
        ..WindowSpec::default()
    }
}

/// Where each named thing was defined, to report both places of a duplicate.
type Seen<'a> = HashMap<String, (&'a ParsedFile, &'a [String])>;

/// A problem an entry's own compile step found: (path below the entry, message, hint).
type Problem = (Vec<String>, String, String);

struct Compiler<'a, 'd> {
    parsed: &'a [ParsedFile],
    diags: &'d mut Vec<Diagnostic>,
    requirements: Requirements,
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
        let routes = self.routes(&extra);
        let has_dedup = self.parsed.iter().any(|f| f.has_dedup_default);
        self.check_references(&events, has_dedup);
        self.check_fields_per_event(&events, dedup.as_ref(), &routes);
        if self.requirements.skill_ids {
            self.check_skill_ids(&events);
        }
        let (tests, test_sites) = self.tests().into_iter().unzip();
        CompiledRules {
            version,
            loaded_at: SystemTime::now(),
            files,
            events,
            dedup,
            routes,
            tests,
            test_sites,
        }
    }

    /// Reports the problems an entry's compile step found, each located below the entry's path.
    /// A problem at or around a setting set aside to read the entry is left out: the setting's
    /// own mistake is reported already, and this one only follows from it.
    fn report<T>(&mut self, file: &ParsedFile, entry: &Entry<T>, problems: Vec<Problem>) {
        for (sub, message, hint) in problems {
            if entry.repairs.touches(&sub) {
                continue;
            }
            let sub = entry.repairs.as_written(&sub);
            let path: Vec<String> = entry.path.iter().cloned().chain(sub).collect();
            self.diags.push(file.diag(&path, message).with_hint(hint));
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

    /// The normalizers by name. One that is written but broken (reported) is there as an
    /// empty stand-in, so a channel naming it is not also told the name is unknown; the rules
    /// are refused anyway.
    fn normalizers(&mut self) -> HashMap<String, Arc<Normalizer>> {
        let stand_in = Arc::new(Normalizer::compile(&[]).expect("an empty pipeline compiles"));
        let mut out: HashMap<String, Arc<Normalizer>> = self
            .unreadable("normalizers")
            .map(|name| (name, stand_in.clone()))
            .collect();
        for (file, entry) in self.unique("normalizer", |f| &f.normalizers) {
            match Normalizer::compile(&entry.spec) {
                Ok(n) => {
                    out.insert(entry.name.clone(), Arc::new(n));
                }
                Err(errors) => {
                    out.insert(entry.name.clone(), stand_in.clone());
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

    /// The names of a section's entries that were written but could not be read.
    fn unreadable(&self, section: &'a str) -> impl Iterator<Item = String> + 'a {
        self.parsed
            .iter()
            .flat_map(|f| f.unreadable.iter())
            .filter(move |p| p.len() == 2 && p[0] == section)
            .map(|p| p[1].clone())
    }

    fn events(&mut self) -> Vec<EventRule> {
        let mut out = Vec::new();
        // Which rule claimed each event type first, and where: only one rule may handle a type,
        // else the first would silently win.
        let mut claimed: HashMap<String, (&'a ParsedFile, &'a Entry<EventSpec>)> = HashMap::new();
        for (file, entry) in self.unique("event", |f| &f.events) {
            let types = match &entry.spec.types {
                crate::events::Pointers::One(t) => std::slice::from_ref(t),
                crate::events::Pointers::Many(v) => v.as_slice(),
            };
            for t in types {
                match claimed.get(t) {
                    Some((first, first_entry)) if first_entry.name != entry.name => {
                        let (line, _) =
                            crate::locate::locate(&first.text, &first_entry.path).unwrap_or((0, 0));
                        let d = file
                            .diag(
                                &below(&entry.path, "type"),
                                format!(
                                    "event type `{t}` is claimed by event rules `{}` and `{}`",
                                    first_entry.name, entry.name
                                ),
                            )
                            .with_hint(format!(
                                "`{}` is at {}:{line}; one rule handles each event type: \
                                 drop the type from one of them",
                                first_entry.name,
                                first.path.display()
                            ));
                        self.diags.push(d);
                    }
                    Some(_) => {}
                    None => {
                        claimed.insert(t.clone(), (file, entry));
                    }
                }
            }
            match EventRule::compile(&entry.name, &entry.spec) {
                Ok(rule) => out.push(rule),
                Err(errors) => self.report(file, entry, errors),
            }
        }
        out
    }

    /// The routes; `extra` are the extra field names the events define.
    fn routes(&mut self, extra: &[String]) -> BTreeMap<String, Route> {
        let mut out = BTreeMap::new();
        for (file, entry) in self.unique("route", |f| &f.routes) {
            match Route::compile(&entry.name, &entry.spec, extra) {
                Ok(r) => {
                    out.insert(entry.name.clone(), r);
                }
                Err(errors) => self.report(file, entry, errors),
            }
        }
        out
    }

    /// The `dedup:` section over all files: one `default`, defined once, and the channels, each
    /// taking what it leaves unset from the default.
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
        let defined = Defined {
            normalizers,
            normalizer_names: self
                .parsed
                .iter()
                .flat_map(|f| f.normalizers.iter().map(|e| e.name.as_str()))
                .collect(),
            extra,
        };
        let Some((file, default)) = defaults.first().copied() else {
            self.channels_without_default(&channels, &defined);
            return None;
        };
        let default_ch = self.window(file, default, &WindowSpec::default(), &defined);
        // When the default is broken (reported), the channels are still checked, over a
        // stand-in window, so their own mistakes show in the same run and the default's are
        // not reported again at every channel inheriting them.
        let base = match default_ch {
            Some(_) => default.spec.clone(),
            None => stand_in_window(),
        };
        let mut out = BTreeMap::new();
        for (f, entry) in channels {
            if let Some(ch) = self.window(f, entry, &base, &defined) {
                out.insert(entry.name.clone(), ch);
            }
        }
        Some(DedupConfig {
            default: default_ch?,
            channels: out,
        })
    }

    /// Channels with no `dedup.default` to inherit from: an error, unless a default is written
    /// but failed to read (already reported); the channels' own mistakes are then still
    /// reported, checked against a stand-in window so no missing-window error is invented.
    fn channels_without_default(
        &mut self,
        channels: &[(&ParsedFile, &Entry<WindowSpec>)],
        defined: &Defined<'_>,
    ) {
        if self.parsed.iter().any(|f| f.has_dedup_default) {
            for (f, entry) in channels {
                self.window(f, entry, &stand_in_window(), defined);
            }
        } else if let Some((file, entry)) = channels.first() {
            self.diags.push(
                file.diag(&entry.path, "dedup channels need a `dedup.default`")
                    .with_hint("add `dedup:` → `default:` with at least `window: 45s`"),
            );
        }
    }

    /// One dedup window (the default or a channel) compiled over `base`; its problems reported.
    fn window(
        &mut self,
        file: &ParsedFile,
        entry: &Entry<WindowSpec>,
        base: &WindowSpec,
        defined: &Defined<'_>,
    ) -> Option<Channel> {
        // A window set aside (its mistake reported) is stood in for, so the channel's other
        // settings are still checked rather than hidden behind "the window is not set".
        let stand_in;
        let spec = if entry
            .repairs
            .set_aside
            .contains(&vec!["window".to_string()])
        {
            stand_in = WindowSpec {
                window: stand_in_window().window,
                ..entry.spec.clone()
            };
            &stand_in
        } else {
            &entry.spec
        };
        Channel::compile(&entry.name, spec, base, defined)
            .map_err(|problems| self.report(file, entry, problems))
            .ok()
    }

    /// Each event entry written, with its file and its compiled rule; an entry that did not
    /// compile is left out (its own errors are reported where it is).
    fn compiled_events<'e>(
        &self,
        events: &'e [EventRule],
    ) -> Vec<(&'a ParsedFile, &'a Entry<EventSpec>, &'e EventRule)> {
        let parsed: &'a [ParsedFile] = self.parsed;
        parsed
            .iter()
            .flat_map(|f| f.events.iter().map(move |e| (f, e)))
            .filter_map(|(f, e)| Some((f, e, events.iter().find(|r| r.name == e.name)?)))
            .collect()
    }

    fn check_references(&mut self, events: &[EventRule], has_dedup: bool) {
        // Every route written counts as defined, compiled or not: a broken one is reported
        // where it is, not again at each event naming it.
        let mut written: Vec<String> = self.unreadable("routing").collect();
        written.extend(
            self.parsed
                .iter()
                .flat_map(|f| f.routes.iter().map(|e| e.name.clone())),
        );
        for (file, entry, rule) in self.compiled_events(events) {
            if let Some(route) = &rule.route {
                if !written.contains(route) {
                    self.diags.push(
                        file.diag(
                            &below(&entry.path, "route"),
                            format!("unknown route `{route}`"),
                        )
                        .with_hint(unknown_name_hint(route, written.iter().map(String::as_str))),
                    );
                }
            }
            if rule.dedup && !has_dedup {
                self.diags.push(
                    file.diag(
                        &below(&entry.path, "dedup"),
                        "dedup is on for this event but no `dedup:` section defines a window",
                    )
                    .with_hint("add `dedup:` → `default:` → `window: 45s` to a rule file"),
                );
            }
        }
    }

    /// Every field an event's fingerprints and SKU read must be defined for that event: an
    /// extra field of another event rule would be missing from every event of this one.
    fn check_fields_per_event(
        &mut self,
        events: &[EventRule],
        dedup: Option<&DedupConfig>,
        routes: &BTreeMap<String, Route>,
    ) {
        for (file, entry, rule) in self.compiled_events(events) {
            let mut missing = Vec::new();
            for ch in dedup
                .filter(|_| rule.dedup)
                .into_iter()
                .flat_map(|d| d.all())
            {
                for field in ch.fields.iter().filter(|f| !rule.fields.contains_key(*f)) {
                    let what = format!("dedup channel `{}` fingerprints `{field}`", ch.name());
                    missing.push(("dedup", what, field.clone()));
                }
            }
            if let Some((name, route)) = rule.route.as_ref().and_then(|r| routes.get_key_value(r)) {
                for field in route
                    .fields()
                    .into_iter()
                    .filter(|f| !rule.fields.contains_key(*f))
                {
                    let what = format!("route `{name}` reads `{field}` for its SKU");
                    missing.push(("route", what, field.to_string()));
                }
            }
            for (key, what, field) in missing {
                self.diags.push(
                    file.diag(
                        &below(&entry.path, key),
                        format!("{what}, which this event rule does not define"),
                    )
                        .with_hint(format!(
                            "add `fields: {{ extra: {{ {field}: /pointer/to/it }} }}` to this event rule"
                        )),
                );
            }
        }
    }

    /// Every target of a route that a contact-addressing event rule uses names a `skill_id`.
    fn check_skill_ids(&mut self, events: &[EventRule]) {
        let used: Vec<&str> = events
            .iter()
            .filter(|e| e.contact_set)
            .filter_map(|e| e.route.as_deref())
            .collect();
        let mut problems = Vec::new();
        for file in self.parsed {
            for entry in file
                .routes
                .iter()
                .filter(|r| used.contains(&r.name.as_str()))
            {
                let spec = &entry.spec;
                let targets = spec
                    .statuses
                    .iter()
                    .map(|(status, t)| (vec!["statuses".to_string(), status.clone()], t))
                    .chain([
                        (vec!["unknown".to_string()], &spec.unknown),
                        (vec!["fallback".to_string()], &spec.fallback),
                    ]);
                for (sub, _) in targets.filter(|(_, t)| t.skill_id.is_none()) {
                    let path: Vec<String> = entry.path.iter().cloned().chain(sub).collect();
                    problems.push(
                        file.diag(
                            &path,
                            format!(
                                "route `{}`: this target has no `skill_id`, so the `dfo` profile \
                                 could not route a contact to it",
                                entry.name
                            ),
                        )
                        .with_hint(
                            "add `skill_id: <the CXone skill's number>` (e.g. \
                             `skill_id: ${GENERAL_SKILL_ID:-4512}`) to the target",
                        ),
                    );
                }
            }
        }
        self.diags.extend(problems);
    }

    /// The test cases with where each is written (`file:line`).
    fn tests(&mut self) -> Vec<(TestCaseSpec, String)> {
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
            let (line, _) = crate::locate::locate(&file.text, &e.path).unwrap_or((0, 0));
            out.push((e.spec.clone(), format!("{}:{line}", file.path.display())));
        }
        out
    }
}

/// The document path of `key` below an entry's path.
fn below(path: &[String], key: &str) -> Vec<String> {
    path.iter().cloned().chain([key.to_string()]).collect()
}
