//! The docs stay true: each test fails when the code, the template or Cargo.toml changes
//! without its page (docs/), or when a relative link in README.md, CONTRIBUTING.md or docs/
//! no longer resolves.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use glue_label_importer::lifecycle::entry::ImportState;
use glue_label_importer::metrics::Metrics;
use glue_label_importer::Config;
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The first cell of every table row in `markdown` that is one backticked name, unticked.
fn first_column_names(markdown: &str) -> BTreeSet<String> {
    markdown
        .lines()
        .filter_map(|line| line.trim().strip_prefix('|'))
        .filter_map(|row| row.split('|').next())
        .filter_map(|cell| {
            let cell = cell.trim();
            let name = cell.strip_prefix('`')?.strip_suffix('`')?;
            (!name.contains('`')).then(|| name.to_string())
        })
        .collect()
}

/// The page's table names that look like `kind` (one shape per page's table).
fn table_of(page: &str, shape: fn(&str) -> bool) -> BTreeSet<String> {
    first_column_names(&read(page))
        .into_iter()
        .filter(|name| shape(name))
        .collect()
}

fn is_variable(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[test]
fn the_configuration_page_lists_every_variable_the_function_reads() {
    let asked = RefCell::new(BTreeSet::new());
    Config::from_lookup(|name| {
        asked.borrow_mut().insert(name.to_string());
        None
    })
    .expect("the defaults are a valid configuration");
    let documented = table_of("docs/operators/configuration.md", is_variable);
    assert_eq!(
        documented,
        asked.into_inner(),
        "docs/operators/configuration.md's table lists exactly the variables Config reads"
    );
}

#[test]
fn the_observability_page_lists_every_metric_the_function_emits() {
    let mut metrics = Metrics::default();
    metrics.import_ended(ImportState::Succeeded, Some(1.0));
    metrics.queue(1, 2.0);
    metrics.round_evaluated(glue_label_importer::metrics::RoundFigures {
        transform_id: "tfm-1".into(),
        area_under_pr_curve: Some(0.9),
        precision: Some(0.9),
        recall: Some(0.9),
        f1: Some(0.9),
        label_count: Some(100),
    });
    let lines = std::iter::once(metrics.to_emf("GlueLabelImporter", "fn", 0))
        .chain(metrics.rounds_to_emf("GlueLabelImporter", 0));
    let emitted: BTreeSet<String> = lines
        .flat_map(|emf| {
            emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .expect("metric definitions")
                .iter()
                .map(|m| m["Name"].as_str().expect("a metric name").to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(emitted.len() > 21, "every metric, optional ones included");
    let documented = table_of("docs/operators/observability.md", |name| {
        name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && name.chars().all(|c| c.is_ascii_alphanumeric())
    });
    assert_eq!(
        documented, emitted,
        "docs/operators/observability.md's metrics table lists exactly the metrics emitted"
    );
}

/// Every action the template grants: each policy statement's (the function's role, the bucket
/// and queue policies, the trust policy, in each condition's branch) and each resource-based
/// invoke permission's (`AWS::Lambda::Permission`).
fn template_actions(node: &Value, actions: &mut BTreeSet<String>) {
    match node {
        Value::Object(map) => {
            if map.get("Type").and_then(Value::as_str) == Some("AWS::Lambda::Permission") {
                let action = &map["Properties"]["Action"];
                actions.insert(action.as_str().expect("a permission's action").into());
            }
            if map.contains_key("Effect") {
                if let Some(action) = map.get("Action") {
                    action_names(action, actions);
                }
            }
            map.values().for_each(|v| template_actions(v, actions));
        }
        Value::Array(items) => items.iter().for_each(|v| template_actions(v, actions)),
        _ => {}
    }
}

/// A statement's `Action`: one name, a list, or an `Fn::If` of either (both branches).
fn action_names(action: &Value, actions: &mut BTreeSet<String>) {
    match action {
        Value::String(name) => {
            actions.insert(name.clone());
        }
        Value::Array(items) => items.iter().for_each(|v| action_names(v, actions)),
        Value::Object(map) => match map.get("Fn::If").and_then(Value::as_array) {
            Some(branches) => branches[1..].iter().for_each(|v| action_names(v, actions)),
            None => panic!("an Action of no known shape: {action}"),
        },
        other => panic!("an Action of no known shape: {other}"),
    }
}

#[test]
fn the_permissions_table_is_the_templates_actions() {
    let mut actions = BTreeSet::new();
    template_actions(&crate::template::template(), &mut actions);
    assert!(actions.contains("glue:StartImportLabelsTaskRun"));
    assert!(actions.contains("lambda:InvokeFunction"));
    let documented = table_of("docs/operators/permissions.md", |name| {
        name.split_once(':')
            .is_some_and(|(service, action)| !service.is_empty() && !action.is_empty())
    });
    assert_eq!(
        documented, actions,
        "docs/operators/permissions.md's table lists exactly the template's IAM actions"
    );
}

/// Every Markdown file a reader is sent to: README.md, CONTRIBUTING.md and docs/.
fn markdown_files() -> Vec<PathBuf> {
    let docs = root().join("docs");
    let top = [root().join("README.md"), root().join("CONTRIBUTING.md")];
    text_files()
        .into_iter()
        .filter(|f| {
            top.contains(f) || (f.starts_with(&docs) && f.extension().is_some_and(|e| e == "md"))
        })
        .collect()
}

#[test]
fn the_opt_level_the_docs_state_is_cargo_tomls() {
    let manifest = read("Cargo.toml");
    let release = manifest
        .split("[profile.release]")
        .nth(1)
        .expect("Cargo.toml has [profile.release]");
    let level = release
        .lines()
        .find_map(|l| l.trim().strip_prefix("opt-level = "))
        .expect("[profile.release] sets opt-level");
    let mut stated = Vec::new();
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).expect("a doc");
        for (at, _) in text.match_indices("opt-level = ") {
            let value: String = text[at + "opt-level = ".len()..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '`')
                .collect();
            stated.push((file.display().to_string(), value));
        }
    }
    assert!(!stated.is_empty(), "the docs state the release opt-level");
    for (file, value) in stated {
        assert_eq!(
            value, level,
            "{file} states opt-level = {value}; Cargo.toml has {level}"
        );
    }
}

/// GitHub's anchor for a heading: lowercase, punctuation other than `-` and `_` dropped,
/// spaces as `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings (a repeated heading gets `-1`, `-2`, …), code
/// blocks skipped.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        let Some(heading) = line.strip_prefix('#') else {
            continue;
        };
        if in_code {
            continue;
        }
        let base = slug(heading.trim_start_matches('#'));
        let mut anchor = base.clone();
        let mut n = 0;
        while seen.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        seen.insert(anchor);
    }
    seen
}

