//! Reading Python source at the base commit: `def` signatures, enclosing classes, decorators,
//! parameter mutation before the crash line, dataclasses, module names and web app objects.
//!
//! This is a line-based reader, not a Python parser: it only has to find what a generated test needs
//! (the real parameter names and kinds of the crashing function, whether it is a route handler,
//! where a repr's class is defined) and it refuses anything it does not understand, which makes the
//! generator climb or fall back instead of guessing.

use regex::Regex;
use std::sync::LazyLock;

use crate::render::is_py_ident;
use crate::repo::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    PositionalOnly,
    Regular,
    VarArgs,
    KeywordOnly,
    VarKw,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    pub has_default: bool,
    /// The annotation's text, when there is one (`tuple[int, int]`, `Optional[set]`).
    pub annotation: Option<String>,
}

impl Param {
    /// The annotation's outer type name without module or `Optional[...]`: `Point` for
    /// `Optional[geo.Point]`, `tuple` for `tuple[int, int]`.
    pub fn annotation_head(&self) -> Option<&str> {
        let ann = self.annotation.as_deref()?.trim();
        let ann = ann
            .strip_prefix("Optional[")
            .or_else(|| ann.strip_prefix("typing.Optional["))
            .unwrap_or(ann)
            .trim_matches(['"', '\'']);
        let head = ann.split(['[', ']', '|', ' ', ',']).next().unwrap_or("");
        Some(head.rsplit('.').next().unwrap_or(head)).filter(|h| !h.is_empty())
    }

    /// The container type the annotation names, when the SDK's list form loses it: the SDK sends
    /// tuples, sets, frozensets and deques as JSON lists. `tuple`, `set`, `frozenset` or `deque`.
    pub fn sequence_kind(&self) -> Option<&'static str> {
        match self.annotation_head()? {
            "tuple" | "Tuple" => Some("tuple"),
            "set" | "Set" | "AbstractSet" | "MutableSet" => Some("set"),
            "frozenset" | "FrozenSet" => Some("frozenset"),
            "deque" | "Deque" => Some("deque"),
            _ => None,
        }
    }
}

/// A mapping type the SDK's JSON-object form loses (it sends every mapping as a plain object).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MappingKind {
    Counter,
    OrderedDict,
    /// `defaultdict` with its default factory when the annotation names a builtin one
    /// (`defaultdict[str, list[str]]` → `list`).
    DefaultDict(Option<&'static str>),
}

impl Param {
    /// The mapping type the annotation names, when it is not a plain `dict`.
    pub fn mapping_kind(&self) -> Option<MappingKind> {
        Some(match self.annotation_head()? {
            "Counter" => MappingKind::Counter,
            "OrderedDict" => MappingKind::OrderedDict,
            "defaultdict" | "DefaultDict" => {
                let ann = self.annotation.as_deref().unwrap_or("");
                let inner = ann
                    .split_once('[')
                    .map(|(_, rest)| rest.rsplit_once(']').map_or(rest, |(i, _)| i))
                    .unwrap_or("");
                let parts = split_top_level(inner);
                let factory = parts.get(1).and_then(|v| {
                    let head = v.split('[').next().unwrap_or("").trim();
                    let head = head.strip_prefix("typing.").unwrap_or(head);
                    match head {
                        "int" => Some("int"),
                        "float" => Some("float"),
                        "str" => Some("str"),
                        "list" | "List" => Some("list"),
                        "set" | "Set" => Some("set"),
                        "dict" | "Dict" => Some("dict"),
                        _ => None,
                    }
                });
                MappingKind::DefaultDict(factory)
            }
            _ => return None,
        })
    }
}

/// A function definition found in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct FnDef {
    pub name: String,
    /// 1-based line of the `def`.
    pub line: usize,
    pub is_async: bool,
    pub params: Vec<Param>,
    pub decorators: Vec<String>,
    /// Enclosing class (innermost), when the def is a method.
    pub class: Option<String>,
    /// Defined inside another function: not importable.
    pub nested: bool,
}

impl FnDef {
    pub fn is_staticmethod(&self) -> bool {
        self.decorators
            .iter()
            .any(|d| d.starts_with("@staticmethod"))
    }
    pub fn is_classmethod(&self) -> bool {
        self.decorators
            .iter()
            .any(|d| d.starts_with("@classmethod"))
    }
    pub fn is_property(&self) -> bool {
        self.decorators.iter().any(|d| {
            d.starts_with("@property")
                || d.contains(".setter")
                || d.contains(".deleter")
                || d.contains("cached_property")
        })
    }
    /// A property read (`@property`, `@cached_property`, `@functools.cached_property`), not its
    /// setter or deleter: replayed as an attribute access on the instance.
    pub fn is_property_getter(&self) -> bool {
        self.is_property()
            && !self
                .decorators
                .iter()
                .any(|d| d.contains(".setter") || d.contains(".deleter"))
    }
    /// Decorated as an HTTP route (`@app.route`, `@bp.post`, `@router.get`, `@api_view`…).
    pub fn is_route_handler(&self) -> bool {
        static ROUTE: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"^@[\w.]*\.(route|get|post|put|patch|delete|head|options|api_route|websocket)\s*\(|^@(api_view|require_http_methods|require_GET|require_POST|csrf_exempt|login_required)\b")
                .expect("route regex")
        });
        self.decorators.iter().any(|d| ROUTE.is_match(d))
    }
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

