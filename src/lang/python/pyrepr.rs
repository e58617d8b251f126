//! Rebuild Python values from the `repr()` strings Sentry's Python SDK puts in frame `vars`.
//!
//! The SDK sends every local as `repr(value)` (`"'abc'"`, `"1"`, `"None"`), except containers, which
//! stay JSON with repr'd leaves (and dict keys as `str(key)`). A value is rebuilt only when it can be
//! rebuilt *exactly*: literals (str, bytes, int, float, bool, None), containers of them, a short list
//! of standard-library constructors (`datetime.*`, `Decimal`, `UUID`, `ZoneInfo`), dataclass /
//! NamedTuple / pydantic reprs of classes defined in the repository whose fields all rebuild, and enum
//! members (`<Status.OPEN: 'open'>` → `Status.OPEN`) of the repository's enums. Anything else
//! (object reprs `<x.Y object at 0x…>`, `[Filtered]`, strings cut with `...`, values Sentry trimmed
//! per `_meta`) is refused with a reason, so the generator can climb to a caller or fall back.
//!
//! The emitter writes Python source only from the parsed tree: strings through `render::py_str`,
//! numbers re-validated, names from a fixed allow-list or checked identifiers. Event text never
//! reaches the output verbatim.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::render::{is_py_ident, py_str};

/// Maximum nesting accepted by the parser (the SDK stops at depth 5 anyway).
const MAX_DEPTH: usize = 48;

/// The SDK keeps at most this many items of a list, set or dict in frame vars (its
/// `MAX_DATABAG_BREADTH`) and, for vars, records no `_meta` when it cuts: a container of exactly
/// this size may be the first part of a longer one.
pub const SDK_BREADTH: usize = 10;

