// SPDX-License-Identifier: MPL-2.0
//! The crate's structure, checked: no two files under `src/` import each other, directly or in a
//! loop. Arrows run from an element's `imp.rs` outwards to plain modules; a module beside `imp.rs`
//! that reached back into it (an `impl Element` block split over files) would show up here as a
//! loop.
//!
//! A file's imports are its `use` declarations and the `crate::…`, `super::…` and `self::…` paths
//! in its code (comments, strings and `#[cfg(test)] mod tests` blocks left out: a unit test reads
//! its own file). A path is resolved to the deepest file it names: `super::plan::Request` from
//! `src/autoconvert/imp.rs` is `src/autoconvert/plan.rs`, `crate::chainbin::ChainSlot` is
//! `src/chainbin/mod.rs`, or the file it re-exports `ChainSlot` from. A folder's `mod.rs` declares
//! and re-exports its children (`mod imp;`, `pub use gather::run;`, `glib::wrapper!` naming
//! `imp::Type`): that is its front door, not an import; a private `use child::…` in it is one.
//! An inherent `impl Type { … }` block in another file than the one defining `Type` (an element's
//! methods spread over files) counts as an import both ways.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn no_two_files_under_src_import_each_other() {
    let graph = import_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    // The reader works: a known arrow is seen, so an empty graph cannot pass.
    assert!(
        graph["autoconvert/imp.rs"].contains("autoconvert/plan.rs"),
        "the checker no longer sees autoconvert/imp.rs use autoconvert/plan.rs: {graph:#?}"
    );
    let loops = loops(&graph);
    assert!(
        loops.is_empty(),
        "files under src/ that import each other (arrows must run from imp.rs outwards):\n{}",
        loops
            .iter()
            .map(|l| format!("  {}", l.join(" -> ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The tests that read gststrom's test hooks (`autoenc`, `interop`, `reliability`) need the
/// `testing` feature (Cargo.toml); a `cargo test` without it would leave them out without a
/// word, so this one fails instead.
#[test]
fn the_test_hooks_are_built() {
    if !cfg!(feature = "testing") {
        panic!(
            "the tests autoenc, interop and reliability need gststrom's test hooks and were not \
             built: run `cargo test --features testing` (scripts/test.sh does)"
        );
    }
}

#[test]
fn loops_are_found_and_acyclic_graphs_pass() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g = Graph::new();
        for (from, to) in edges {
            g.entry(from.to_string())
                .or_default()
                .insert(to.to_string());
            g.entry(to.to_string()).or_default();
        }
        g
    };
    assert!(loops(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])).is_empty());
    assert_eq!(
        loops(&graph(&[("a", "b"), ("b", "a")])),
        vec![vec!["a", "b", "a"]]
    );
    let three = loops(&graph(&[
        ("imp", "chain"),
        ("chain", "report"),
        ("report", "imp"),
    ]));
    assert_eq!(three, vec![vec!["chain", "report", "imp", "chain"]]);
}

#[test]
fn methods_spread_over_files_are_a_loop() {
    let imp = "pub struct Bin { state: u32 }\nimpl ObjectImpl for Bin {}\nimpl Bin { fn a() {} }"
        .to_string();
    let chain = "use super::imp::Bin;\nimpl Bin { fn build(&self) {} }".to_string();
    let (imp_name, chain_name) = ("el/imp.rs".to_string(), "el/chain.rs".to_string());
    let code = BTreeMap::from([(&imp_name, imp), (&chain_name, chain)]);
    assert_eq!(
        split_impls(&code),
        vec![(imp_name.clone(), chain_name.clone())]
    );
    assert_eq!(
        inherent_impls(&tokens("impl<T: A> Slot<T> { } impl Trait for X { }")),
        vec!["Slot"]
    );
}

#[test]
fn use_trees_and_paths_are_read() {
    let text = r#"
        use super::plan::{self, ChainShape as Shape};
        use crate::chainbin::{ElementSpec, consumer::{self, find}};
        use gst::prelude::*;
        // use super::commented::Out;
        const S: &str = "super::in_a_string::X";
        fn f() { super::inline::call(); let c = 'a'; crate::deep::er::Item::new(); }
        #[cfg(test)]
        mod tests { use super::*; use super::tested_only::X; }
    "#;
    let paths: Vec<Vec<String>> = paths_in(&code_only(text))
        .into_iter()
        .map(|p| p.0)
        .collect();
    let expected: Vec<Vec<&str>> = vec![
        vec!["super", "plan", "self"],
        vec!["super", "plan", "ChainShape"],
        vec!["crate", "chainbin", "ElementSpec"],
        vec!["crate", "chainbin", "consumer", "self"],
        vec!["crate", "chainbin", "consumer", "find"],
        vec!["gst", "prelude", "*"],
        vec!["super", "inline", "call"],
        vec!["crate", "deep", "er", "Item", "new"],
    ];
    assert_eq!(paths, expected);
}