static DEF_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\s*)(async\s+)?def\s+([A-Za-z_]\w*)\s*\(").expect("def regex"));
static CLASS_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\s*)class\s+([A-Za-z_]\w*)\s*[(:]").expect("class regex"));

/// The definition of `function` that encloses line `lineno` (the last `def function(` at or before it),
/// or when no line is known, the first one.
pub fn find_def(src: &str, function: &str, lineno: Option<u64>) -> Option<FnDef> {
    let lines: Vec<&str> = src.lines().collect();
    let limit = lineno
        .map(|l| l as usize)
        .unwrap_or(lines.len())
        .min(lines.len());
    let mut found = None;
    for (i, line) in lines.iter().enumerate().take(limit) {
        if let Some(c) = DEF_RE.captures(line) {
            if &c[3] == function {
                found = Some(i);
                if lineno.is_none() {
                    break;
                }
            }
        }
    }
    let i = found?;
    let c = DEF_RE.captures(lines[i])?;
    let indent = c[1].len();
    let is_async = c.get(2).is_some();
    let params = parse_params(&lines, i)?;
    // decorators directly above
    let mut decorators = Vec::new();
    let mut j = i;
    while j > 0 {
        let l = lines[j - 1].trim();
        if l.starts_with('@') && indent_of(lines[j - 1]) == indent {
            decorators.push(l.to_string());
            j -= 1;
        } else if l.starts_with('#') {
            j -= 1;
        } else {
            break;
        }
    }
    decorators.reverse();
    // enclosing scopes
    let mut class = None;
    let mut nested = false;
    let mut threshold = indent;
    for k in (0..i).rev() {
        if threshold == 0 {
            break;
        }
        let l = lines[k];
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        let ind = indent_of(l);
        if ind < threshold {
            if let Some(cc) = CLASS_RE.captures(l) {
                if class.is_none() && !nested {
                    class = Some(cc[2].to_string());
                } else {
                    nested = true; // class inside class or function: not importable simply
                }
            } else if DEF_RE.is_match(l) {
                nested = true;
            }
            threshold = ind;
        }
    }
    Some(FnDef {
        name: function.to_string(),
        line: i + 1,
        is_async,
        params,
        decorators,
        class,
        nested,
    })
}

/// Index (0-based) of the def's first body line: past a signature written over several lines
/// (`def f(\n    a,\n) -> T:`), whose closing line sits at the def's own indentation and would
/// otherwise end the body before it starts.
fn body_start(lines: &[&str], def: &FnDef) -> usize {
    let mut depth: i32 = 0;
    for (k, l) in lines.iter().enumerate().skip(def.line - 1) {
        let code = l.split('#').next().unwrap_or("");
        for ch in code.chars() {
            match ch {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                _ => {}
            }
        }
        if depth <= 0 && code.trim_end().ends_with(':') {
            return k + 1;
        }
    }
    def.line
}

/// Whether the def's own body (not nested defs or classes) has a `yield`: calling it only builds
/// a generator, so a replay must consume it.
pub fn is_generator(src: &str, def: &FnDef) -> bool {
    static YIELD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(^|[^\w.])yield\b").expect("yield regex"));
    let lines: Vec<&str> = src.lines().collect();
    let Some(head) = lines.get(def.line - 1) else {
        return false;
    };
    let indent = indent_of(head);
    let mut skip_below: Option<usize> = None;
    for l in lines.iter().skip(body_start(&lines, def)) {
        let t = l.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let ind = indent_of(l);
        if ind <= indent {
            break;
        }
        if let Some(s) = skip_below {
            if ind > s {
                continue;
            }
            skip_below = None;
        }
        if DEF_RE.is_match(l) || CLASS_RE.is_match(l) || t.starts_with("lambda") {
            skip_below = Some(ind);
            continue;
        }
        let code = t.split('#').next().unwrap_or("");
        if YIELD.is_match(code) {
            return true;
        }
    }
    false
}

/// The def's body lines (everything indented below it), comments dropped.
fn body_code(src: &str, def: &FnDef) -> Vec<String> {
    let lines: Vec<&str> = src.lines().collect();
    let Some(head) = lines.get(def.line - 1) else {
        return vec![];
    };
    let indent = indent_of(head);
    lines
        .iter()
        .skip(body_start(&lines, def))
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .take_while(|l| indent_of(l) > indent)
        .map(|l| l.split('#').next().unwrap_or("").to_string())
        .collect()
}

/// Whether line `line` (1-based) of `def` sits in the body of a `try:` of that function whose
/// `except` clauses never re-raise (no `raise` statement in any of them): a call of the function
/// then swallows what the line raises. `None` when no enclosing `try:` with `except` clauses is
/// found (a `try`/`finally` alone catches nothing); `Some(false)` when a handler may re-raise.
pub fn swallowed_at(src: &str, def: &FnDef, line: Option<u64>) -> Option<bool> {
    let lines: Vec<&str> = src.lines().collect();
    let idx = (line? as usize).checked_sub(1)?;
    if idx < def.line || idx >= lines.len() {
        return None;
    }
    let code = |l: &str| !l.trim().is_empty() && !l.trim_start().starts_with('#');
    let mut cur = indent_of(lines[idx]);
    let mut k = idx;
    while k > def.line {
        k -= 1;
        let l = lines[k];
        if !code(l) || indent_of(l) >= cur {
            continue;
        }
        cur = indent_of(l);
        let head = l.trim();
        if !(head == "try:" || head.starts_with("try:") && head[4..].trim_start().starts_with('#'))
        {
            continue;
        }
        // the clauses of this try, at its indentation
        let mut handlers = 0;
        let mut reraises = false;
        let mut in_handler = false;
        for l in &lines[idx + 1..] {
            if !code(l) {
                continue;
            }
            let ind = indent_of(l);
            let t = l.trim_start();
            if ind < cur {
                break;
            }
            if ind == cur {
                if t.starts_with("except")
                    && !t[6..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
                {
                    handlers += 1;
                    in_handler = true;
                    continue;
                }
                if t.starts_with("else:") || t.starts_with("finally:") {
                    in_handler = false;
                    continue;
                }
                break;
            }
            if in_handler && (t == "raise" || t.starts_with("raise ") || t.starts_with("raise(")) {
                reraises = true;
            }
        }
        if handlers > 0 {
            return Some(!reraises);
        }
    }
    None
}

/// A Flask function that reads the request context (`request.…`, `session[…]`, `g.…`,
/// `current_app.…`): called outside a request it fails with "working outside of request context",
/// whatever its arguments, so only a request replay can run it.
pub fn uses_flask_context(src: &str, def: &FnDef) -> bool {
    static CTX: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(^|[^\w.])(flask\.)?(request|session|g|current_app)\s*[.\[]")
            .expect("flask context regex")
    });
    framework_of(src) == Some(Framework::Flask)
        && body_code(src, def).iter().any(|l| CTX.is_match(l))
}

/// The text between the parentheses of the def at `lines[i]`, comments dropped.
fn signature_text(lines: &[&str], i: usize) -> Option<String> {
    let mut text = String::new();
    let mut depth = 0i32;
    let mut started = false;
    let mut quote: Option<char> = None;
    for line in lines.iter().skip(i).take(60) {
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if let Some(q) = quote {
                if started {
                    text.push(c);
                }
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        text.push(n);
                    }
                } else if c == q {
                    quote = None;
                }
                continue;
            }
            match c {
                '#' => break,
                '\'' | '"' => {
                    quote = Some(c);
                    if started {
                        text.push(c);
                    }
                }
                '(' | '[' | '{' => {
                    if started {
                        text.push(c);
                    }
                    if !started && c == '(' {
                        started = true;
                    }
                    depth += 1;
                }
                ')' | ']' | '}' => {
                    depth -= 1;
                    if started && depth == 0 {
                        return Some(text);
                    }
                    if started {
                        text.push(c);
                    }
                }
                _ => {
                    if started {
                        text.push(c);
                    }
                }
            }
        }
        if started {
            text.push(' ');
        }
    }
    None
}

