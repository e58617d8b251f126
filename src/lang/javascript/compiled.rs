//! Frames in the TypeScript compiler's output folder.
//!
//! A project built with `tsc` runs `node dist/…js`; `@sentry/node` reports those compiled files and
//! their lines even under `--enable-source-maps`, while the repository holds only `src/…ts` (the
//! output is build output, ignored by git). Such a frame is mapped back to its source file through
//! `tsconfig.json` (`outDir` → `rootDir`, `.js` → `.ts`/`.tsx`, `.mjs` → `.mts`, `.cjs` → `.cts`),
//! and to its source line by the text of the frame's `context_line`: tsc keeps most statements
//! verbatim (it strips types), so a line whose text appears exactly once in the source file (or
//! once among equal lines with the same neighbours) is the same statement. A frame whose line
//! cannot be placed that way stays unmapped: a wrong line is worse than none.

use serde_json::Value;

use crate::alert::{Alert, Frame};
use crate::repo::Snapshot;

/// `outDir` and `rootDir` of the root `tsconfig.json`, normalized (no `./`, no trailing `/`).
/// `rootDir` is `None` when the config leaves it to tsc (the common root of the sources).
pub fn out_dirs(snap: &Snapshot) -> Option<(String, Option<String>)> {
    let text = snap.read("tsconfig.json")?;
    let cfg: Value = serde_json::from_str(&strip_jsonc(&text)).ok()?;
    let opts = cfg.get("compilerOptions")?;
    let norm = |v: &Value| {
        let s = v.as_str()?.trim();
        let s = s.strip_prefix("./").unwrap_or(s).trim_end_matches('/');
        (!s.is_empty() && s != "." && !s.contains("..") && !s.starts_with('/'))
            .then(|| s.to_string())
    };
    let out = opts.get("outDir").and_then(norm)?;
    let root = opts.get("rootDir").and_then(norm);
    Some((out, root))
}