/// Every `.rs` file under `src` (relative name) → the files it imports.
fn import_graph(src: &Path) -> Graph {
    let files = rust_files(src);
    assert!(files.len() > 20, "too few files under {}", src.display());
    let modules: BTreeMap<Vec<String>, String> = files
        .iter()
        .filter_map(|f| Some((module_of(f)?, f.clone())))
        .collect();
    let code: BTreeMap<&String, String> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(src.join(f)).expect("readable source");
            (f, code_only(&text))
        })
        .collect();
    let reexports = reexports(&code, &modules);
    let mut graph = Graph::new();
    for file in &files {
        let module = module_of(file).expect("every file is a module");
        let is_folder_root = is_folder_root(file);
        let mut imports = BTreeSet::new();
        for (path, reexport) in paths_in(&code[file]) {
            if reexport && is_folder_root {
                continue;
            }
            let Some(absolute) = resolve(&module, is_folder_root, &path, &modules) else {
                continue;
            };
            if let Some(target) = defining_file(&absolute, &modules, &reexports)
                && target != *file
            {
                imports.insert(target);
            }
        }
        graph.insert(file.clone(), imports);
    }
    for (type_file, impl_file) in split_impls(&code) {
        graph.entry(type_file).or_default().insert(impl_file);
    }
    graph
}

fn is_folder_root(file: &str) -> bool {
    file == "lib.rs" || file.ends_with("mod.rs")
}

/// Per folder root: the name it re-exports (`pub use child::Item;`) → the file defining it.
fn reexports(
    code: &BTreeMap<&String, String>,
    modules: &BTreeMap<Vec<String>, String>,
) -> BTreeMap<(String, String), String> {
    let mut map = BTreeMap::new();
    for (file, text) in code {
        if !is_folder_root(file) {
            continue;
        }
        let module = module_of(file).expect("module");
        for (path, reexport) in paths_in(text) {
            if !reexport {
                continue;
            }
            let Some(absolute) = resolve(&module, true, &path, modules) else {
                continue;
            };
            if let (Some(item), Some(target)) = (path.last(), deepest_file(&absolute, modules)) {
                map.insert(((*file).clone(), item.clone()), target.clone());
            }
        }
    }
    map
}

/// The file that defines what `path` names: the deepest module file, or where that file's
/// re-export of the next name comes from.
fn defining_file(
    path: &[String],
    modules: &BTreeMap<Vec<String>, String>,
    reexports: &BTreeMap<(String, String), String>,
) -> Option<String> {
    let n = (0..=path.len())
        .rev()
        .find(|n| modules.contains_key(&path[..*n]))?;
    let file = &modules[&path[..n]];
    let reexported = path
        .get(n)
        .and_then(|item| reexports.get(&(file.clone(), item.clone())));
    Some(reexported.unwrap_or(file).clone())
}

/// (file defining a type, another file of the same folder with an inherent `impl` of it).
fn split_impls(code: &BTreeMap<&String, String>) -> Vec<(String, String)> {
    let folder = |f: &str| {
        f.rsplit_once('/')
            .map_or(String::new(), |(d, _)| d.to_string())
    };
    let mut defined: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (file, text) in code {
        let tokens = tokens(text);
        for w in tokens.windows(2) {
            if matches!(w[0].as_str(), "struct" | "enum") && is_word(&w[1]) {
                defined
                    .entry((folder(file), w[1].clone()))
                    .or_default()
                    .push((*file).clone());
            }
        }
    }
    let mut edges = Vec::new();
    for (file, text) in code {
        for name in inherent_impls(&tokens(text)) {
            // `glib::wrapper!` in mod.rs names the public type too: the subclass is the other.
            let owners: Vec<&String> = defined
                .get(&(folder(file), name))
                .into_iter()
                .flatten()
                .filter(|f| !is_folder_root(f))
                .collect();
            if let [owner] = owners.as_slice()
                && *owner != *file
            {
                edges.push(((*owner).clone(), (*file).clone()));
            }
        }
    }
    edges
}