/// A parsed Python value.
#[derive(Debug, Clone, PartialEq)]
pub enum PyVal {
    None,
    Bool(bool),
    /// Decimal digits with an optional leading `-`, validated.
    Int(String),
    /// A float literal as Python's `repr` prints it (`1.5`, `1e+20`), validated.
    Float(String),
    /// `inf`, `-inf`, `nan`.
    FloatSpecial(&'static str),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<PyVal>),
    Tuple(Vec<PyVal>),
    Dict(Vec<(PyVal, PyVal)>),
    Set(Vec<PyVal>),
    /// `name(args, kw=...)`: resolved at emit time against the allow-list or the repo's dataclasses.
    Call {
        func: Vec<String>,
        args: Vec<PyVal>,
        kwargs: Vec<(String, PyVal)>,
    },
    /// A dotted name such as `datetime.timezone.utc`.
    Name(Vec<String>),
    /// A builtin type by name (`int`, `list`), placed by the generator (a defaultdict's factory),
    /// never parsed from a repr.
    Builtin(&'static str),
    /// `<Class.MEMBER: value>`, an enum member's repr: rebuilt as `Class.MEMBER` when `Class` is an
    /// enum of the repository with that member.
    EnumMember {
        class: String,
        member: String,
    },
}

/// Why a value cannot be rebuilt.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    Filtered,
    Truncated,
    /// A container of exactly `SDK_BREADTH` items: possibly cut without a trace.
    MaybeCut,
    ObjectRepr,
    Unparsable,
    UnknownCall(String),
    AmbiguousKey(String),
}

impl Refusal {
    pub fn describe(&self) -> String {
        match self {
            Refusal::Filtered => "was scrubbed by Sentry ([Filtered])".into(),
            Refusal::Truncated => "was truncated by the SDK (cut string or container)".into(),
            Refusal::MaybeCut => format!(
                "holds a container of exactly {SDK_BREADTH} items, where the SDK cuts longer ones without a note"
            ),
            Refusal::ObjectRepr => {
                "is an object repr (<... object at 0x...>), not its state".into()
            }
            Refusal::Unparsable => "is a repr that cannot be rebuilt exactly".into(),
            Refusal::UnknownCall(n) => format!(
                "is a repr of {} which is not a rebuildable dataclass of this repository",
                crate::render::comment(n)
            ),
            Refusal::AmbiguousKey(k) => format!(
                "has dict key {} whose original type Sentry does not keep (str(key))",
                crate::render::comment(k)
            ),
        }
    }
}

/// Parse one `repr()` string completely (trailing text is an error).
pub fn parse_repr(s: &str) -> Result<PyVal, Refusal> {
    let t = s.trim();
    if t == "[Filtered]" {
        return Err(Refusal::Filtered);
    }
    let mut p = Parser {
        s: t.as_bytes(),
        i: 0,
    };
    let v = p.value(0).map_err(|_| classify_failure(t))?;
    p.ws();
    if p.i != p.s.len() {
        return Err(classify_failure(t));
    }
    Ok(v)
}

fn classify_failure(t: &str) -> Refusal {
    if t.contains(" object at 0x") || (t.starts_with('<') && t.ends_with('>')) {
        Refusal::ObjectRepr
    } else if t.ends_with("...") || t.contains("...]") || t.contains("...}") || t.contains("...)") {
        Refusal::Truncated
    } else {
        Refusal::Unparsable
    }
}

/// Convert one frame var as the SDK serialized it (repr string or JSON container of repr leaves).
/// `meta` is the `_meta` subtree for this var, if any: any length or removal note refuses the value.
pub fn from_var(v: &Value, meta: Option<&Value>) -> Result<PyVal, Refusal> {
    if let Some(m) = meta {
        if meta_has_notes(m) {
            return Err(match v {
                Value::String(s) if s == "[Filtered]" => Refusal::Filtered,
                _ if meta_is_filter(m) => Refusal::Filtered,
                _ => Refusal::Truncated,
            });
        }
    }
    from_json(v, 0)
}

fn from_json(v: &Value, depth: usize) -> Result<PyVal, Refusal> {
    if depth > MAX_DEPTH {
        return Err(Refusal::Unparsable);
    }
    Ok(match v {
        Value::Null => PyVal::None,
        Value::Bool(b) => PyVal::Bool(*b),
        Value::Number(n) => number_from_json(n)?,
        Value::String(s) => parse_repr(s)?,
        Value::Array(items) if items.len() == SDK_BREADTH => return Err(Refusal::MaybeCut),
        Value::Object(m) if m.len() == SDK_BREADTH => return Err(Refusal::MaybeCut),
        Value::Array(items) => PyVal::List(
            items
                .iter()
                .map(|i| from_json(i, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => {
            let mut out = Vec::with_capacity(m.len());
            for (k, val) in m {
                if key_is_ambiguous(k) {
                    return Err(Refusal::AmbiguousKey(k.clone()));
                }
                out.push((PyVal::Str(k.clone()), from_json(val, depth + 1)?));
            }
            PyVal::Dict(out)
        }
    })
}

/// A plain JSON value (a request body, not reprs) as the equivalent Python value.
pub fn from_plain_json(v: &Value) -> PyVal {
    plain(v, 0)
}

fn plain(v: &Value, depth: usize) -> PyVal {
    if depth > MAX_DEPTH {
        return PyVal::None;
    }
    match v {
        Value::Null => PyVal::None,
        Value::Bool(b) => PyVal::Bool(*b),
        Value::Number(n) => number_from_json(n).unwrap_or_else(|_| PyVal::Str(n.to_string())),
        Value::String(s) => PyVal::Str(s.clone()),
        Value::Array(items) => PyVal::List(items.iter().map(|i| plain(i, depth + 1)).collect()),
        Value::Object(m) => PyVal::Dict(
            m.iter()
                .map(|(k, v)| (PyVal::Str(k.clone()), plain(v, depth + 1)))
                .collect(),
        ),
    }
}

fn number_from_json(n: &serde_json::Number) -> Result<PyVal, Refusal> {
    let s = n.to_string();
    if is_int_literal(&s) {
        Ok(PyVal::Int(s))
    } else if is_float_literal(&s) {
        Ok(PyVal::Float(s))
    } else {
        Err(Refusal::Unparsable)
    }
}

/// `str(key)` of an int, float, bool or None key looks like this: we cannot tell it from a str key.
fn key_is_ambiguous(k: &str) -> bool {
    matches!(k, "None" | "True" | "False") || is_int_literal(k) || is_float_literal(k)
}

fn meta_has_notes(m: &Value) -> bool {
    match m {
        Value::Object(o) => o.iter().any(|(k, v)| {
            if k.is_empty() {
                v.get("len").is_some() || v.get("rem").is_some() || v.get("err").is_some()
            } else {
                meta_has_notes(v)
            }
        }),
        _ => false,
    }
}

fn meta_is_filter(m: &Value) -> bool {
    m.get("")
        .and_then(|n| n.get("rem"))
        .map(|r| r.to_string().contains("!config") || r.to_string().contains("filter"))
        .unwrap_or(false)
}

fn is_int_literal(s: &str) -> bool {
    let d = s.strip_prefix('-').unwrap_or(s);
    !d.is_empty()
        && d.len() <= 4300
        && d.bytes().all(|b| b.is_ascii_digit())
        && (d == "0" || !d.starts_with('0'))
}

fn is_float_literal(s: &str) -> bool {
    let d = s.strip_prefix('-').unwrap_or(s);
    let (mant, exp) = match d.find(['e', 'E']) {
        Some(i) => (&d[..i], Some(&d[i + 1..])),
        None => (d, None),
    };
    let mant_ok = match mant.split_once('.') {
        Some((a, b)) => {
            (!a.is_empty() || !b.is_empty())
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => !mant.is_empty() && mant.bytes().all(|c| c.is_ascii_digit()),
    };
    let exp_ok = match exp {
        None => mant.contains('.'),
        Some(e) => {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && e.len() <= 5 && e.bytes().all(|c| c.is_ascii_digit())
        }
    };
    // Python rejects `01.5`? No: leading zeros are fine in floats. Length bound keeps output sane.
    mant_ok && exp_ok && d.len() <= 400
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

type PResult<T> = Result<T, ()>;
type CallArgs = (Vec<PyVal>, Vec<(String, PyVal)>);

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> PResult<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(())
        }
    }

    fn value(&mut self, depth: usize) -> PResult<PyVal> {
        if depth > MAX_DEPTH {
            return Err(());
        }
        self.ws();
        let c = self.peek().ok_or(())?;
        match c {
            b'\'' | b'"' => Ok(PyVal::Str(self.string()?)),
            b'b' if matches!(self.s.get(self.i + 1), Some(b'\'' | b'"')) => {
                self.i += 1;
                Ok(PyVal::Bytes(self.bytes_lit()?))
            }
            b'[' => {
                self.i += 1;
                let (items, _) = self.seq(b']', depth)?;
                Ok(PyVal::List(items))
            }
            b'(' => {
                self.i += 1;
                let (items, trailing) = self.seq(b')', depth)?;
                if items.len() == 1 && !trailing {
                    // parenthesized expression
                    Ok(items.into_iter().next().unwrap_or(PyVal::None))
                } else {
                    Ok(PyVal::Tuple(items))
                }
            }
            b'{' => {
                self.i += 1;
                self.dict_or_set(depth)
            }
            b'-' | b'0'..=b'9' | b'.' => self.number(),
            b'<' => self.enum_member(depth),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let name = self.dotted()?;
                if name.len() == 1 {
                    match name[0].as_str() {
                        "None" => return Ok(PyVal::None),
                        "True" => return Ok(PyVal::Bool(true)),
                        "False" => return Ok(PyVal::Bool(false)),
                        "inf" => return Ok(PyVal::FloatSpecial("inf")),
                        "nan" => return Ok(PyVal::FloatSpecial("nan")),
                        _ => {}
                    }
                }
                if self.eat(b'(') {
                    let (args, kwargs) = self.call_args(depth)?;
                    Ok(PyVal::Call {
                        func: name,
                        args,
                        kwargs,
                    })
                } else {
                    Ok(PyVal::Name(name))
                }
            }
            _ => Err(()),
        }
    }

    /// `<Class.MEMBER: value>` (the value is parsed, then dropped: the member name says it all).
    fn enum_member(&mut self, depth: usize) -> PResult<PyVal> {
        self.i += 1;
        let name = self.dotted()?;
        let [class, member] = <[String; 2]>::try_from(name).map_err(|_| ())?;
        self.expect(b':')?;
        self.value(depth + 1)?;
        self.expect(b'>')?;
        Ok(PyVal::EnumMember { class, member })
    }

    fn ident(&mut self) -> PResult<String> {
        self.ws();
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        if start == self.i || self.s[start].is_ascii_digit() {
            return Err(());
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn dotted(&mut self) -> PResult<Vec<String>> {
        let mut parts = vec![self.ident()?];
        while self.peek() == Some(b'.') {
            self.i += 1;
            parts.push(self.ident()?);
            if parts.len() > 8 {
                return Err(());
            }
        }
        Ok(parts)
    }

    fn seq(&mut self, close: u8, depth: usize) -> PResult<(Vec<PyVal>, bool)> {
        let mut items = Vec::new();
        let mut trailing = false;
        loop {
            if self.eat(close) {
                return Ok((items, trailing));
            }
            items.push(self.value(depth + 1)?);
            trailing = false;
            if self.eat(b',') {
                trailing = true;
                continue;
            }
            self.expect(close)?;
            return Ok((items, trailing));
        }
    }

    fn dict_or_set(&mut self, depth: usize) -> PResult<PyVal> {
        if self.eat(b'}') {
            return Ok(PyVal::Dict(vec![]));
        }
        let first = self.value(depth + 1)?;
        if self.eat(b':') {
            let v = self.value(depth + 1)?;
            let mut pairs = vec![(first, v)];
            loop {
                if self.eat(b'}') {
                    return Ok(PyVal::Dict(pairs));
                }
                self.expect(b',')?;
                if self.eat(b'}') {
                    return Ok(PyVal::Dict(pairs));
                }
                let k = self.value(depth + 1)?;
                self.expect(b':')?;
                let v = self.value(depth + 1)?;
                pairs.push((k, v));
            }
        }
        let mut items = vec![first];
        loop {
            if self.eat(b'}') {
                return Ok(PyVal::Set(items));
            }
            self.expect(b',')?;
            if self.eat(b'}') {
                return Ok(PyVal::Set(items));
            }
            items.push(self.value(depth + 1)?);
        }
    }

    fn call_args(&mut self, depth: usize) -> PResult<CallArgs> {
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        loop {
            if self.eat(b')') {
                return Ok((args, kwargs));
            }
            // keyword argument?
            self.ws();
            let save = self.i;
            let kw = self.ident().ok().filter(|_| {
                self.ws();
                self.peek() == Some(b'=') && self.s.get(self.i + 1) != Some(&b'=')
            });
            match kw {
                Some(name) => {
                    self.i += 1;
                    kwargs.push((name, self.value(depth + 1)?));
                }
                None => {
                    self.i = save;
                    if !kwargs.is_empty() {
                        return Err(());
                    }
                    args.push(self.value(depth + 1)?);
                }
            }
            if self.eat(b',') {
                continue;
            }
            self.expect(b')')?;
            return Ok((args, kwargs));
        }
    }

    fn number(&mut self) -> PResult<PyVal> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
            self.ws();
            if self.s[self.i..].starts_with(b"inf") {
                self.i += 3;
                return Ok(PyVal::FloatSpecial("-inf"));
            }
        }
        let num_start = self.i;
        while let Some(c) = self.peek() {
            let prev = if self.i > num_start {
                self.s[self.i - 1]
            } else {
                0
            };
            if c.is_ascii_digit()
                || c == b'.'
                || c == b'e'
                || c == b'E'
                || ((c == b'+' || c == b'-') && (prev == b'e' || prev == b'E'))
            {
                self.i += 1;
            } else {
                break;
            }
        }
        let neg = self.s[start] == b'-';
        let body = std::str::from_utf8(&self.s[num_start..self.i]).map_err(|_| ())?;
        let text = if neg {
            format!("-{body}")
        } else {
            body.to_string()
        };
        if matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
            return Err(()); // 1j, 0x10, 1_000: not repr output
        }
        if is_int_literal(&text) {
            Ok(PyVal::Int(text))
        } else if is_float_literal(&text) {
            Ok(PyVal::Float(text))
        } else {
            Err(())
        }
    }

    fn quoted_raw(&mut self) -> PResult<(u8, Vec<u8>)> {
        let q = self.peek().ok_or(())?;
        self.i += 1;
        let start = self.i;
        while let Some(c) = self.peek() {
            if c == b'\\' {
                self.i += 2;
                continue;
            }
            if c == q {
                let body = self.s.get(start..self.i).ok_or(())?.to_vec();
                self.i += 1;
                return Ok((q, body));
            }
            if c == b'\n' || c == b'\r' {
                return Err(());
            }
            self.i += 1;
        }
        Err(())
    }

    fn string(&mut self) -> PResult<String> {
        let (_, body) = self.quoted_raw()?;
        let body = String::from_utf8(body).map_err(|_| ())?;
        let mut out = String::with_capacity(body.len());
        let mut it = body.chars().peekable();
        while let Some(c) = it.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            let e = it.next().ok_or(())?;
            match e {
                '\\' | '\'' | '"' => out.push(e),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'v' => out.push('\u{b}'),
                '0'..='7' => {
                    let mut n = e.to_digit(8).unwrap_or(0);
                    for _ in 0..2 {
                        match it.peek().and_then(|c| c.to_digit(8)) {
                            Some(d) => {
                                n = n * 8 + d;
                                it.next();
                            }
                            None => break,
                        }
                    }
                    out.push(char::from_u32(n).ok_or(())?);
                }
                'x' | 'u' | 'U' => {
                    let len = match e {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = (0..len).filter_map(|_| it.next()).collect();
                    if hex.len() != len {
                        return Err(());
                    }
                    let n = u32::from_str_radix(&hex, 16).map_err(|_| ())?;
                    out.push(char::from_u32(n).ok_or(())?);
                }
                _ => return Err(()),
            }
        }
        Ok(out)
    }

    fn bytes_lit(&mut self) -> PResult<Vec<u8>> {
        let (_, body) = self.quoted_raw()?;
        let mut out = Vec::with_capacity(body.len());
        let mut i = 0;
        while i < body.len() {
            let c = body[i];
            if c >= 0x80 {
                return Err(());
            }
            if c != b'\\' {
                out.push(c);
                i += 1;
                continue;
            }
            let e = *body.get(i + 1).ok_or(())?;
            i += 2;
            match e {
                b'\\' | b'\'' | b'"' => out.push(e),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'x' => {
                    let hex = body.get(i..i + 2).ok_or(())?;
                    let hex = std::str::from_utf8(hex).map_err(|_| ())?;
                    out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
                    i += 2;
                }
                _ => return Err(()),
            }
        }
        Ok(out)
    }
}

/// A dataclass, NamedTuple, pydantic model or enum of the repository that a repr may name.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassInfo {
    /// Importable module (`roombook.models`).
    pub module: String,
    pub name: String,
    /// Fields in declaration order, as the generated `__repr__` prints them (empty for an enum).
    pub fields: Vec<String>,
    /// Member names when the class is an enum.
    pub enum_members: Option<Vec<String>>,
}