fn split_top_level(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut esc = false;
    for c in s.chars() {
        if let Some(q) = quote {
            cur.push(c);
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                cur.push(c);
            }
            '(' | '[' | '{' => {
                depth += 1;
                cur.push(c);
            }
            ')' | ']' | '}' => {
                depth -= 1;
                cur.push(c);
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        parts.push(cur);
    }
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn parse_params(lines: &[&str], i: usize) -> Option<Vec<Param>> {
    let text = signature_text(lines, i)?;
    let mut params = Vec::new();
    let mut kw_only = false;
    for part in split_top_level(&text) {
        if part == "/" {
            for p in params.iter_mut() {
                let p: &mut Param = p;
                if p.kind == ParamKind::Regular {
                    p.kind = ParamKind::PositionalOnly;
                }
            }
            continue;
        }
        if part == "*" {
            kw_only = true;
            continue;
        }
        let (kind, rest) = if let Some(r) = part.strip_prefix("**") {
            (ParamKind::VarKw, r)
        } else if let Some(r) = part.strip_prefix('*') {
            kw_only = true;
            (ParamKind::VarArgs, r)
        } else if kw_only {
            (ParamKind::KeywordOnly, part.as_str())
        } else {
            (ParamKind::Regular, part.as_str())
        };
        // name[: annotation][= default]
        let name_end = rest.find([':', '=']).unwrap_or(rest.len());
        let name = rest[..name_end].trim().to_string();
        if !is_py_ident(&name) {
            return None;
        }
        let has_default = {
            // a top-level '=' after the annotation
            let after = &rest[name_end..];
            split_default(after)
        };
        let annotation = rest[name_end..].strip_prefix(':').map(|a| {
            let a = a.trim();
            a.split(" =").next().unwrap_or(a).trim().to_string()
        });
        params.push(Param {
            name,
            kind,
            has_default,
            annotation,
        });
    }
    Some(params)
}

/// Whether `: ann = default` / `= default` has a top-level `=`.
fn split_default(s: &str) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let b: Vec<char> = s.chars().collect();
    for (k, &c) in b.iter().enumerate() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            '=' if depth == 0 => {
                let prev = if k > 0 { b[k - 1] } else { ' ' };
                let next = b.get(k + 1).copied().unwrap_or(' ');
                if !matches!(prev, '=' | '!' | '<' | '>') && next != '=' {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// Parameters (or `self` attributes) rebound or mutated in the body before `crash_line`.
pub fn mutated_params(src: &str, def: &FnDef, crash_line: Option<u64>) -> Vec<String> {
    let lines: Vec<&str> = src.lines().collect();
    let end = crash_line.map(|l| l as usize).unwrap_or(0).min(lines.len());
    if end <= def.line {
        return vec![];
    }
    let mut body: Vec<&str> = lines[def.line..end.saturating_sub(1)].to_vec();
    // A crash inside a loop follows earlier iterations that ran the whole loop body, including
    // lines below the crash line: scan the outermost enclosing loop to its end.
    let crash = end - 1;
    let mut min_indent = indent_of(lines[crash]);
    let mut loop_indent = None;
    for k in (def.line..crash).rev() {
        let l = lines[k];
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        let ind = indent_of(l);
        if ind < min_indent {
            min_indent = ind;
            let t = l.trim_start();
            if t.starts_with("for ") || t.starts_with("async for ") || t.starts_with("while ") {
                loop_indent = Some(ind);
            }
        }
    }
    if let Some(li) = loop_indent {
        for l in &lines[crash..] {
            if !l.trim().is_empty() && !l.trim_start().starts_with('#') && indent_of(l) <= li {
                break;
            }
            body.push(l);
        }
    }
    let mut out = Vec::new();
    for p in &def.params {
        // Every pattern needs the name itself on the line: a substring test skips the others. The
        // compiled sets come from a per-process cache keyed by the name (see `mutation_patterns`),
        // and on ASCII lines (nearly all) in their ASCII form: on ASCII text `\w`, `\s` and `\b` mean
        // the same either way, and Unicode classes cost far more to compile.
        let mut sets: Option<MutationSets> = None;
        let hit = body.iter().any(|l| {
            let code = l.split('#').next().unwrap_or("");
            if !code.contains(p.name.as_str()) {
                return false;
            }
            let sets = sets.get_or_insert_with(|| mutation_patterns(&p.name));
            if code.is_ascii() {
                sets.ascii
                    .as_ref()
                    .is_some_and(|s| s.is_match(code.as_bytes()))
            } else {
                sets.unicode().is_some_and(|s| s.is_match(code))
            }
        });
        if hit {
            out.push(p.name.clone());
        }
    }
    out
}

/// The mutation patterns of one parameter name, compiled. Compiling them was most of the cost of a
/// Python generation (about 0.5 ms per parameter), and the names recur from alert to alert (`self`,
/// `items`, `order`...), so they are built once per name and process. The names come from the
/// repository's source, not from events; the cache is still bounded (cleared when full).
#[derive(Clone)]
struct MutationSets {
    name: String,
    ascii: Option<regex::bytes::RegexSet>,
    unicode: std::sync::Arc<std::sync::OnceLock<Option<regex::RegexSet>>>,
}

impl MutationSets {
    /// The Unicode form, built on first use (lines with non-ASCII text are rare).
    fn unicode(&self) -> Option<&regex::RegexSet> {
        self.unicode
            .get_or_init(|| regex::RegexSet::new(mutation_pattern_texts(&self.name)).ok())
            .as_ref()
    }
}

const MUTATION_CACHE_MAX: usize = 4096;

fn mutation_patterns(name: &str) -> MutationSets {
    static CACHE: LazyLock<std::sync::Mutex<std::collections::HashMap<String, MutationSets>>> =
        LazyLock::new(Default::default);
    if let Some(hit) = CACHE.lock().ok().and_then(|c| c.get(name).cloned()) {
        return hit;
    }
    let sets = MutationSets {
        name: name.to_string(),
        ascii: regex::bytes::RegexSetBuilder::new(mutation_pattern_texts(name))
            .unicode(false)
            .build()
            .ok(),
        unicode: Default::default(),
    };
    if let Ok(mut c) = CACHE.lock() {
        if c.len() >= MUTATION_CACHE_MAX {
            c.clear();
        }
        c.insert(name.to_string(), sets.clone());
    }
    sets
}

/// Lines that change a parameter called `name` in place or rebind it.
fn mutation_pattern_texts(name: &str) -> [String; 6] {
    let n = regex::escape(name);
    [
        // rebinding, item or attribute assignment, augmented assignment
        format!(
            r"^\s*(?:[\w\s,*()\[\]]*,\s*)?\(?\s*\*?{n}\b(?:\s*(?:\[(?:[^\[\]]|\[[^\[\]]*\])*\]|\.\w+))*\s*(?:[-+*/%&|^@]|//|<<|>>|\*\*)?=[^=]"
        ),
        format!(r"^\s*for\s+[^:]*\b{n}\b[^:]*\s+in\s"),
        format!(
            r"\b{n}(?:\.\w+)*\.(?:append|extend|insert|pop|popitem|remove|clear|update|setdefault|add|discard|sort|reverse|popleft|appendleft|extendleft|rotate|difference_update|intersection_update|symmetric_difference_update)\("
        ),
        // standard-library functions that change the list they are given in place
        format!(
            r"\b(?:heappop|heappush|heappushpop|heapreplace|heapify|shuffle|insort|insort_left|insort_right)\(\s*{n}(?:\.\w+)*\s*[,)]"
        ),
        format!(r"^\s*del\s+{n}\b"),
        format!(r"\bwith\s+.*\bas\s+{n}\b"),
    ]
}

/// What a class's `repr()` looks like, when the repository defines it in a way a repr can rebuild.
#[derive(Debug, Clone, PartialEq)]
pub enum ReprClass {
    /// Dataclass, NamedTuple or pydantic model: `Name(field=value, ...)` with these fields in this
    /// order; `None` when its repr cannot be trusted to rebuild it (custom `__repr__`, `repr=False`
    /// / `init=False` fields, `__post_init__`, computed fields, bases defined elsewhere).
    Fields(Option<Vec<String>>),
    /// `enum.Enum` subclass: `<Name.MEMBER: value>`, with its member names.
    Enum(Vec<String>),
}

#[derive(Clone, Copy, PartialEq)]
enum ClassFlavor {
    Dataclass,
    NamedTuple,
    Pydantic,
    Enum,
}

/// Base classes written between the parentheses of a `class` line (keywords such as
/// `metaclass=` dropped). `None` when the list does not close on that line.
fn class_bases(line: &str) -> Option<Vec<String>> {
    let Some(open) = line.find('(') else {
        return Some(vec![]); // `class X:`
    };
    if line[..open].contains(':') {
        return Some(vec![]); // `class X:` with a parenthesis later on the line
    }
    let rest = &line[open + 1..];
    let close = rest.rfind(')')?;
    Some(
        split_top_level(&rest[..close])
            .into_iter()
            .filter(|b| !b.contains('='))
            .collect(),
    )
}

/// Dataclasses, NamedTuples, pydantic models and enums defined in a file, with what their reprs
/// show. A class inheriting from another class of the same file gets its parent's fields first (as
/// dataclasses and pydantic do); a base defined elsewhere makes the fields untrusted.
pub fn repr_classes_in(src: &str) -> Vec<(String, ReprClass)> {
    repr_classes_with_foreign(src)
        .into_iter()
        .map(|(name, kind, foreign)| {
            if foreign.is_empty() {
                (name, kind)
            } else {
                (name, ReprClass::Fields(None))
            }
        })
        .collect()
}

/// [`repr_classes_in`], except that a dataclass whose only doubt is a base defined in another file
/// keeps its own fields and names those bases (bare names, in order): the caller, which sees the
/// whole package, decides whether they change the repr (a plain base does not; a dataclass base
/// puts its fields first).
pub fn repr_classes_with_foreign(src: &str) -> Vec<(String, ReprClass, Vec<String>)> {
    static FIELD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^([A-Za-z_]\w*)\s*:\s*(.+)$").expect("field regex"));
    static MEMBER: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^([A-Za-z]\w*)\s*=[^=]").expect("member regex"));
    let lines: Vec<&str> = src.lines().collect();
    let mut out: Vec<(String, ReprClass)> = Vec::new();
    let mut foreign_of: Vec<Vec<String>> = Vec::new();
    let mut flavors: Vec<(String, ClassFlavor)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(c) = CLASS_RE.captures(line) else {
            continue;
        };
        let indent = c[1].len();
        let name = c[2].to_string();
        let mut decos = Vec::new();
        let mut j = i;
        while j > 0 && lines[j - 1].trim_start().starts_with('@') {
            decos.push(lines[j - 1].trim().to_string());
            j -= 1;
        }
        let bases = class_bases(line);
        let base_list = bases.clone().unwrap_or_default();
        let bare = |b: &str| b.rsplit('.').next().unwrap_or(b).to_string();
        let local_parent = |b: &str| flavors.iter().rev().find(|(n, _)| n == b).map(|(_, f)| *f);
        let is_dc = decos
            .iter()
            .any(|d| d.starts_with("@dataclass") || d.starts_with("@dataclasses.dataclass"));
        let flavor = if is_dc {
            Some(ClassFlavor::Dataclass)
        } else if base_list.iter().any(|b| bare(b) == "NamedTuple") {
            Some(ClassFlavor::NamedTuple)
        } else if base_list.iter().any(|b| bare(b) == "BaseModel") {
            Some(ClassFlavor::Pydantic)
        } else if base_list.iter().any(|b| {
            matches!(
                bare(b).as_str(),
                "Enum" | "IntEnum" | "StrEnum" | "Flag" | "IntFlag"
            )
        }) {
            Some(ClassFlavor::Enum)
        } else {
            base_list.iter().find_map(|b| {
                local_parent(b).filter(|f| matches!(f, ClassFlavor::Pydantic | ClassFlavor::Enum))
            })
        };
        let Some(flavor) = flavor else {
            continue;
        };
        flavors.push((name.clone(), flavor));
        // body lines at the body's own indentation
        let mut body: Vec<&str> = Vec::new();
        let mut body_indent = None;
        for l in lines.iter().skip(i + 1) {
            if l.trim().is_empty() || l.trim_start().starts_with('#') {
                continue;
            }
            let ind = indent_of(l);
            if ind <= indent {
                break;
            }
            let bi = *body_indent.get_or_insert(ind);
            if ind == bi {
                body.push(l.trim());
            }
        }
        if flavor == ClassFlavor::Enum {
            let members = body
                .iter()
                .filter_map(|t| MEMBER.captures(t).map(|m| m[1].to_string()))
                .collect();
            out.push((name, ReprClass::Enum(members)));
            foreign_of.push(vec![]);
            continue;
        }
        let mut ok = bases.is_some()
            && !decos
                .iter()
                .any(|d| d.replace(' ', "").contains("repr=False"));
        let mut fields = Vec::new();
        let mut foreign = Vec::new();
        for b in &base_list {
            let known_root = matches!(
                bare(b).as_str(),
                "BaseModel" | "NamedTuple" | "object" | "ABC"
            ) || b.starts_with("Generic[")
                || b.starts_with("typing.Generic[");
            if known_root {
                continue;
            }
            match out.iter().rev().find(|(n, _)| n == b) {
                Some((_, ReprClass::Fields(Some(parent)))) => fields.extend(parent.iter().cloned()),
                Some(_) => ok = false,
                // defined elsewhere (or a plain class of this file): the package decides
                None if flavor == ClassFlavor::Dataclass && base_list.len() == 1 => {
                    foreign.push(bare(b))
                }
                None => ok = false,
            }
        }
        for (k, t) in body.iter().enumerate() {
            if t.starts_with("def __repr__")
                || t.starts_with("def __post_init__")
                || t.starts_with("def __repr_args__")
                || t.starts_with("def model_post_init")
                || t.starts_with("__repr__")
                || t.starts_with("@computed_field")
                || t.starts_with("@pydantic.computed_field")
            {
                ok = false;
            }
            let _ = k;
            if let Some(f) = FIELD.captures(t) {
                let ann = &f[2];
                if ann.starts_with("ClassVar") || ann.contains("typing.ClassVar") {
                    continue;
                }
                if flavor == ClassFlavor::Pydantic
                    && (f[1].starts_with('_') || &f[1] == "model_config")
                {
                    continue; // private attributes and config never show in a pydantic repr
                }
                let compact = ann.replace(' ', "");
                if compact.contains("repr=False")
                    || compact.contains("init=False")
                    || ann.starts_with("InitVar")
                {
                    ok = false;
                }
                fields.push(f[1].to_string());
            }
        }
        out.push((name, ReprClass::Fields(ok.then_some(fields))));
        foreign_of.push(foreign);
    }
    out.into_iter()
        .zip(foreign_of)
        .map(|((n, k), f)| (n, k, f))
        .collect()
}

/// A class statement at the top level of a file: its name, the bare names of its bases, and
/// whether it is *plain*: no dataclass / model / NamedTuple / enum of its own and none of the hooks
/// a dataclass subclass's generated `__init__` would run or that would change what its repr shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassDecl {
    pub name: String,
    pub bases: Vec<String>,
    pub plain: bool,
}

/// Bases that add no fields and no behaviour to construction or repr.
pub fn is_root_base(bare: &str) -> bool {
    matches!(bare, "object" | "ABC" | "Generic" | "Protocol")
}

/// Every top-level `class` of a file (see [`ClassDecl`]).
pub fn class_decls(src: &str) -> Vec<ClassDecl> {
    let lines: Vec<&str> = src.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(c) = CLASS_RE.captures(line) else {
            continue;
        };
        if !c[1].is_empty() {
            continue;
        }
        let decorated = i > 0 && lines[i - 1].trim_start().starts_with('@');
        let Some(raw_bases) = class_bases(line) else {
            out.push(ClassDecl {
                name: c[2].to_string(),
                bases: vec![],
                plain: false,
            });
            continue;
        };
        let bases: Vec<String> = raw_bases
            .iter()
            .map(|b| {
                let head = b.split('[').next().unwrap_or(b);
                head.rsplit('.').next().unwrap_or(head).trim().to_string()
            })
            .collect();
        let special = bases.iter().any(|b| {
            matches!(
                b.as_str(),
                "BaseModel"
                    | "NamedTuple"
                    | "TypedDict"
                    | "Enum"
                    | "IntEnum"
                    | "StrEnum"
                    | "Flag"
                    | "IntFlag"
            )
        });
        let mut hooks = false;
        for l in lines.iter().skip(i + 1) {
            if !l.trim().is_empty() && indent_of(l) == 0 && !l.trim_start().starts_with('#') {
                break;
            }
            let t = l.trim_start();
            if [
                "def __post_init__",
                "def __setattr__",
                "def __new__",
                "def __init_subclass__",
                "def __getattribute__",
                "__slots__",
            ]
            .iter()
            .any(|h| t.starts_with(h))
            {
                hooks = true;
            }
        }
        out.push(ClassDecl {
            name: c[2].to_string(),
            bases,
            plain: !decorated && !special && !hooks,
        });
    }
    out
}

/// Importable module name for a repository `.py` path and the folder that must be on `sys.path`
/// (`""` for the repository root). Uses the frame's `module` when it agrees with the path.
pub fn module_for_path(
    snap: &Snapshot,
    path: &str,
    frame_module: Option<&str>,
) -> Option<(String, String)> {
    let stem = path.strip_suffix(".py")?;
    let stem = stem.strip_suffix("/__init__").unwrap_or(stem);
    if let Some(m) = frame_module {
        let as_path = m.replace('.', "/");
        if m.split('.').all(is_py_ident)
            && (stem == as_path || stem.ends_with(&format!("/{as_path}")))
        {
            let root = stem[..stem.len() - as_path.len()]
                .trim_end_matches('/')
                .to_string();
            return Some((m.to_string(), root));
        }
    }
    let parts: Vec<&str> = stem.split('/').collect();
    // A `src/` layout: everything below `src` is the import path, packages with or without
    // `__init__.py` (namespace packages) alike.
    if let Some(k) = parts.iter().position(|p| *p == "src") {
        let module_parts = &parts[k + 1..];
        if !module_parts.is_empty() && module_parts.iter().all(|p| is_py_ident(p)) {
            return Some((module_parts.join("."), parts[..=k].join("/")));
        }
    }
    // Walk up while the folder is a package.
    let mut start = parts.len() - 1;
    while start > 0 {
        let dir = parts[..start].join("/");
        if snap.is_file(&format!("{dir}/__init__.py")) {
            start -= 1;
        } else {
            break;
        }
    }
    // The file's own folder is not a package: a `src/`-style root goes on sys.path, any other
    // folder is imported from the repository root as a namespace package.
    let (root, module_parts) =
        if start == parts.len() - 1 && start > 0 && !matches!(parts[start - 1], "src" | "lib") {
            (String::new(), parts.clone())
        } else {
            (parts[..start].join("/"), parts[start..].to_vec())
        };
    if !module_parts.iter().all(|p| is_py_ident(p)) {
        return None;
    }
    Some((module_parts.join("."), root))
}

/// Python files of the repository worth scanning for classes and app objects: the crash file's
/// top-level package (bounded) and the root's modules.
pub fn package_files(snap: &Snapshot, crash_path: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let top = crash_path.split('/').next().unwrap_or("");
    let mut stack: Vec<String> = Vec::new();
    if crash_path.contains('/') {
        stack.push(top.to_string());
        if top == "src" {
            // src layout: the package below src
            if let Some(pkg) = crash_path.split('/').nth(1) {
                stack = vec![format!("src/{pkg}")];
            }
        }
    }
    while let Some(dir) = stack.pop() {
        for (name, is_dir) in snap.list_dir(&dir) {
            if out.len() >= limit {
                return out;
            }
            let p = format!("{dir}/{name}");
            if is_dir {
                if !name.starts_with('.')
                    && name != "node_modules"
                    && name != "__pycache__"
                    && !name.contains("venv")
                {
                    stack.push(p);
                }
            } else if name.ends_with(".py") {
                out.push(p);
            }
        }
    }
    for (name, is_dir) in snap.list_dir("") {
        if !is_dir
            && name.ends_with(".py")
            && out.len() < limit
            && name != "setup.py"
            && name != "conftest.py"
        {
            out.push(name);
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Framework {
    Flask,
    Starlette,
    Django,
}

impl Framework {
    pub fn name(self) -> &'static str {
        match self {
            Framework::Flask => "Flask",
            Framework::Starlette => "FastAPI/Starlette",
            Framework::Django => "Django",
        }
    }
}

/// How the generated test gets the app.
#[derive(Debug, Clone, PartialEq)]
pub struct AppRef {
    pub framework: Framework,
    pub module: String,
    /// Module attribute: the app itself, or a factory called with no arguments.
    pub attr: String,
    pub factory: bool,
    /// Folder to put on sys.path ("" = repository root).
    pub root: String,
}

/// Which framework a source file uses, from its imports.
pub fn framework_of(src: &str) -> Option<Framework> {
    static IMPORT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?m)^\s*(?:from|import)\s+(flask|fastapi|starlette|django)\b")
            .expect("import regex")
    });
    IMPORT.captures(src).map(|c| match &c[1] {
        "flask" => Framework::Flask,
        "django" => Framework::Django,
        _ => Framework::Starlette,
    })
}