/// Every link target in `markdown` outside code: inline `[text](target)` and reference
/// definitions `[label]: target`.
fn links(markdown: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        // Inline code spans hold no links.
        let prose: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, part)| part)
            .collect::<Vec<_>>()
            .join(" ");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            let target = rest[..end].split_whitespace().next().unwrap_or_default();
            targets.push(target.to_string());
            rest = &rest[end..];
        }
        let trimmed = prose.trim_start();
        if trimmed.starts_with('[') {
            if let Some((_, target)) = trimmed.split_once("]: ") {
                targets.push(target.split_whitespace().next().unwrap_or_default().into());
            }
        }
    }
    targets
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).expect("a doc");
        for target in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") || target.is_empty() {
                continue;
            }
            checked += 1;
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let resolved = if path.is_empty() {
                file.clone()
            } else {
                file.parent().expect("a folder").join(path)
            };
            let name = file
                .strip_prefix(root())
                .unwrap_or(&file)
                .display()
                .to_string();
            if !resolved.exists() {
                broken.push(format!("{name}: {target} (no such file)"));
            } else if !anchor.is_empty() && resolved.extension().is_some_and(|e| e == "md") {
                let heads = anchors(&std::fs::read_to_string(&resolved).expect("a doc"));
                if !heads.contains(anchor) {
                    broken.push(format!("{name}: {target} (no such heading)"));
                }
            }
        }
    }
    assert!(
        checked > 20,
        "the docs link to each other ({checked} links)"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// Top-level folders whose paths the repository's text names.
const FOLDERS: [&str; 11] = [
    "src/",
    "tests/",
    "benches/",
    "docs/",
    "scripts/",
    "glue-local/",
    "local-stack/",
    "events/",
    "examples/",
    "tools/",
    "fuzz/",
];

/// What a build or a run makes (not in the repository, on purpose).
const GENERATED: [&str; 2] = ["fuzz/corpus/", "fuzz/artifacts/"];

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-')
}