/// Looks up a class name used in a repr.
pub trait ClassResolver {
    fn resolve(&self, name: &str) -> Option<ClassInfo>;
    /// Whether the repository's class `sub` inherits (directly or not) from its class `base`.
    fn is_subclass(&self, _sub: &str, _base: &str) -> bool {
        false
    }
    /// The importable module of the repository file that defines class `name`, when one does.
    fn module_of(&self, _name: &str) -> Option<String> {
        None
    }
}

impl ClassResolver for () {
    fn resolve(&self, _: &str) -> Option<ClassInfo> {
        None
    }
}

/// Imports the emitted code needs.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Imports {
    /// `import x` lines (stdlib modules only).
    pub modules: BTreeSet<String>,
    /// `from module import Name` pairs (repository classes).
    pub names: BTreeSet<(String, String)>,
}

/// Stdlib constructors a repr may use, as the repr spells them → (module to import, emitted name).
fn stdlib_call(func: &[String]) -> Option<(&'static str, &'static str)> {
    let f: Vec<&str> = func.iter().map(String::as_str).collect();
    Some(match f.as_slice() {
        ["datetime", "datetime"] => ("datetime", "datetime.datetime"),
        ["datetime", "date"] => ("datetime", "datetime.date"),
        ["datetime", "time"] => ("datetime", "datetime.time"),
        ["datetime", "timedelta"] => ("datetime", "datetime.timedelta"),
        ["datetime", "timezone"] => ("datetime", "datetime.timezone"),
        ["zoneinfo", "ZoneInfo"] => ("zoneinfo", "zoneinfo.ZoneInfo"),
        ["Decimal"] | ["decimal", "Decimal"] => ("decimal", "decimal.Decimal"),
        ["UUID"] | ["uuid", "UUID"] => ("uuid", "uuid.UUID"),
        ["PosixPath"] | ["pathlib", "PosixPath"] => ("pathlib", "pathlib.PosixPath"),
        ["PurePosixPath"] | ["pathlib", "PurePosixPath"] => ("pathlib", "pathlib.PurePosixPath"),
        ["IPv4Address"] | ["ipaddress", "IPv4Address"] => ("ipaddress", "ipaddress.IPv4Address"),
        ["IPv6Address"] | ["ipaddress", "IPv6Address"] => ("ipaddress", "ipaddress.IPv6Address"),
        ["IPv4Network"] | ["ipaddress", "IPv4Network"] => ("ipaddress", "ipaddress.IPv4Network"),
        ["Fraction"] | ["fractions", "Fraction"] => ("fractions", "fractions.Fraction"),
        ["collections", "Counter"] => ("collections", "collections.Counter"),
        ["collections", "OrderedDict"] => ("collections", "collections.OrderedDict"),
        ["collections", "defaultdict"] => ("collections", "collections.defaultdict"),
        ["collections", "deque"] => ("collections", "collections.deque"),
        ["set"] => ("", "set"),
        ["frozenset"] => ("", "frozenset"),
        _ => return None,
    })
}