static FACTORY_NAMES: &[&str] = &[
    "create_app",
    "make_app",
    "build_app",
    "get_app",
    "app_factory",
    "create_application",
    "application_factory",
];

/// Find the app object in `files` for `framework`: a module-level `app = Flask(...)` /
/// `FastAPI(...)` / `Starlette(...)`, else a factory (`create_app()`) whose parameters all have
/// defaults.
pub fn find_app(snap: &Snapshot, files: &[String], framework: Framework) -> Option<AppRef> {
    static ASSIGN: LazyLock<[Regex; 2]> = LazyLock::new(|| {
        [
            r"(?:flask\.)?Flask",
            r"(?:fastapi\.|starlette\.applications\.)?(?:FastAPI|Starlette)",
        ]
        .map(|ctor| {
            Regex::new(&format!(
                r"(?m)^([A-Za-z_]\w*)\s*(?::\s*[\w.]+\s*)?=\s*{ctor}\s*\("
            ))
            .expect("app assignment regex")
        })
    });
    let assign = match framework {
        Framework::Flask => &ASSIGN[0],
        Framework::Starlette => &ASSIGN[1],
        Framework::Django => return None,
    };
    let mut factory: Option<AppRef> = None;
    for f in files {
        let Some(src) = snap.read(f) else { continue };
        if framework_of(&src) != Some(framework) {
            continue;
        }
        let Some((module, root)) = module_for_path(snap, f, None) else {
            continue;
        };
        if let Some(c) = assign.captures(&src) {
            return Some(AppRef {
                framework,
                module,
                attr: c[1].to_string(),
                factory: false,
                root,
            });
        }
        if factory.is_none() {
            for name in FACTORY_NAMES {
                if let Some(def) = find_def(&src, name, None) {
                    let callable = !def.nested
                        && def.class.is_none()
                        && def.indent_zero(&src)
                        && def.params.iter().all(|p| {
                            p.has_default || matches!(p.kind, ParamKind::VarArgs | ParamKind::VarKw)
                        });
                    if callable {
                        factory = Some(AppRef {
                            framework,
                            module: module.clone(),
                            attr: name.to_string(),
                            factory: true,
                            root: root.clone(),
                        });
                        break;
                    }
                }
            }
        }
    }
    factory
}