/// Every repository path (`src/…`, `docs/…`, …) a line names, but globs (`tools/requirements*`)
/// and placeholders (`events/<file>.json`).
fn named_paths(line: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for (at, c) in line.char_indices() {
        let starts = line[..at]
            .chars()
            .next_back()
            .is_none_or(|p| !is_path_char(p));
        if !starts || !c.is_ascii_lowercase() || !FOLDERS.iter().any(|f| line[at..].starts_with(f))
        {
            continue;
        }
        let rest = &line[at..];
        let end = rest.find(|c: char| !is_path_char(c)).unwrap_or(rest.len());
        if rest[end..].starts_with(['*', '<', '{']) {
            continue;
        }
        let path = rest[..end].trim_end_matches(['.', ':']);
        if !GENERATED.iter().any(|g| path.starts_with(g)) {
            paths.push(path.to_string());
        }
    }
    paths
}

/// The repository's own text: sources, docs, scripts, the template, the build files.
fn text_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if path.is_dir() {
                let skipped =
                    name.starts_with('.') || ["target", "corpus", "artifacts"].contains(&name);
                if !skipped {
                    walk(&path, files);
                }
            } else if name == "Makefile"
                || ["rs", "md", "py", "yaml", "toml", "txt"]
                    .iter()
                    .any(|e| path.extension().is_some_and(|x| x == *e))
            {
                files.push(path);
            }
        }
    }
    let mut files = vec![root().join(".ci/run")];
    walk(root(), &mut files);
    files
}

#[test]
fn every_path_the_repository_names_exists() {
    let mut missing = Vec::new();
    let mut checked = 0;
    for file in text_files() {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let name = file
            .strip_prefix(root())
            .unwrap_or(&file)
            .display()
            .to_string();
        for (n, line) in text.lines().enumerate() {
            for path in named_paths(line) {
                checked += 1;
                if !root().join(&path).exists() {
                    missing.push(format!("{name}:{}: {path}", n + 1));
                }
            }
        }
    }
    assert!(
        checked > 50,
        "the repository names its own files ({checked} paths)"
    );
    assert!(
        missing.is_empty(),
        "paths that are not in the repository:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_readme_is_a_door_not_a_manual() {
    let lines = read("README.md").lines().count();
    assert!(
        lines <= 220,
        "README.md has {lines} lines; details go to docs/"
    );
    let readme = read("README.md");
    for door in [
        "docs/labelers.md",
        "docs/operators/",
        "docs/development/",
        "CONTRIBUTING.md",
    ] {
        assert!(readme.contains(door), "README.md links to {door}");
    }
    assert!(readme.contains("make test") && readme.contains("make demo"));
}

#[test]
fn the_helpers_see_a_broken_link_and_a_heading() {
    assert_eq!(
        slug(" The ledger & the tick (v2)"),
        "the-ledger--the-tick-v2"
    );
    assert_eq!(
        links("see [a](x.md#y) and `[b](not-a-link)`\n[c]: ../z.md\n```\n[d](code)\n```"),
        ["x.md#y", "../z.md"]
    );
    assert_eq!(
        anchors("# A\n## A\n```\n# not\n```\n### B-c"),
        BTreeSet::from(["a".into(), "a-1".into(), "b-c".into()])
    );
    assert_eq!(
        named_paths(
            "see `src/lib.rs`, (docs/labelers.md). not xsrc/c, tools/r*.txt, events/<f>.json, fuzz/corpus/x"
        ),
        ["src/lib.rs", "docs/labelers.md"]
    );
    assert_eq!(
        first_column_names("| `X_Y` | a |\n|---|---|\n| `s3:GetObject` | b |\n| plain | c |"),
        BTreeSet::from(["X_Y".into(), "s3:GetObject".into()])
    );
}