/// The types of the inherent `impl Type { … }` blocks in `tokens` (not `impl Trait for Type`).
fn inherent_impls(tokens: &[String]) -> Vec<String> {
    let mut names = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if t != "impl" {
            continue;
        }
        let mut j = skip_generics(tokens, i + 1);
        let mut name = None;
        while let Some(t) = tokens.get(j) {
            match t.as_str() {
                "::" => j += 1,
                "<" => j = skip_generics(tokens, j),
                "{" => {
                    names.extend(name);
                    break;
                }
                word if is_word(word) && word != "for" && word != "where" => {
                    name = Some(word.to_string());
                    j += 1;
                }
                _ => break,
            }
        }
    }
    names
}

/// The index after the `<…>` starting at `i`, or `i` where none starts.
fn skip_generics(tokens: &[String], i: usize) -> usize {
    if tokens.get(i).is_none_or(|t| t != "<") {
        return i;
    }
    closing(tokens, i, "<", ">") + 1
}

/// Relative names of the `.rs` files under `dir`, `src/bin` left out (other crates).
fn rust_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("readable dir")
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.strip_prefix(root).expect("under root");
            if path.is_dir() && name != Path::new("bin") {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(name.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

/// The module path of a file: `lib.rs` → [], `a/mod.rs` → [a], `a/b.rs` → [a, b].
fn module_of(file: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = file.trim_end_matches(".rs").split('/').collect();
    match parts.as_slice() {
        ["lib"] => Some(Vec::new()),
        [dirs @ .., "mod"] => Some(dirs.iter().map(|s| s.to_string()).collect()),
        all => Some(all.iter().map(|s| s.to_string()).collect()),
    }
}

/// `path` as written in the file of `module` → an absolute module path; None for other crates.
fn resolve(
    module: &[String],
    is_folder_root: bool,
    path: &[String],
    modules: &BTreeMap<Vec<String>, String>,
) -> Option<Vec<String>> {
    let mut base: Vec<String> = module.to_vec();
    let mut rest = path;
    match rest.first()?.as_str() {
        "crate" => {
            base.clear();
            rest = &rest[1..];
        }
        "self" => rest = &rest[1..],
        "super" => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        // `use child::…` in a folder's root names its own child module.
        first if is_folder_root => {
            let mut child = module.to_vec();
            child.push(first.to_string());
            if !modules.contains_key(&child) {
                return None;
            }
        }
        _ => return None,
    }
    base.extend(rest.iter().filter(|s| *s != "self" && *s != "*").cloned());
    Some(base)
}

/// The file of the longest prefix of `path` that is a module.
fn deepest_file<'a>(
    path: &[String],
    modules: &'a BTreeMap<Vec<String>, String>,
) -> Option<&'a String> {
    (0..=path.len()).rev().find_map(|n| modules.get(&path[..n]))
}

/// `text` without comments, string and char literals, and `#[cfg(test)] mod … { … }` blocks.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r'
            && matches!(next, Some('"') | Some('#'))
            && !is_ident(chars.get(i.wrapping_sub(1)))
        {
            let mut hashes = 0;
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            let closing: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            while j < chars.len() && !chars[j..].iter().collect::<String>().starts_with(&closing) {
                j += 1;
            }
            i = j + closing.len();
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && next == Some('\\') {
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    without_test_modules(&out)
}

fn is_ident(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || *c == '_')
}