impl FnDef {
    fn indent_zero(&self, src: &str) -> bool {
        src.lines()
            .nth(self.line - 1)
            .map(|l| indent_of(l) == 0)
            .unwrap_or(false)
    }
}

/// Django settings module named by `manage.py` / `wsgi.py` / `asgi.py` (or pytest-django's
/// `DJANGO_SETTINGS_MODULE` in the pytest configuration), and the folder that must be on `sys.path`
/// for it (the folder of that `manage.py`/config file; `""` for the repository root).
pub fn django_settings(snap: &Snapshot, files: &[String]) -> Option<(String, String)> {
    static SETTINGS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"DJANGO_SETTINGS_MODULE["']?\]?\s*[,=:]\s*["']?([A-Za-z_][\w.]*)"#)
            .expect("settings regex")
    });
    let mut cands: Vec<String> = [
        "manage.py",
        "pytest.ini",
        "pyproject.toml",
        "setup.cfg",
        "tox.ini",
    ]
    .map(String::from)
    .to_vec();
    cands.extend(
        files
            .iter()
            .filter(|f| {
                f.ends_with("wsgi.py") || f.ends_with("asgi.py") || f.ends_with("manage.py")
            })
            .cloned(),
    );
    for (name, is_dir) in snap.list_dir("") {
        if is_dir && !name.starts_with('.') && snap.is_file(&format!("{name}/manage.py")) {
            cands.push(format!("{name}/manage.py"));
        }
    }
    for f in cands {
        let Some(src) = snap.read(&f) else { continue };
        let Some(c) = SETTINGS.captures(&src) else {
            continue;
        };
        let m = c[1].to_string();
        if !m.split('.').all(is_py_ident) {
            continue;
        }
        // the settings module's folder decides the root: `<root>/<m as path>.py`
        let as_path = m.replace('.', "/");
        let dir = f.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let mut roots = vec![dir.to_string()];
        if let Some((parent, _)) = dir.rsplit_once('/') {
            roots.push(parent.to_string());
        }
        roots.push(String::new());
        for root in roots {
            let base = if root.is_empty() {
                as_path.clone()
            } else {
                format!("{root}/{as_path}")
            };
            if snap.is_file(&format!("{base}.py")) || snap.is_file(&format!("{base}/__init__.py")) {
                return Some((m, root));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"
from dataclasses import dataclass, field

@dataclass
class Track:
    title: str
    duration_s: int


@dataclass
class Playlist:
    name: str
    tracks: List[Track] = field(default_factory=list)
    position: int = 0

    @classmethod
    def from_dict(cls, data: dict) -> "Playlist":
        return cls(name=data["name"])

    def advance(self) -> Optional[Track]:
        if self.repeat:
            self.position = (self.position + 1) % len(self.tracks)
        else:
            self.position += 1
        return self.tracks[self.position]


async def fetch(a, /, b: Dict[str, int] = {"x": 1}, *rest, key: str = "k,=", **kw):  # comment (
    return a


def outer(x):
    def inner(y):
        y.append(1)
        return y[5]
    return inner(x)
"#;

    #[test]
    fn finds_defs_and_params() {
        let d = find_def(SRC, "advance", Some(25)).unwrap();
        assert_eq!(d.class.as_deref(), Some("Playlist"));
        assert_eq!(d.params.len(), 1);
        assert!(!d.nested);
        assert_eq!(mutated_params(SRC, &d, Some(25)), vec!["self".to_string()]);
        let f = find_def(SRC, "fetch", Some(29)).unwrap();
        assert!(f.is_async);
        let kinds: Vec<_> = f
            .params
            .iter()
            .map(|p| (p.name.as_str(), p.kind, p.has_default))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("a", ParamKind::PositionalOnly, false),
                ("b", ParamKind::Regular, true),
                ("rest", ParamKind::VarArgs, false),
                ("key", ParamKind::KeywordOnly, true),
                ("kw", ParamKind::VarKw, false)
            ]
        );
        let i = find_def(SRC, "inner", Some(36)).unwrap();
        assert!(i.nested);
        assert_eq!(mutated_params(SRC, &i, Some(36)), vec!["y".to_string()]);
    }

    #[test]
    fn deque_methods_and_in_place_library_calls_are_mutations() {
        let src = "import heapq\n\n\ndef drain(queue, heap, jobs, fee):\n    a = queue.popleft()\n    b = heapq.heappop(heap)\n    random.shuffle(jobs)\n    c = sorted(fee)\n    return a / b\n";
        let d = find_def(src, "drain", Some(9)).unwrap();
        assert_eq!(
            mutated_params(src, &d, Some(9)),
            vec!["queue".to_string(), "heap".to_string(), "jobs".to_string()]
        );
        // heappush(other, heap) changes `other`, not `heap`
        let src = "def f(heap, other):\n    heapq.heappush(other, heap)\n    return heap[0]\n";
        let d = find_def(src, "f", Some(3)).unwrap();
        assert_eq!(mutated_params(src, &d, Some(3)), vec!["other".to_string()]);
    }

    #[test]
    fn nested_subscript_assignment_is_a_mutation() {
        let src = "def take(levels, line):\n    levels[line[\"sku\"]] -= 1\n    x = levels[line[\"sku\"]]\n    return levels[line[\"sku\"]]\n";
        let d = find_def(src, "take", Some(4)).unwrap();
        assert_eq!(mutated_params(src, &d, Some(4)), vec!["levels".to_string()]);
    }

    #[test]
    fn a_loop_body_below_the_crash_line_ran_in_earlier_iterations() {
        let src = "def alloc(order, levels):\n    for line in order:\n        have = levels[line]\n        levels[line] -= 1\n    return levels\n\n\ndef f(a, b):\n    x = a[0]\n    b.append(1)\n";
        let d = find_def(src, "alloc", Some(3)).unwrap();
        assert_eq!(mutated_params(src, &d, Some(3)), vec!["levels".to_string()]);
        // not in a loop: a later line never ran
        let f = find_def(src, "f", Some(9)).unwrap();
        assert!(mutated_params(src, &f, Some(9)).is_empty());
        let c = find_def(SRC, "from_dict", Some(18)).unwrap();
        assert!(c.is_classmethod());
    }

    #[test]
    fn mutations_on_ascii_and_unicode_lines_agree() {
        // The ASCII fast path and the Unicode patterns give the same answers.
        let src = "def f(items, total, size, n, m):\n    items.append(\"é\")\n    x = total\n    size += len(\"ü\")\n    a, total = 1, 2\n    nm = 1\n    é = m\n    return 1\n";
        let d = find_def(src, "f", Some(8)).unwrap();
        assert_eq!(
            mutated_params(src, &d, Some(8)),
            vec!["items".to_string(), "total".to_string(), "size".to_string()]
        );
    }

    #[test]
    fn finds_dataclasses() {
        let dcs = repr_classes_in(SRC);
        assert_eq!(
            dcs[0],
            (
                "Track".to_string(),
                ReprClass::Fields(Some(vec!["title".to_string(), "duration_s".to_string()]))
            )
        );
        assert_eq!(
            dcs[1].1,
            ReprClass::Fields(Some(vec![
                "name".to_string(),
                "tracks".to_string(),
                "position".to_string()
            ]))
        );
    }

    #[test]
    fn dataclass_on_a_base_from_another_file_names_it() {
        let src = "from dataclasses import dataclass\n\nfrom .base import Exporter\n\n\n@dataclass\nclass CsvExporter(Exporter):\n    columns: list\n    delimiter: str = \",\"\n\n\n@dataclass\nclass Two(Exporter, Mixin):\n    x: int\n";
        let got = repr_classes_with_foreign(src);
        assert_eq!(
            got[0],
            (
                "CsvExporter".to_string(),
                ReprClass::Fields(Some(vec!["columns".into(), "delimiter".into()])),
                vec!["Exporter".to_string()]
            )
        );
        // two bases, one unknown: untrusted outright
        assert_eq!(got[1].1, ReprClass::Fields(None));
        // the file-local view stays conservative
        assert_eq!(repr_classes_in(src)[0].1, ReprClass::Fields(None));
    }

    #[test]
    fn class_decls_tell_plain_bases() {
        let src = "from abc import ABC, abstractmethod\n\n\nclass Exporter(ABC):\n    columns: list\n\n    @abstractmethod\n    def format_row(self, values):\n        pass\n\n\nclass Hooked(base.Exporter):\n    def __post_init__(self):\n        self.x = 1\n\n\n@dataclass\nclass Data(Exporter):\n    x: int\n\n\nclass Model(BaseModel):\n    y: int\n\n\ndef f():\n    class Inner:\n        pass\n";
        let got = class_decls(src);
        let names: Vec<_> = got.iter().map(|d| (d.name.as_str(), d.plain)).collect();
        assert_eq!(
            names,
            vec![
                ("Exporter", true),
                ("Hooked", false),
                ("Data", false),
                ("Model", false)
            ]
        );
        assert_eq!(got[0].bases, vec!["ABC".to_string()]);
        assert_eq!(got[1].bases, vec!["Exporter".to_string()]);
    }

    #[test]
    fn pydantic_models_and_enums() {
        let src = "from enum import Enum\nfrom pydantic import BaseModel, Field, ConfigDict\n\n\nclass Status(str, Enum):\n    OPEN = \"open\"\n    ON_HOLD = \"on_hold\"\n\n    def label(self):\n        return self.value\n\n\nclass Api(BaseModel):\n    model_config = ConfigDict(frozen=True)\n\n\nclass Line(Api):\n    sku: str\n    qty: int = Field(gt=0)\n    _cache: dict = {}\n\n\nclass Order(Line):\n    status: Status = Status.OPEN\n\n\nclass Secret(BaseModel):\n    token: str = Field(repr=False)\n\n\nclass Other(SomewhereElse):\n    x: int\n";
        let got = repr_classes_in(src);
        let get = |n: &str| got.iter().find(|(c, _)| c == n).map(|(_, r)| r.clone());
        assert_eq!(
            get("Status"),
            Some(ReprClass::Enum(vec!["OPEN".into(), "ON_HOLD".into()]))
        );
        assert_eq!(
            get("Line"),
            Some(ReprClass::Fields(Some(vec!["sku".into(), "qty".into()])))
        );
        assert_eq!(
            get("Order"),
            Some(ReprClass::Fields(Some(vec![
                "sku".into(),
                "qty".into(),
                "status".into()
            ])))
        );
        assert_eq!(get("Secret"), Some(ReprClass::Fields(None)));
        assert_eq!(get("Other"), None);
    }

    #[test]
    fn annotations_name_the_mapping_the_sdk_sent_as_an_object() {
        let src = "def f(a: Counter, b: collections.Counter[str], c: OrderedDict[str, int], d: defaultdict[str, list[str]], e: DefaultDict[str, Thing], g: dict[str, int], h, q: deque[int]):\n    pass\n";
        let d = find_def(src, "f", Some(2)).unwrap();
        let kinds: Vec<_> = d.params.iter().map(|p| p.mapping_kind()).collect();
        assert_eq!(
            kinds,
            vec![
                Some(MappingKind::Counter),
                Some(MappingKind::Counter),
                Some(MappingKind::OrderedDict),
                Some(MappingKind::DefaultDict(Some("list"))),
                Some(MappingKind::DefaultDict(None)),
                None,
                None,
                None
            ]
        );
        assert_eq!(d.params[7].sequence_kind(), Some("deque"));
    }

    #[test]
    fn annotations_name_the_container_the_sdk_sent_as_a_list() {
        let src = "def f(p: tuple[int, int], s: Optional[set] = None, fs: typing.FrozenSet[str], l: list, q=1, d: Dict[str, int] = {}):\n    pass\n";
        let d = find_def(src, "f", Some(2)).unwrap();
        let kinds: Vec<_> = d.params.iter().map(|p| p.sequence_kind()).collect();
        assert_eq!(
            kinds,
            vec![
                Some("tuple"),
                Some("set"),
                Some("frozenset"),
                None,
                None,
                None
            ]
        );
        assert_eq!(d.params[5].annotation.as_deref(), Some("Dict[str, int]"));
    }

    #[test]
    fn generators() {
        let src = "def rows(path):\n    def inner():\n        yield 1\n    for r in path:\n        x = 'yield'\n        yield r  # one row\n\n\ndef plain(xs):\n    def inner():\n        yield 1\n    return list(inner())\n";
        assert!(is_generator(src, &find_def(src, "rows", Some(6)).unwrap()));
        // a signature over several lines closes at the def's indentation (tornado's get_content)
        let wrapped = "class H:\n    @classmethod\n    def get_content(\n        cls, path: str, start: int = None\n    ) -> Generator[bytes, None, None]:\n        with open(path) as f:\n            yield f.read()\n";
        assert!(is_generator(
            wrapped,
            &find_def(wrapped, "get_content", Some(7)).unwrap()
        ));
        assert!(!is_generator(
            src,
            &find_def(src, "plain", Some(12)).unwrap()
        ));
    }

    #[test]
    fn a_try_that_swallows_the_line() {
        let src = r#"def sync(rows):
    out = []
    for row in rows:
        try:
            with lock:
                out.append(convert(row))
        except (KeyError, ValueError) as exc:  # logged, the run goes on
            log.exception("row %s", row)
        else:
            out.append(None)
    return out


def strict(rows):
    try:
        return convert(rows)
    except ValueError:
        log.exception("x")
        raise


def cleanup(rows):
    try:
        return convert(rows)
    finally:
        close()


def in_handler(rows):
    try:
        return convert(rows)
    except KeyError:
        return convert2(rows)


def plain(rows):
    return convert(rows)


def exceptional(rows):
    try:
        return convert(rows)
    exceptional = 1
"#;
        let at = |f: &str, line: u64| {
            swallowed_at(src, &find_def(src, f, Some(line)).unwrap(), Some(line))
        };
        assert_eq!(at("sync", 6), Some(true));
        // the handler's own line and the else clause are not guarded by that try
        assert_eq!(at("sync", 8), None);
        assert_eq!(at("sync", 10), None);
        assert_eq!(at("strict", 16), Some(false));
        assert_eq!(at("cleanup", 24), None);
        assert_eq!(at("in_handler", 33), None);
        assert_eq!(at("in_handler", 31), Some(true));
        assert_eq!(at("plain", 37), None);
        assert_eq!(at("exceptional", 42), None);
    }

    #[test]
    fn flask_request_context() {
        let src = "from flask import request, g\n\n\ndef show(slug):\n    user = g.user  # needs the app\n    return slug\n\n\ndef pure(grequest):\n    return grequest.x\n";
        assert!(uses_flask_context(
            src,
            &find_def(src, "show", Some(5)).unwrap()
        ));
        assert!(!uses_flask_context(
            src,
            &find_def(src, "pure", Some(10)).unwrap()
        ));
        let no_flask = src.replace("from flask import request, g", "import os");
        assert!(!uses_flask_context(
            &no_flask,
            &find_def(&no_flask, "show", Some(5)).unwrap()
        ));
    }

    #[test]
    fn route_handlers() {
        let src = "@bp.post(\"/signup\")\ndef signup():\n    pass\n";
        assert!(find_def(src, "signup", Some(3)).unwrap().is_route_handler());
    }
}
