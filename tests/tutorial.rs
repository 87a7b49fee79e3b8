//! The tutorial cannot rot: every listing it quotes from the code must still be in that file,
//! word for word, and every chapter keeps its parts and its checked exercise.

use std::fs;
use std::path::Path;

/// The chapters, in order; each from 01 on has a checked exercise of the same name.
const CHAPTERS: [&str; 24] = [
    "00-introduction",
    "01-blocks-and-hashes",
    "02-merkle-root",
    "03-proof-of-work",
    "04-difficulty",
    "05-chain-rules",
    "06-forks-and-locators",
    "07-client-and-server",
    "08-messages-and-framing",
    "09-handshake-and-sync",
    "10-relay-and-discovery",
    "11-defending-the-node",
    "12-persistence",
    "13-classroom-network",
    "14-fields-and-curves",
    "15-keys-and-signatures",
    "16-transactions",
    "17-coinbase-and-rewards",
    "18-utxo-set",
    "19-mempool",
    "20-http-api-and-explorer",
    "21-watching-the-network",
    "22-the-lab",
    "23-attacks",
];

const APPENDICES: [&str; 2] = ["A-wire-protocol", "B-consensus-rules"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn chapter(name: &str) -> String {
    let path = root().join("tutorial").join(format!("{name}.md"));
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A listing is a ```rust block whose first line names its file (`// src/chain.rs`), or a
/// ```sh block that does the same for a script (`# tutorial/classroom-demo.sh`).
/// Returns (line number in the chapter, file, code).
fn listings(text: &str) -> Vec<(usize, String, String)> {
    let mut found = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let (comment, ending) = match line.trim_end() {
            "```rust" => ("// ", ".rs"),
            "```sh" => ("# ", ".sh"),
            _ => continue,
        };
        let body: Vec<&str> = lines
            .by_ref()
            .map(|(_, l)| l)
            .take_while(|l| *l != "```")
            .collect();
        if let Some(file) = body.first().and_then(|l| l.strip_prefix(comment)) {
            if file.ends_with(ending) && !file.contains(' ') {
                found.push((n + 1, file.to_string(), body[1..].join("\n")));
            }
        }
    }
    found
}

/// Every listing in every chapter and appendix appears verbatim in the file it names.
#[test]
fn listings_match_their_files() {
    let mut stale = Vec::new();
    let mut count = 0;
    for name in CHAPTERS.iter().chain(&APPENDICES) {
        for (line, file, code) in listings(&chapter(name)) {
            count += 1;
            let source = fs::read_to_string(root().join(&file))
                .unwrap_or_else(|e| panic!("tutorial/{name}.md:{line} names {file}: {e}"));
            if !source.contains(&code) {
                stale.push(format!(
                    "tutorial/{name}.md:{line}: listing no longer matches {file}"
                ));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "update these listings:\n{}",
        stale.join("\n")
    );
    assert!(
        count >= 30,
        "only {count} listings found: is the listing format intact?"
    );
}

/// Each chapter has Goals, Try it and Exercises; from 01 on it quotes the code and links a
/// checked exercise that has its three files.
#[test]
fn chapters_have_their_parts() {
    for (i, name) in CHAPTERS.iter().enumerate() {
        let text = chapter(name);
        for part in ["## Goals", "## Try it", "## Exercises"] {
            assert!(
                text.contains(part),
                "tutorial/{name}.md has no {part:?} section"
            );
        }
        if i == 0 {
            continue;
        }
        assert!(
            !listings(&text).is_empty(),
            "tutorial/{name}.md quotes no code"
        );
        let exercise = format!("exercises/{name}/");
        assert!(
            text.contains(&exercise),
            "tutorial/{name}.md does not link {exercise}"
        );
        for file in ["README.md", "test.rs", "solution.patch"] {
            let path = root().join("tutorial").join(&exercise).join(file);
            assert!(path.is_file(), "missing {}", path.display());
        }
    }
    for name in APPENDICES {
        assert!(!chapter(name).is_empty());
    }
}

/// Every chapter a module's docs send the reader to exists.
#[test]
fn chapters_named_in_the_code_exist() {
    let mut named = 0;
    let mut files = Vec::new();
    let mut dirs = vec![root().join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for path in files {
        let code = fs::read_to_string(&path).unwrap();
        for (at, _) in code.match_indices("`tutorial/") {
            let name: String = code[at + 1..].chars().take_while(|c| *c != '`').collect();
            if !name.ends_with(".md") {
                continue;
            }
            named += 1;
            assert!(
                root().join(&name).is_file(),
                "{} names {name}, which does not exist",
                path.display()
            );
        }
    }
    assert!(named >= 14, "only {named} chapter references in src/");
}

/// The `cargo test --test NAME` commands the chapters tell you to run name real test files.
#[test]
fn named_test_files_exist() {
    for name in CHAPTERS.iter().chain(&APPENDICES) {
        let text = chapter(name);
        for (_, rest) in text
            .match_indices("cargo test --test ")
            .map(|(i, _)| ((), &text[i + 18..]))
        {
            let target: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if target.starts_with("exercise_") {
                continue;
            }
            let file = root().join("tests").join(format!("{target}.rs"));
            assert!(
                file.is_file(),
                "tutorial/{name}.md runs `cargo test --test {target}`, which does not exist"
            );
        }
    }
}