/// `code` without `#[cfg(test)] mod name { … }` blocks.
fn without_test_modules(code: &str) -> String {
    let mut out = code.to_string();
    while let Some(start) = out.find("#[cfg(test)]") {
        let after = &out[start + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        let Some(open) = trimmed
            .starts_with("mod ")
            .then(|| trimmed.find('{'))
            .flatten()
        else {
            // A test-only item that is not a module: drop the attribute, keep looking.
            out.replace_range(start..start + "#[cfg(test)]".len(), "");
            continue;
        };
        let open = start + "#[cfg(test)]".len() + (after.len() - trimmed.len()) + open;
        let mut depth = 0;
        let mut end = out.len();
        for (k, ch) in out[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.replace_range(start..end, "");
    }
    out
}

/// The paths `code` names: each leaf of each `use` tree (with whether that `use` is a `pub`
/// re-export), then each `crate::`/`super::`/`self::` path elsewhere.
fn paths_in(code: &str) -> Vec<(Vec<String>, bool)> {
    let tokens = tokens(code);
    let mut paths = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == "use" && (i == 0 || tokens[i - 1] != "::") {
            let end = tokens[i..]
                .iter()
                .position(|t| t == ";")
                .map_or(tokens.len(), |p| i + p);
            // `pub use`, `pub(crate) use`, `pub(super) use`.
            let reexport = tokens[..i].last().is_some_and(|t| t == "pub")
                || (tokens[..i].last().is_some_and(|t| t == ")")
                    && i >= 4
                    && tokens[i - 4] == "pub");
            let mut leaves = Vec::new();
            use_tree(&tokens[i + 1..end], &mut Vec::new(), &mut leaves);
            paths.extend(leaves.into_iter().map(|leaf| (leaf, reexport)));
            i = end + 1;
        } else if matches!(tokens[i].as_str(), "crate" | "super" | "self")
            && tokens.get(i + 1).is_some_and(|t| t == "::")
            && (i == 0 || tokens[i - 1] != "::")
        {
            let mut path = vec![tokens[i].clone()];
            let mut j = i + 1;
            while tokens.get(j).is_some_and(|t| t == "::")
                && tokens.get(j + 1).is_some_and(|t| is_word(t))
            {
                path.push(tokens[j + 1].clone());
                j += 2;
            }
            paths.push((path, false));
            i = j;
        } else {
            i += 1;
        }
    }
    paths
}

fn is_word(token: &str) -> bool {
    token.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Words, `::` and single punctuation.
fn tokens(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".into());
            i += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
            i += 1;
        }
    }
    tokens
}

/// The leaves of the use tree in `tokens` (`a::b::{c, d::{self, e}} as f`), after `prefix`.
fn use_tree(tokens: &[String], prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut i = 0;
    let depth = prefix.len();
    while i < tokens.len() {
        match tokens[i].as_str() {
            "::" => i += 1,
            "{" => {
                let close = matching_brace(tokens, i);
                for item in split_top_level(&tokens[i + 1..close]) {
                    use_tree(item, prefix, out);
                }
                prefix.truncate(depth);
                return;
            }
            "as" => break,
            word => {
                prefix.push(word.to_string());
                i += 1;
            }
        }
    }
    if prefix.len() > depth {
        out.push(prefix.clone());
    }
    prefix.truncate(depth);
}

fn matching_brace(tokens: &[String], open: usize) -> usize {
    closing(tokens, open, "{", "}")
}

/// The index of the `close` that closes the `open` at `at` (the end where none does).
fn closing(tokens: &[String], at: usize, open: &str, close: &str) -> usize {
    let mut depth = 0;
    for (k, t) in tokens.iter().enumerate().skip(at) {
        if t == open {
            depth += 1;
        } else if t == close {
            depth -= 1;
            if depth == 0 {
                return k;
            }
        }
    }
    tokens.len()
}

fn split_top_level(tokens: &[String]) -> Vec<&[String]> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (k, t) in tokens.iter().enumerate() {
        match t.as_str() {
            "{" => depth += 1,
            "}" => depth -= 1,
            "," if depth == 0 => {
                items.push(&tokens[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    items.push(&tokens[start..]);
    items.into_iter().filter(|i| !i.is_empty()).collect()
}

/// Every loop in `graph`, each once, as the files around it starting from the smallest name and
/// ending where it started.
fn loops(graph: &Graph) -> Vec<Vec<String>> {
    let mut found = BTreeSet::new();
    for start in graph.keys() {
        let mut stack = vec![start.clone()];
        walk_loops(graph, start, &mut stack, &mut found);
    }
    found.into_iter().collect()
}

fn walk_loops(
    graph: &Graph,
    start: &String,
    stack: &mut Vec<String>,
    found: &mut BTreeSet<Vec<String>>,
) {
    let here = stack.last().expect("non-empty").clone();
    for next in graph.get(&here).into_iter().flatten() {
        if next == start {
            // Only report a loop from its smallest file, so each is found once.
            if stack.iter().all(|f| f >= start) {
                let mut l = stack.clone();
                l.push(start.clone());
                found.insert(l);
            }
        } else if next > start && !stack.contains(next) {
            stack.push(next.clone());
            walk_loops(graph, start, stack, found);
            stack.pop();
        }
    }
}
