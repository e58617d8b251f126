//! Node SDK `vars` → JavaScript literals, or a reason why a value cannot be rebuilt exactly.
//!
//! `@sentry/node`'s LocalVariables integration (only with `includeLocalVariables`) serializes the
//! local scope of in-app frames shallowly: primitives as JSON; `undefined`/`null` as `"<undefined>"`,
//! `"<null>"`; other objects as `"<ClassName>"` (also `"<NaN>"`, `"<Infinity>"`, `"<-0>"`, `"<5n>"`
//! for unserializable numbers); plain objects and arrays one level deep, where nested objects,
//! functions and `undefined` members are *dropped* (objects) or become `null` (arrays). Functions
//! are left out entirely. So: primitives and marker values rebuild exactly; arrays rebuild only when
//! no element is `null`; plain objects never prove complete on their own (`rebuild_members` rebuilds
//! one when the generator has shown that the code reads only members the capture holds). Server-side scrubbing
//! (`[Filtered]`) and trimming (`...`) also make a value unusable.
//!
//! The output is code: it is built only from `render::js_str` string literals, numbers printed by
//! serde_json, and fixed tokens (`null`, `undefined`, `true`, `NaN`, brackets, commas), so event data
//! can never leave a string literal.

use serde_json::Value;

use super::source::Kind;
use crate::render::js_str;

/// Longest literal we inline into a test (a larger captured value is refused).
pub const MAX_LITERAL: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Rebuilt {
    pub code: String,
    pub kind: Kind,
}

/// A top-level variable value (markers apply at this level only).
pub fn rebuild_var(v: &Value) -> Result<Rebuilt, String> {
    let r = match v {
        Value::String(s) if s.starts_with('<') && s.ends_with('>') && s.len() >= 3 => {
            let inner = &s[1..s.len() - 1];
            let (code, kind) = match inner {
                "undefined" => ("undefined".to_string(), Kind::Undef),
                "null" => ("null".to_string(), Kind::Null),
                "NaN" => ("NaN".to_string(), Kind::Num),
                "Infinity" => ("Infinity".to_string(), Kind::Num),
                "-Infinity" => ("-Infinity".to_string(), Kind::Num),
                "-0" => ("-0".to_string(), Kind::Num),
                b if is_bigint(b) => (b.to_string(), Kind::Other),
                other => {
                    return Err(format!(
                        "is an object the SDK only names ({}), its state was not captured",
                        crate::render::comment(&format!("<{}>", truncate(other, 60)))
                    ))
                }
            };
            Rebuilt { code, kind }
        }
        Value::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for (i, it) in items.iter().enumerate() {
                if it.is_null() {
                    return Err(format!(
                        "is an array whose element {i} was sent as null (the SDK sends objects and undefined elements as null)"
                    ));
                }
                parts.push(rebuild_inner(it)?);
            }
            Rebuilt { code: format!("[{}]", parts.join(", ")), kind: Kind::Arr }
        }
        Value::Object(_) => {
            return Err(
                "is an object captured one level deep (nested objects, functions and undefined members are dropped), so it may be incomplete"
                    .into(),
            )
        }
        other => Rebuilt { code: rebuild_inner(other)?, kind: kind_of(other) },
    };
    if r.code.len() > MAX_LITERAL {
        return Err(format!("is too large to inline ({} bytes)", r.code.len()));
    }
    Ok(r)
}

/// Rebuild an object from its captured members when the members are known to be all of it (the
/// destructured fields of a parameter): `fields` are (key, value) pairs.
pub fn rebuild_object(fields: &[(String, Rebuilt)]) -> Rebuilt {
    let parts: Vec<String> = fields
        .iter()
        .filter(|(_, v)| v.kind != Kind::Undef)
        .map(|(k, v)| format!("{}: {}", object_key(k), v.code))
        .collect();
    Rebuilt {
        code: format!("{{ {} }}", parts.join(", ")),
        kind: Kind::Obj,
    }
}

/// A plain object captured one level deep, rebuilt member by member. Only exact when the caller has
/// shown that the code reads nothing but members present here (see `source::member_reads`): the SDK
/// keeps string, number, boolean and null members and drops the rest.
pub fn rebuild_members(obj: &serde_json::Map<String, Value>) -> Result<Rebuilt, String> {
    let mut parts = Vec::with_capacity(obj.len());
    for (k, v) in obj {
        let code = rebuild_inner(v)
            .map_err(|e| format!("member `{}` {e}", crate::render::comment(&truncate(k, 60))))?;
        parts.push(format!("{}: {}", object_key(k), code));
    }
    let code = format!("{{ {} }}", parts.join(", "));
    if code.len() > MAX_LITERAL {
        return Err(format!("is too large to inline ({} bytes)", code.len()));
    }
    Ok(Rebuilt {
        code,
        kind: Kind::Obj,
    })
}

fn object_key(k: &str) -> String {
    // `"__proto__": v` in a literal sets the prototype; a computed key defines an own property.
    if k == "__proto__" {
        format!("[{}]", js_str(k))
    } else {
        js_str(k)
    }
}