/// Emit Python source for a value; fails when a call or name is neither allow-listed nor a
/// repository dataclass whose fields match the repr.
pub fn emit(
    v: &PyVal,
    classes: &dyn ClassResolver,
    imports: &mut Imports,
) -> Result<String, Refusal> {
    let mut out = String::new();
    emit_into(v, classes, imports, &mut out, 0)?;
    Ok(out)
}

fn emit_into(
    v: &PyVal,
    classes: &dyn ClassResolver,
    imports: &mut Imports,
    out: &mut String,
    depth: usize,
) -> Result<(), Refusal> {
    if depth > MAX_DEPTH {
        return Err(Refusal::Unparsable);
    }
    let list = |items: &[PyVal], imports: &mut Imports, out: &mut String| -> Result<(), Refusal> {
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            emit_into(it, classes, imports, out, depth + 1)?;
        }
        Ok(())
    };
    match v {
        PyVal::None => out.push_str("None"),
        PyVal::Bool(true) => out.push_str("True"),
        PyVal::Bool(false) => out.push_str("False"),
        PyVal::Int(s) => {
            if !is_int_literal(s) {
                return Err(Refusal::Unparsable);
            }
            out.push_str(s);
        }
        PyVal::Float(s) => {
            if !is_float_literal(s) {
                return Err(Refusal::Unparsable);
            }
            out.push_str(s);
        }
        PyVal::FloatSpecial(s) => {
            out.push_str("float(");
            out.push_str(&py_str(s));
            out.push(')');
        }
        PyVal::Str(s) => out.push_str(&py_str(s)),
        PyVal::Bytes(b) => {
            out.push_str("b\"");
            for &c in b {
                match c {
                    b'"' | b'\\' => {
                        out.push('\\');
                        out.push(c as char);
                    }
                    b' '..=b'~' => out.push(c as char),
                    _ => out.push_str(&format!("\\x{c:02x}")),
                }
            }
            out.push('"');
        }
        PyVal::List(items) => {
            out.push('[');
            list(items, imports, out)?;
            out.push(']');
        }
        PyVal::Tuple(items) => {
            out.push('(');
            list(items, imports, out)?;
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        PyVal::Set(items) => {
            if items.is_empty() {
                out.push_str("set()");
            } else {
                out.push('{');
                list(items, imports, out)?;
                out.push('}');
            }
        }
        PyVal::Dict(pairs) => {
            out.push('{');
            for (i, (k, val)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                emit_into(k, classes, imports, out, depth + 1)?;
                out.push_str(": ");
                emit_into(val, classes, imports, out, depth + 1)?;
            }
            out.push('}');
        }
        PyVal::Name(parts) => {
            let p: Vec<&str> = parts.iter().map(String::as_str).collect();
            match p.as_slice() {
                ["datetime", "timezone", "utc"] => {
                    imports.modules.insert("datetime".into());
                    out.push_str("datetime.timezone.utc");
                }
                _ => return Err(Refusal::UnknownCall(parts.join("."))),
            }
        }
        PyVal::Builtin(b) => {
            if !matches!(*b, "int" | "float" | "str" | "list" | "set" | "dict") {
                return Err(Refusal::UnknownCall((*b).to_string()));
            }
            out.push_str(b);
        }
        PyVal::EnumMember { class, member } => {
            let info = classes
                .resolve(class)
                .filter(|i| {
                    i.name == *class
                        && is_py_ident(&i.name)
                        && is_py_ident(member)
                        && i.module.split('.').all(is_py_ident)
                        && i.enum_members.as_ref().is_some_and(|m| m.contains(member))
                })
                .ok_or_else(|| Refusal::UnknownCall(format!("{class}.{member}")))?;
            imports
                .names
                .insert((info.module.clone(), info.name.clone()));
            out.push_str(&info.name);
            out.push('.');
            out.push_str(member);
        }
        PyVal::Call { func, args, kwargs } => {
            if let Some((module, emitted)) = stdlib_call(func) {
                if !module.is_empty() {
                    imports.modules.insert(module.into());
                }
                out.push_str(emitted);
            } else if func.len() == 1 && is_py_ident(&func[0]) {
                let info = classes
                    .resolve(&func[0])
                    .ok_or_else(|| Refusal::UnknownCall(func[0].clone()))?;
                let names: Vec<&str> = kwargs.iter().map(|(k, _)| k.as_str()).collect();
                let fields: Vec<&str> = info.fields.iter().map(String::as_str).collect();
                if !args.is_empty()
                    || info.enum_members.is_some()
                    || names != fields
                    || !is_py_ident(&info.name)
                    || info.name != func[0]
                {
                    return Err(Refusal::UnknownCall(func[0].clone()));
                }
                if !info.module.split('.').all(is_py_ident) {
                    return Err(Refusal::UnknownCall(func[0].clone()));
                }
                imports
                    .names
                    .insert((info.module.clone(), info.name.clone()));
                out.push_str(&info.name);
            } else {
                return Err(Refusal::UnknownCall(func.join(".")));
            }
            out.push('(');
            list(args, imports, out)?;
            for (i, (k, val)) in kwargs.iter().enumerate() {
                if !is_py_ident(k) {
                    return Err(Refusal::Unparsable);
                }
                if i > 0 || !args.is_empty() {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                emit_into(val, classes, imports, out, depth + 1)?;
            }
            out.push(')');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rt(s: &str) -> String {
        emit(&parse_repr(s).unwrap(), &(), &mut Imports::default()).unwrap()
    }

    #[test]
    fn builtin_factories_are_placed_never_parsed() {
        // a repr that reads `int` is some object's repr, not the type
        assert!(emit(&parse_repr("int").unwrap(), &(), &mut Imports::default()).is_err());
        let v = PyVal::Call {
            func: vec!["collections".into(), "defaultdict".into()],
            args: vec![
                PyVal::Builtin("list"),
                PyVal::Dict(vec![(PyVal::Str("a".into()), PyVal::List(vec![]))]),
            ],
            kwargs: vec![],
        };
        let mut imp = Imports::default();
        assert_eq!(
            emit(&v, &(), &mut imp).unwrap(),
            "collections.defaultdict(list, {\"a\": []})"
        );
        assert!(imp.modules.contains("collections"));
        assert!(emit(&PyVal::Builtin("exec"), &(), &mut Imports::default()).is_err());
    }

    #[test]
    fn literals() {
        assert_eq!(rt("'abc'"), "\"abc\"");
        assert_eq!(rt("\"it's\""), "\"it's\"");
        assert_eq!(rt("'a\\'b\\n\\x00\\u2028'"), "\"a'b\\n\\x00\\u2028\"");
        assert_eq!(rt("42"), "42");
        assert_eq!(rt("-7"), "-7");
        assert_eq!(rt("1.5"), "1.5");
        assert_eq!(rt("1e+20"), "1e+20");
        assert_eq!(rt("-0.0"), "-0.0");
        assert_eq!(rt("inf"), "float(\"inf\")");
        assert_eq!(rt("-inf"), "float(\"-inf\")");
        assert_eq!(rt("None"), "None");
        assert_eq!(rt("True"), "True");
        assert_eq!(rt("b'\\x00a\"'"), "b\"\\x00a\\\"\"");
    }

    #[test]
    fn containers() {
        assert_eq!(rt("[1, 'a', None]"), "[1, \"a\", None]");
        assert_eq!(rt("(1,)"), "(1,)");
        assert_eq!(rt("()"), "()");
        assert_eq!(rt("{'a': [1, 2], 3: {4}}"), "{\"a\": [1, 2], 3: {4}}");
        assert_eq!(rt("set()"), "set()");
        assert_eq!(rt("frozenset({1, 2})"), "frozenset({1, 2})");
        assert_eq!(rt("{}"), "{}");
    }

    #[test]
    fn datetimes() {
        let mut imp = Imports::default();
        let v = parse_repr("datetime.datetime(2024, 6, 3, 8, 30, tzinfo=datetime.timezone.utc)")
            .unwrap();
        assert_eq!(
            emit(&v, &(), &mut imp).unwrap(),
            "datetime.datetime(2024, 6, 3, 8, 30, tzinfo=datetime.timezone.utc)"
        );
        assert!(imp.modules.contains("datetime"));
        assert_eq!(
            rt("datetime.timezone(datetime.timedelta(days=-1, seconds=68400))"),
            "datetime.timezone(datetime.timedelta(days=-1, seconds=68400))"
        );
        assert_eq!(rt("Decimal('1.10')"), "decimal.Decimal(\"1.10\")");
        assert_eq!(
            rt("PosixPath('/srv/in.csv')"),
            "pathlib.PosixPath(\"/srv/in.csv\")"
        );
        assert_eq!(
            rt("IPv4Address('10.0.0.1')"),
            "ipaddress.IPv4Address(\"10.0.0.1\")"
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(parse_repr("[Filtered]"), Err(Refusal::Filtered));
        assert_eq!(
            parse_repr("<a.B object at 0x7f00>"),
            Err(Refusal::ObjectRepr)
        );
        assert_eq!(parse_repr("'abcdef..."), Err(Refusal::Truncated));
        assert_eq!(parse_repr("[1, 2, ...]"), Err(Refusal::Truncated));
        assert_eq!(parse_repr("1j"), Err(Refusal::Unparsable));
        assert_eq!(parse_repr("'a' + 'b'"), Err(Refusal::Unparsable));
        assert!(parse_repr("__import__('os').system('x')").is_err());
        // a call parses…
        let v = parse_repr("__import__('os')").unwrap();
        // …but never emits: not allow-listed, not a repository dataclass.
        assert!(emit(&v, &(), &mut Imports::default()).is_err());
        assert!(emit(
            &parse_repr("os.system('x')").unwrap(),
            &(),
            &mut Imports::default()
        )
        .is_err());
        assert!(emit(&parse_repr("eval").unwrap(), &(), &mut Imports::default()).is_err());
    }

    struct One;
    impl ClassResolver for One {
        fn resolve(&self, name: &str) -> Option<ClassInfo> {
            match name {
                "Track" => Some(ClassInfo {
                    module: "tunequeue.models".into(),
                    name: "Track".into(),
                    fields: vec!["title".into(), "duration_s".into()],
                    enum_members: None,
                }),
                "Mood" => Some(ClassInfo {
                    module: "tunequeue.models".into(),
                    name: "Mood".into(),
                    fields: vec![],
                    enum_members: Some(vec!["CALM".into()]),
                }),
                _ => None,
            }
        }
    }

    #[test]
    fn dataclasses() {
        let mut imp = Imports::default();
        let v = parse_repr("[Track(title='a', duration_s=3)]").unwrap();
        assert_eq!(
            emit(&v, &One, &mut imp).unwrap(),
            "[Track(title=\"a\", duration_s=3)]"
        );
        assert!(imp
            .names
            .contains(&("tunequeue.models".into(), "Track".into())));
        // fields must match exactly
        let v = parse_repr("Track(title='a')").unwrap();
        assert!(emit(&v, &One, &mut Imports::default()).is_err());
        let v = parse_repr("Other(title='a')").unwrap();
        assert!(emit(&v, &One, &mut Imports::default()).is_err());
    }

    #[test]
    fn enum_members() {
        let mut imp = Imports::default();
        let v = parse_repr("[<Mood.CALM: 'calm'>, <Mood.CALM: 2>]").unwrap();
        assert_eq!(emit(&v, &One, &mut imp).unwrap(), "[Mood.CALM, Mood.CALM]");
        assert!(imp
            .names
            .contains(&("tunequeue.models".into(), "Mood".into())));
        // unknown member, unknown class, flag combinations, object reprs: refused
        for bad in [
            "<Mood.LOUD: 'loud'>",
            "<Color.RED: 1>",
            "<Mood.CALM|LOUD: 3>",
            "<a.B object at 0x7f00>",
            "<Mood.CALM: 'calm'",
        ] {
            let r = parse_repr(bad).and_then(|v| emit(&v, &One, &mut Imports::default()));
            assert!(r.is_err(), "{bad}");
        }
        assert_eq!(
            parse_repr("<a.B object at 0x7f00>"),
            Err(Refusal::ObjectRepr)
        );
    }

    #[test]
    fn json_vars() {
        let v = json!({"smtp_host": "'smtp.x'", "n": "6", "l": ["'a'", "None"]});
        let p = from_var(&v, None).unwrap();
        assert_eq!(
            emit(&p, &(), &mut Imports::default()).unwrap(),
            "{\"smtp_host\": \"smtp.x\", \"n\": 6, \"l\": [\"a\", None]}"
        );
        assert_eq!(
            from_var(&json!({"5": "0"}), None),
            Err(Refusal::AmbiguousKey("5".into()))
        );
        let meta = json!({"": {"len": 40}});
        assert_eq!(
            from_var(&json!(["1"]), Some(&meta)),
            Err(Refusal::Truncated)
        );
        let meta = json!({"": {"rem": [["!config", "s"]]}});
        assert_eq!(
            from_var(&json!("[Filtered]"), Some(&meta)),
            Err(Refusal::Filtered)
        );
        assert_eq!(
            from_var(&json!({"password": "[Filtered]"}), None),
            Err(Refusal::Filtered)
        );
    }

    #[test]
    fn containers_at_the_sdk_breadth_may_be_cut() {
        let ten: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(from_var(&json!(ten), None), Err(Refusal::MaybeCut));
        assert_eq!(from_var(&json!({"l": ten}), None), Err(Refusal::MaybeCut));
        let nine = &ten[..9];
        assert!(from_var(&json!(nine), None).is_ok());
        // a repr string past the SDK's depth limit is the whole repr: no breadth cut
        assert!(from_var(&json!("[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"), None).is_ok());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowing() {
        let s = "[".repeat(100_000);
        assert!(parse_repr(&s).is_err());
        let mut v = json!("1");
        for _ in 0..200 {
            v = json!([v]);
        }
        assert!(from_var(&v, None).is_err());
    }
}
