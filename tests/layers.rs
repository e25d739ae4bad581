//! The source tree is layered: each top-level module of `src/` may use only the layers before
//! it, so the folders read as the data path and no import cycle can come back.

use std::path::Path;

/// From the bottom up; `sink` and `source` are one layer and may not use each other.
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["runtime"],
    &["spec"],
    &["cluster"],
    &["settings"],
    &["store"],
    &["kafka"],
    &["lifecycle"],
    &["sink", "source"],
    &["bridge"],
    &["module"],
    &["commands"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `crate::<module>` names a file's non-test code uses.
fn uses(source: &str) -> Vec<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or("");
    let mut found = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !name.is_empty() && !found.contains(&name) {
            found.push(name);
        }
    }
    found
}

#[test]
fn every_module_uses_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative.iter().next().unwrap().to_string_lossy();
        let top = top.trim_end_matches(".rs");
        if top == "lib" || top == "fuzz" {
            continue;
        }
        let own = layer_of(top).unwrap_or_else(|| panic!("{top} is in no layer: add it"));
        let source = std::fs::read_to_string(file).unwrap();
        for used in uses(&source) {
            if used == top || used == "fuzz" {
                continue;
            }
            match layer_of(&used) {
                Some(layer) if layer < own => {}
                _ => violations.push(format!("{} uses crate::{used}", relative.display())),
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering broken:\n{}",
        violations.join("\n")
    );
}
