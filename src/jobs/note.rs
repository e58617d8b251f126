//! Sections the job system keeps up to date in the handoff note (`repro/sentry-<id>.md`).
//!
//! A new alert for an issue that already has a branch does not make a second branch: it adds a commit
//! on the branch that rewrites the note's "Occurrences" section (count, first and last seen, recent
//! event ids). An issue-only alert generated without a Sentry token gets a "Configure" section saying
//! what to set. Sections are delimited by HTML comments so a rewrite replaces exactly our text.
//! Event-derived values go through `render::md_inline` like everywhere else in the note.

use anyhow::{Context, Result};
use git2::{Oid, Repository};

use crate::git::{self, NewFile};
use crate::render::md_inline;

fn markers(name: &str) -> (String, String) {
    (
        format!("<!-- sentry-repro:{name} -->"),
        format!("<!-- /sentry-repro:{name} -->"),
    )
}

/// Replace the section `name` (or append it) with `body`.
pub fn upsert_section(text: &str, name: &str, body: &str) -> String {
    let (start, end) = markers(name);
    let block = format!("{start}\n{}\n{end}\n", body.trim_end());
    if let (Some(s), Some(e)) = (text.find(&start), text.find(&end)) {
        if s < e {
            let mut after = &text[e + end.len()..];
            after = after.strip_prefix('\n').unwrap_or(after);
            return format!("{}{}{}", &text[..s], block, after);
        }
    }
    let sep = if text.is_empty() || text.ends_with("\n\n") {
        ""
    } else if text.ends_with('\n') {
        "\n"
    } else {
        "\n\n"
    };
    format!("{text}{sep}{block}")
}

/// The body of the section `name`, if present.
pub fn section<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let (start, end) = markers(name);
    let s = text.find(&start)? + start.len();
    let e = text[s..].find(&end)? + s;
    Some(&text[s..e])
}

/// One occurrence line kept in the section.
pub struct Occurrence<'a> {
    pub count: u32,
    pub first_seen: &'a str,
    pub last_seen: &'a str,
    pub event_id: Option<&'a str>,
    pub job_id: &'a str,
}

const KEEP_EVENTS: usize = 20;

pub fn occurrences_body(previous: Option<&str>, o: &Occurrence) -> String {
    let mut events: Vec<String> = previous
        .unwrap_or("")
        .lines()
        .filter(|l| l.starts_with("- event "))
        .map(str::to_owned)
        .collect();
    events.push(format!(
        "- event {} at {} (job {})",
        md_inline(o.event_id.unwrap_or("(none)")),
        o.last_seen,
        o.job_id
    ));
    let skip = events.len().saturating_sub(KEEP_EVENTS);
    format!(
        "## Occurrences\nSeen {} times: first {}, last {}. Latest event {}.\n\nRecent alerts (newest last):\n{}\n",
        o.count,
        o.first_seen,
        o.last_seen,
        md_inline(o.event_id.unwrap_or("(none)")),
        events[skip..].join("\n")
    )
}

pub fn configure_body(hint: &str) -> String {
    format!(
        "## Configure sentry-repro\n{}\n",
        crate::render::comment(hint)
    )
}

/// Text of `path` at the tip of `branch` (empty when absent).
pub fn read_at_branch(repo: &Repository, branch: &str, path: &str) -> Result<String> {
    let commit = repo
        .find_reference(&format!("refs/heads/{branch}"))
        .with_context(|| format!("branch {branch} not found"))?
        .peel_to_commit()?;
    let tree = commit.tree()?;
    let Ok(entry) = tree.get_path(std::path::Path::new(path)) else {
        return Ok(String::new());
    };
    let blob = repo.find_blob(entry.id())?;
    Ok(String::from_utf8_lossy(blob.content()).into_owned())
}

/// Rewrite one section of the note at the tip of `branch` in a new commit on that branch.
pub fn commit_section(
    repo: &Repository,
    branch: &str,
    note_path: &str,
    name: &str,
    body: impl FnOnce(Option<&str>) -> String,
    author: (&str, &str),
    message: &str,
) -> Result<Oid> {
    let text = read_at_branch(repo, branch, note_path)?;
    let new_text = upsert_section(&text, name, &body(section(&text, name)));
    git::append_commit(
        repo,
        branch,
        &[NewFile {
            path: note_path.to_string(),
            content: new_text,
        }],
        author,
        message,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_replace_in_place() {
        let t = "# Note\n\nbody\n";
        let a = upsert_section(t, "occ", "one");
        assert_eq!(
            a,
            "# Note\n\nbody\n\n<!-- sentry-repro:occ -->\none\n<!-- /sentry-repro:occ -->\n"
        );
        let b = upsert_section(&a, "occ", "two");
        assert_eq!(b.matches("sentry-repro:occ -->").count(), 2);
        assert!(b.contains("two") && !b.contains("one"));
        assert_eq!(section(&b, "occ"), Some("\ntwo\n"));
    }

    #[test]
    fn occurrences_keep_recent_events_and_escape() {
        let mut prev = String::new();
        for i in 0..25 {
            let ev = format!("ev{i}`\n## injected");
            prev = occurrences_body(
                Some(&prev),
                &Occurrence {
                    count: i + 1,
                    first_seen: "t0",
                    last_seen: "t1",
                    event_id: Some(&ev),
                    job_id: "1",
                },
            );
        }
        assert_eq!(
            prev.lines().filter(|l| l.starts_with("- event ")).count(),
            KEEP_EVENTS
        );
        assert!(prev.contains("Seen 25 times"));
        assert!(!prev.contains("\n## injected"));
    }
}