/// Nesting accepted inside a captured value (the SDK captures a few levels; a `Value` built in
/// memory can be arbitrarily deep, and this rebuilder recurses).
const MAX_DEPTH: usize = 48;

/// Values nested in arrays/objects: raw JSON, no markers.
fn rebuild_inner(v: &Value) -> Result<String, String> {
    rebuild_at(v, 0)
}

fn rebuild_at(v: &Value, depth: usize) -> Result<String, String> {
    if depth > MAX_DEPTH {
        return Err(format!("is nested more than {MAX_DEPTH} levels deep"));
    }
    Ok(match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            let s = n.to_string();
            if !s
                .bytes()
                .all(|c| c.is_ascii_digit() || b"-+.eE".contains(&c))
            {
                return Err("is a number that does not print as a literal".into());
            }
            s
        }
        Value::String(s) => {
            check_string(s)?;
            js_str(s)
        }
        Value::Array(items) => {
            let parts: Result<Vec<_>, _> = items.iter().map(|i| rebuild_at(i, depth + 1)).collect();
            format!("[{}]", parts?.join(", "))
        }
        Value::Object(m) => {
            let mut parts = Vec::new();
            for (k, v) in m {
                parts.push(format!("{}: {}", object_key(k), rebuild_at(v, depth + 1)?));
            }
            format!("{{ {} }}", parts.join(", "))
        }
    })
}

fn check_string(s: &str) -> Result<(), String> {
    if s.contains("[Filtered]") {
        return Err("was scrubbed by Sentry ([Filtered])".into());
    }
    let n = s.chars().count();
    if n >= 200 && (s.ends_with("...") || s.ends_with('…')) {
        return Err(format!("looks truncated ({n} characters ending in ...)"));
    }
    Ok(())
}

fn is_bigint(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    digits.len() >= 2
        && digits.len() <= 400
        && digits.ends_with('n')
        && digits[..digits.len() - 1]
            .bytes()
            .all(|c| c.is_ascii_digit())
}

fn kind_of(v: &Value) -> Kind {
    match v {
        Value::Null => Kind::Null,
        Value::Bool(_) => Kind::Bool,
        Value::Number(_) => Kind::Num,
        Value::String(_) => Kind::Str,
        Value::Array(_) => Kind::Arr,
        Value::Object(_) => Kind::Obj,
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// A captured value shown in a comment (never code).
pub fn preview(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}…", truncate(&s, 120))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markers_and_primitives() {
        assert_eq!(
            rebuild_var(&json!("<undefined>")).unwrap().code,
            "undefined"
        );
        assert_eq!(rebuild_var(&json!("<null>")).unwrap().kind, Kind::Null);
        assert_eq!(rebuild_var(&json!("<-0>")).unwrap().code, "-0");
        assert_eq!(rebuild_var(&json!("<12n>")).unwrap().code, "12n");
        assert_eq!(
            rebuild_var(&json!("120.442.10")).unwrap().code,
            "\"120.442.10\""
        );
        assert_eq!(rebuild_var(&json!(1.5)).unwrap().code, "1.5");
        assert_eq!(
            rebuild_var(&json!([1, "a", true])).unwrap().code,
            "[1, \"a\", true]"
        );
        assert!(rebuild_var(&json!("<IncomingMessage>")).is_err());
        assert!(rebuild_var(&json!({"a": 1})).is_err());
        assert!(rebuild_var(&json!([1, null])).is_err());
        assert!(rebuild_var(&json!("[Filtered]")).is_err());
        assert!(rebuild_var(&json!(format!("{}...", "x".repeat(300)))).is_err());
        assert!(rebuild_var(&json!("x".repeat(MAX_LITERAL + 1))).is_err());
    }

    #[test]
    fn captured_members() {
        let m = json!({"id": "ord_1", "w": 2350, "express": true, "note": null});
        let r = rebuild_members(m.as_object().unwrap()).unwrap();
        assert_eq!(r.kind, Kind::Obj);
        assert_eq!(
            r.code,
            "{ \"id\": \"ord_1\", \"w\": 2350, \"express\": true, \"note\": null }"
        );
        let scrubbed = json!({"card": "[Filtered]"});
        assert!(rebuild_members(scrubbed.as_object().unwrap()).is_err());
        let proto = json!({"__proto__": "x"});
        assert!(rebuild_members(proto.as_object().unwrap())
            .unwrap()
            .code
            .starts_with("{ [\"__proto__\"]"));
    }

    #[test]
    fn hostile_strings_stay_literals() {
        let r = rebuild_var(&json!(
            "\"; require('fs').writeFileSync('x','');//\u{2028}`${1}`"
        ))
        .unwrap();
        assert!(r.code.is_ascii() && !r.code.contains('`') && !r.code.contains("${"));
        let o = rebuild_object(&[("__proto__".into(), r.clone()), ("a\"b".into(), r)]);
        assert!(o.code.starts_with("{ [\"__proto__\"]: "));
    }
}
