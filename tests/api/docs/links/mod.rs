//! The docs hold together: every relative link in `README.md`, `ARCHITECTURE.md` and
//! `docs/*.md` resolves (the file, and its `#anchor` by GitHub's heading slugs), every
//! page is in mdBook's `docs/SUMMARY.md`, and every `tasklane …` command line shown in
//! their shell blocks parses with the current command-line definition ([`commands`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod commands;

pub(super) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The pages: the README, ARCHITECTURE.md when it is at the root, and every Markdown file
/// under docs/ (not the built site in docs/book/).
pub(super) fn pages() -> Vec<PathBuf> {
    let root = root();
    let mut out = vec![root.join("README.md")];
    if root.join("ARCHITECTURE.md").exists() {
        out.push(root.join("ARCHITECTURE.md"));
    }
    let mut stack = vec![root.join("docs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("docs/").flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "book") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

pub(super) fn shown(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A fenced code block: its language, the line its first line is on, and its lines.
pub(super) struct Block {
    pub lang: String,
    pub first_line: usize,
    pub lines: Vec<String>,
}

/// A page split into its prose lines (numbered from 1) and its fenced code blocks.
pub(super) struct Page {
    pub prose: Vec<(usize, String)>,
    pub blocks: Vec<Block>,
}

pub(super) fn split(text: &str) -> Page {
    let mut page = Page {
        prose: Vec::new(),
        blocks: Vec::new(),
    };
    let mut open: Option<(String, Block)> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim_start();
        let fence = ["```", "~~~"].into_iter().find(|f| trimmed.starts_with(f));
        match (&mut open, fence) {
            (Some((marker, _)), Some(f)) if f == marker && trimmed.trim() == f => {
                let (_, block) = open.take().unwrap_or_else(|| unreachable!());
                page.blocks.push(block);
            }
            (Some((_, block)), _) => block.lines.push(line.to_owned()),
            (None, Some(f)) => {
                let lang = trimmed[f.len()..]
                    .split(|c: char| c.is_whitespace() || c == ',' || c == '{')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                open = Some((
                    f.to_owned(),
                    Block {
                        lang,
                        first_line: n + 1,
                        lines: Vec::new(),
                    },
                ));
            }
            (None, None) => page.prose.push((n, line.to_owned())),
        }
    }
    assert!(open.is_none(), "a code block is never closed");
    page
}

/// The line without its inline code spans (`` `…` ``), which hold no links.
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].chars().take_while(|&c| c == '`').count();
        let after = &rest[start + ticks..];
        match after.find(&"`".repeat(ticks)) {
            Some(end) => rest = &after[end + ticks..],
            None => {
                rest = after;
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// GitHub's anchor for a heading: its text lowercased, without punctuation (letters,
/// digits, `-`, `_` and spaces stay), spaces as `-`; a repeated one gets `-1`, `-2`….
fn slug(heading: &str) -> String {
    let mut text = heading.replace('`', "").replace("**", "");
    // A link in a heading anchors on its text.
    while let (Some(open), Some(mid)) = (text.find('['), text.find("](")) {
        match text[mid..].find(')') {
            Some(close) if open < mid => {
                let label = text[open + 1..mid].to_owned();
                text.replace_range(open..mid + close + 1, &label);
            }
            _ => break,
        }
    }
    text.trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Every anchor a page offers.
fn anchors(page: &Page) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for (_, line) in &page.prose {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(line[hashes..].trim().trim_end_matches('#'));
        let n = seen.entry(base.clone()).or_insert(0);
        out.insert(if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        *n += 1;
    }
    out
}

/// The targets of a page's links: inline `[text](target)` and `![alt](target)`, and
/// reference definitions `[label]: target`; with their line numbers.
fn links(page: &Page) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in &page.prose {
        let line = without_code_spans(line);
        let mut rest = line.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].split_whitespace().next().unwrap_or_default();
            out.push((*n, target.trim_matches(['<', '>']).to_owned()));
            rest = &after[end..];
        }
        let t = line.trim_start();
        if t.starts_with('[')
            && let Some(i) = t.find("]: ")
        {
            let target = t[i + 3..].split_whitespace().next().unwrap_or_default();
            out.push((*n, target.to_owned()));
        }
    }
    out
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let root = root().canonicalize().expect("the repository");
    let pages: BTreeMap<PathBuf, Page> = pages()
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read a page");
            (p, split(&text))
        })
        .collect();
    let mut broken = Vec::new();
    let mut checked = 0;
    for (path, page) in &pages {
        for (n, target) in links(page) {
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target.as_str(), None),
            };
            let dest = if file.is_empty() {
                path.clone()
            } else {
                path.parent().unwrap_or(&root).join(file)
            };
            let Ok(dest) = dest.canonicalize() else {
                broken.push(format!("{}:{n}: {target}: no such file", shown(path)));
                continue;
            };
            if !dest.starts_with(&root) {
                broken.push(format!(
                    "{}:{n}: {target}: outside the repository",
                    shown(path)
                ));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            let target_page = pages
                .iter()
                .find(|(p, _)| p.canonicalize().is_ok_and(|p| p == dest))
                .map(|(_, page)| page);
            match target_page {
                Some(page) if anchors(page).contains(anchor) => {}
                Some(page) => broken.push(format!(
                    "{}:{n}: {target}: no heading with the anchor #{anchor} (it has: {})",
                    shown(path),
                    anchors(page).into_iter().collect::<Vec<_>>().join(", ")
                )),
                None => broken.push(format!(
                    "{}:{n}: {target}: an anchor into a file that is not a page",
                    shown(path)
                )),
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked > 50, "only {checked} relative links found");
}

/// mdBook builds only the pages `docs/SUMMARY.md` lists: it must list every one.
#[test]
fn the_book_lists_every_page_of_docs() {
    let summary = std::fs::read_to_string(root().join("docs/SUMMARY.md")).expect("SUMMARY.md");
    let listed: BTreeSet<String> = links(&split(&summary))
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    for page in pages() {
        let Ok(rel) = page.strip_prefix(root().join("docs")) else {
            continue;
        };
        let rel = rel.display().to_string();
        if rel != "SUMMARY.md" {
            assert!(listed.contains(&rel), "docs/SUMMARY.md does not list {rel}");
        }
    }
}

/// The README stays short: the rest belongs in docs/.
#[test]
fn the_readme_is_short() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= 200,
        "README.md has {lines} lines; move detail to docs/"
    );
}

#[test]
fn anchors_follow_github_slugs() {
    let page = split(
        "# The API\n## OAuth 2.0\n## The live page's session\n## `tasklane copy`\n\
         ## Notes\n## Notes\n```sh\n# not a heading\n```\n",
    );
    let got: Vec<String> = anchors(&page).into_iter().collect();
    assert_eq!(
        got,
        [
            "notes",
            "notes-1",
            "oauth-20",
            "tasklane-copy",
            "the-api",
            "the-live-pages-session"
        ]
    );
}