/// JSON with comments and trailing commas (tsconfig's dialect) → JSON.
fn strip_jsonc(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == '"' {
            out.push(c);
            i += 1;
            while i < b.len() {
                out.push(b[i]);
                if b[i] == '\\' && i + 1 < b.len() {
                    out.push(b[i + 1]);
                    i += 2;
                    continue;
                }
                i += 1;
                if b[i - 1] == '"' {
                    break;
                }
            }
            continue;
        }
        if c == '/' && b.get(i + 1) == Some(&'/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && b.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                i += 1;
            }
            i += 2;
            continue;
        }
        if c == ',' {
            let next = b[i + 1..].iter().find(|c| !c.is_whitespace());
            if matches!(next, Some('}') | Some(']')) {
                i += 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The alert with its compiled-output frames pointed at their TypeScript sources and lines, and
/// one note per frame moved; `None` when no frame is in the output folder.
pub fn map_to_sources(alert: &Alert, snap: &Snapshot) -> Option<(Alert, Vec<String>)> {
    let (out, root) = out_dirs(snap)?;
    let mut mapped = alert.clone();
    let mut notes = Vec::new();
    let mut touched = false;
    let stacks = mapped
        .exceptions
        .iter_mut()
        .map(|e| &mut e.frames)
        .chain(std::iter::once(&mut mapped.thread_frames));
    for frames in stacks {
        for f in frames.iter_mut() {
            let Some((compiled, source)) = source_of(f, &out, root.as_deref(), snap) else {
                continue;
            };
            touched = true;
            // The compiled path comes from the event: shown only through the comment filter.
            let shown = crate::render::comment(&super::truncate(&compiled, 120));
            // The module name (`models:subscription`) would map by suffix with the compiled line.
            f.module = None;
            let Some(line) = source_line(f, &snap.read(&source).unwrap_or_default()) else {
                notes.push(format!(
                    "{shown}:{} is compiled output of {source}, but its line's text is not in the source (or not once), so the frame is left out",
                    f.lineno.unwrap_or(0)
                ));
                continue;
            };
            notes.push(format!(
                "{shown}:{} (compiled output, not in the repository) mapped to {source}:{line} by the line's text",
                f.lineno.unwrap_or(0)
            ));
            let prefix = |p: &str| p[..p.len() - compiled.len()].to_string();
            if let Some(p) = f.abs_path.as_deref().filter(|p| p.ends_with(&compiled)) {
                f.abs_path = Some(format!("{}{source}", prefix(p)));
            }
            if let Some(p) = f.filename.as_deref().filter(|p| p.ends_with(&compiled)) {
                f.filename = Some(format!("{}{source}", prefix(p)));
            }
            f.lineno = Some(line);
            f.colno = None;
            // The neighbours are the compiled file's; the source's come from the repository.
            f.pre_context.clear();
            f.post_context.clear();
        }
    }
    touched.then_some((mapped, notes))
}

/// (`dist/models/subscription.js` as the frame names it, `src/models/subscription.ts`) when the
/// frame is in `out` and its source file is in the repository.
fn source_of(
    f: &Frame,
    out: &str,
    root: Option<&str>,
    snap: &Snapshot,
) -> Option<(String, String)> {
    let path = f
        .abs_path
        .as_deref()
        .or(f.filename.as_deref())?
        .replace('\\', "/");
    if path.contains("node_modules/") {
        return None;
    }
    let marker = format!("{out}/");
    let (stem, exts): (&str, &[&str]) = if let Some(s) = path.strip_suffix(".js") {
        (s, &["ts", "tsx"])
    } else if let Some(s) = path.strip_suffix(".mjs") {
        (s, &["mts"])
    } else if let Some(s) = path.strip_suffix(".cjs") {
        (s, &["cts"])
    } else {
        return None;
    };
    let roots: Vec<&str> = match root {
        Some(r) => vec![r],
        None => vec!["src", ""],
    };
    // Every place the output folder appears, the last first (the deployment path may hold one too).
    let mut at: Vec<usize> = path
        .match_indices(&marker)
        .map(|(i, _)| i)
        .filter(|&i| i == 0 || path.as_bytes()[i - 1] == b'/')
        .collect();
    at.reverse();
    for i in at {
        let rel = &stem[i + marker.len()..];
        for r in &roots {
            for ext in exts {
                let source = if r.is_empty() {
                    format!("{rel}.{ext}")
                } else {
                    format!("{r}/{rel}.{ext}")
                };
                if snap.is_file(&source) {
                    let compiled = path[i..].to_string();
                    return Some((compiled, source));
                }
            }
        }
    }
    None
}

/// The source line (1-based) holding the frame's `context_line`: the only line with that text,
/// or the only one of several whose neighbours also match the frame's context.
fn source_line(f: &Frame, source: &str) -> Option<u64> {
    let want = f.context_line.as_deref()?.trim();
    if want.len() < 4 || !want.chars().any(|c| c.is_alphanumeric()) {
        return None;
    }
    let lines: Vec<&str> = source.lines().collect();
    let hits: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].trim() == want)
        .collect();
    match hits.as_slice() {
        [one] => Some(*one as u64 + 1),
        [] => None,
        many => {
            let score = |i: usize| {
                let before = f
                    .pre_context
                    .iter()
                    .rev()
                    .zip(lines[..i].iter().rev())
                    .take_while(|(a, b)| a.trim() == b.trim())
                    .count();
                let after = f
                    .post_context
                    .iter()
                    .zip(lines[i + 1..].iter())
                    .take_while(|(a, b)| a.trim() == b.trim())
                    .count();
                before + after
            };
            let scores: Vec<usize> = many.iter().map(|&i| score(i)).collect();
            let best = *scores.iter().max()?;
            let mut winners = many.iter().zip(&scores).filter(|(_, s)| **s == best);
            let (i, _) = winners.next()?;
            (best > 0 && winners.next().is_none()).then_some(*i as u64 + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsconfig_dialect() {
        let cfg = strip_jsonc(
            "{\n  // build\n  \"compilerOptions\": { /* out */ \"outDir\": \"./dist/\", \"rootDir\": \"src\", \"x\": \"a//b\", },\n}\n",
        );
        let v: Value = serde_json::from_str(&cfg).unwrap();
        assert_eq!(v["compilerOptions"]["outDir"], "./dist/");
        assert_eq!(v["compilerOptions"]["x"], "a//b");
    }

    fn frame(line: &str, pre: &[&str], post: &[&str]) -> Frame {
        Frame {
            context_line: Some(line.into()),
            pre_context: pre.iter().map(|s| s.to_string()).collect(),
            post_context: post.iter().map(|s| s.to_string()).collect(),
            ..Frame::default()
        }
    }

    #[test]
    fn lines_found_by_text() {
        let src = "export function f(a: number): number {\n  const b = a * 2;\n  return b;\n}\nexport function g(a: number): number {\n  const b = a * 3;\n  return b;\n}\n";
        // Unique text.
        assert_eq!(
            source_line(&frame("    const b = a * 3;", &[], &[]), src),
            Some(6)
        );
        // Typed in the source, stripped in the output: not found, never guessed.
        assert_eq!(source_line(&frame("function f(a) {", &[], &[]), src), None);
        // Twice: the neighbours decide, or nothing does.
        assert_eq!(
            source_line(&frame("    return b;", &["    const b = a * 3;"], &[]), src),
            Some(7)
        );
        assert_eq!(source_line(&frame("    return b;", &[], &["}"]), src), None);
        // Too short to mean anything.
        assert_eq!(source_line(&frame("}", &[], &[]), src), None);
    }
}
