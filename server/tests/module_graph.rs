//! The server's top-level modules form a DAG: no module reaches itself through `crate::` paths.
//!
//! What everything needs lives in a leaf (`state` for `AppState`), so the router (`app`) may
//! know the route modules but they never know it. Only top-level modules are nodes here (a
//! directory module is one node); test code is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The source without inline test modules (`#[cfg(test)] mod name { … }` to the end of file).
fn without_tests(text: &str) -> &str {
    let mut from = 0;
    while let Some(at) = text[from..].find("#[cfg(test)]") {
        let start = from + at;
        let rest = text[start + "#[cfg(test)]".len()..].trim_start();
        if rest.starts_with("mod ") && rest.find('{') < rest.find(';') {
            return &text[..start];
        }
        from = start + 1;
    }
    text
}

/// The top-level modules a file names through `crate::name` or `crate::{name, …}`.
fn references(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        let items: Vec<&str> = match rest.strip_prefix('{') {
            Some(list) => list[..list.find('}').unwrap_or(list.len())]
                .split(',')
                .collect(),
            None => vec![rest],
        };
        for item in items {
            let name: String = item
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if name.starts_with(|c: char| c.is_lowercase()) {
                out.insert(name);
            }
        }
    }
    out
}

fn add_file(graph: &mut Graph, module: &str, path: &Path) {
    let text = std::fs::read_to_string(path).expect("read a source file");
    let refs = references(without_tests(&text));
    let edges = graph.entry(module.to_owned()).or_default();
    edges.extend(refs.into_iter().filter(|r| r != module));
}

fn add_dir(graph: &mut Graph, module: &str, dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("read a source directory") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() && name != "tests" {
            add_dir(graph, module, &path);
        } else if name.ends_with(".rs") && name != "tests.rs" {
            add_file(graph, module, &path);
        }
    }
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = Graph::new();
    for entry in std::fs::read_dir(&src).expect("read src") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        match name.strip_suffix(".rs") {
            Some("lib" | "main") => {}
            Some(module) => add_file(&mut graph, module, &path),
            None if path.is_dir() => add_dir(&mut graph, name, &path),
            None => {}
        }
    }
    graph
}

/// A path from `node` back to a node already on `stack`, if there is one.
fn cycle_from(graph: &Graph, node: &str, stack: &mut Vec<String>) -> Option<Vec<String>> {
    if let Some(at) = stack.iter().position(|n| n == node) {
        let mut cycle = stack[at..].to_vec();
        cycle.push(node.to_owned());
        return Some(cycle);
    }
    stack.push(node.to_owned());
    for next in graph.get(node).into_iter().flatten() {
        if let Some(cycle) = cycle_from(graph, next, stack) {
            return Some(cycle);
        }
    }
    stack.pop();
    None
}

#[test]
fn the_top_level_modules_import_each_other_in_no_circle() {
    let graph = graph();
    for node in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, node, &mut Vec::new()) {
            panic!("modules in a circle: {}", cycle.join(" -> "));
        }
    }
    assert!(
        graph["app"].contains("routes"),
        "the reader found the router's imports"
    );
}

#[test]
fn the_reader_sees_paths_and_lists_and_skips_inline_tests() {
    let text = "use crate::a::X;\nuse crate::{b, c::Y, Z};\n#[cfg(test)]\nmod t;\nfn f(x: u8, y: u8) { crate::d::g(x, y) }\n#[cfg(test)]\nmod tests {\n    use crate::e;\n}\n";
    let refs = references(without_tests(text));
    assert_eq!(refs, ["a", "b", "c", "d"].map(String::from).into());
}
