//! The Java project's own test framework and source level, read from its build files and tests.
//!
//! A repro test only helps if it compiles in the project as it is: much Java code that Sentry users
//! run tests with JUnit 4, JUnit 3 (`extends TestCase`) or TestNG, not JUnit 5. So:
//! - the build file says which frameworks are on the test classpath: Maven `pom.xml` dependencies
//!   (versions from `<properties>`, or from the root pom's `dependencyManagement` when a module
//!   leaves them out, JUnit 4 when nothing says; JUnit `3.x` is JUnit 3) and
//!   Gradle `build.gradle(.kts)` (`junit:junit:4.13.2`, `useTestNG()`, `useJUnitPlatform()`);
//! - the existing tests say which style the project writes (`org.junit.jupiter`, `org.junit.Test`,
//!   `junit.framework.TestCase`, `org.testng.annotations`);
//! - the style wins when the build has it (JUnit 3 style also runs on JUnit 4), else the build's
//!   newest framework, else JUnit 5.
//!
//! Source levels below 7 (`<source>1.5</source>`) are reported, not fixed: JDK 17's javac rejects
//! them, and the build file is the user's. Moved source trees (`<sourceDirectory>src/java`, as old
//! Apache Commons poms have) are read too, so the crash maps and the test lands where Maven looks.

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::repo::Snapshot;

/// A test framework the generated test can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TestFramework {
    Junit3,
    Junit4,
    TestNg,
    Junit5,
}

impl TestFramework {
    /// The contract's `framework` value.
    pub fn as_str(self) -> &'static str {
        match self {
            TestFramework::Junit3 => "junit3",
            TestFramework::Junit4 => "junit4",
            TestFramework::TestNg => "testng",
            TestFramework::Junit5 => "junit5",
        }
    }
}

/// What the build files of one module (and the root) declare.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BuildFacts {
    /// Frameworks on the test classpath.
    pub frameworks: Vec<TestFramework>,
    /// The lowest `source`/`target`/`release` level set, as written (`1.5`, `8`).
    pub source_level: Option<String>,
    /// `junit:junit` without a version (a parent's `dependencyManagement` sets it).
    unversioned_junit: bool,
    /// `<build><sourceDirectory>` when the pom moves it (`src/java`), relative to the module.
    pub source_dir: Option<String>,
    /// `<build><testSourceDirectory>` when the pom moves it (`src/test`), relative to the module.
    pub test_source_dir: Option<String>,
}

/// A build directory as the pom writes it, relative to the module: `${basedir}/src/java` → `src/java`.
fn relative_dir(value: &str) -> Option<String> {
    let v = value.trim();
    let v = ["${basedir}/", "${project.basedir}/"]
        .iter()
        .find_map(|p| v.strip_prefix(p))
        .unwrap_or(v)
        .trim_end_matches('/');
    let ok = !v.is_empty()
        && !v.starts_with('/')
        && v.split('/')
            .all(|s| !s.is_empty() && s != ".." && s != "." && !s.contains('$'));
    ok.then(|| v.to_string())
}

/// One `<dependency>` or Gradle coordinate.
struct Dep {
    group: String,
    artifact: String,
    version: String,
}

fn framework_of(dep: &Dep) -> Option<TestFramework> {
    match (dep.group.as_str(), dep.artifact.as_str()) {
        ("junit", "junit") if dep.version.starts_with("3.") => Some(TestFramework::Junit3),
        // Managed elsewhere: decided once all build files are read (see `build_facts`).
        ("junit", "junit") if dep.version.is_empty() => None,
        ("junit", "junit") | ("org.junit.vintage", _) => Some(TestFramework::Junit4),
        ("org.testng", "testng") => Some(TestFramework::TestNg),
        ("org.junit.jupiter", _) | ("org.springframework.boot", "spring-boot-starter-test") => {
            Some(TestFramework::Junit5)
        }
        _ => None,
    }
}

/// Dependencies (incl. `dependencyManagement`), properties and compiler levels of a `pom.xml`.
fn read_pom(text: &str, facts: &mut BuildFacts) {
    let mut reader = Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut props: Vec<(String, String)> = Vec::new();
    let mut deps: Vec<Dep> = Vec::new();
    let mut levels: Vec<String> = Vec::new();
    let mut cur = Dep {
        group: String::new(),
        artifact: String::new(),
        version: String::new(),
    };
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned())
            }
            Ok(Event::End(_)) => {
                if path.last().is_some_and(|t| t == "dependency") {
                    deps.push(std::mem::replace(
                        &mut cur,
                        Dep {
                            group: String::new(),
                            artifact: String::new(),
                            version: String::new(),
                        },
                    ));
                }
                path.pop();
            }
            Ok(Event::Text(t)) => {
                let Ok(value) = t.decode() else { continue };
                let value = value.trim().to_string();
                let n = path.len();
                let (Some(tag), parent) = (path.last(), n.checked_sub(2).map(|i| &path[i])) else {
                    continue;
                };
                match (parent.map(String::as_str), tag.as_str()) {
                    (Some("dependency"), "groupId") => cur.group = value,
                    (Some("dependency"), "artifactId") => cur.artifact = value,
                    (Some("dependency"), "version") => cur.version = value,
                    (Some("properties"), name) => {
                        if matches!(
                            name,
                            "maven.compiler.source"
                                | "maven.compiler.target"
                                | "maven.compiler.release"
                                // Apache Commons parents read these.
                                | "maven.compile.source"
                                | "maven.compile.target"
                        ) {
                            levels.push(value.clone());
                        }
                        props.push((name.to_string(), value));
                    }
                    (Some("build"), "sourceDirectory") => facts.source_dir = relative_dir(&value),
                    (Some("build"), "testSourceDirectory") => {
                        facts.test_source_dir = relative_dir(&value)
                    }
                    (Some("configuration"), "source" | "target" | "release") => levels.push(value),
                    _ => {}
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    let resolve = |v: &str| {
        v.strip_prefix("${")
            .and_then(|r| r.strip_suffix('}'))
            .and_then(|name| props.iter().find(|(k, _)| k == name))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| v.to_string())
    };
    for mut d in deps {
        d.version = resolve(&d.version);
        facts.unversioned_junit |=
            d.group == "junit" && d.artifact == "junit" && d.version.is_empty();
        facts.frameworks.extend(framework_of(&d));
    }
    for l in levels {
        note_level(facts, &resolve(&l));
    }
}

/// Coordinates and levels of a Gradle build script (Groovy or Kotlin DSL).
fn read_gradle(text: &str, facts: &mut BuildFacts) {
    let coord = regex::Regex::new(r#"["']([\w.\-]+):([\w.\-]+)(?::([\w.\-+]+))?["']"#).unwrap();
    for c in coord.captures_iter(text) {
        let d = Dep {
            group: c[1].to_string(),
            artifact: c[2].to_string(),
            version: c.get(3).map(|m| m.as_str().to_string()).unwrap_or_default(),
        };
        facts.frameworks.extend(framework_of(&d));
    }
    if text.contains("useTestNG") {
        facts.frameworks.push(TestFramework::TestNg);
    }
    if text.contains("useJUnitPlatform") {
        facts.frameworks.push(TestFramework::Junit5);
    }
    let level = regex::Regex::new(
        r#"(?:sourceCompatibility|targetCompatibility)\s*=\s*(?:JavaVersion\.VERSION_)?['"]?([\d._]+)"#,
    )
    .unwrap();
    for c in level.captures_iter(text) {
        note_level(facts, &c[1].replace('_', "."));
    }
}

/// Keep the lowest level seen.
fn note_level(facts: &mut BuildFacts, level: &str) {
    let Some(n) = level_number(level) else { return };
    if facts
        .source_level
        .as_deref()
        .and_then(level_number)
        .is_none_or(|old| n < old)
    {
        facts.source_level = Some(level.to_string());
    }
}

/// `1.5` → 5, `8` → 8, `17` → 17.
fn level_number(level: &str) -> Option<u32> {
    let l = level.trim();
    let major = l.strip_prefix("1.").unwrap_or(l);
    major.split('.').next()?.parse().ok()
}

/// The build facts of `root` (a module folder, `""` at the top) and the repository root.
pub fn build_facts(snap: &Snapshot, root: &str) -> BuildFacts {
    let mut facts = BuildFacts::default();
    let mut dirs = vec![String::new()];
    if !root.is_empty() {
        dirs.push(format!("{root}/"));
    }
    for dir in dirs {
        if let Some(t) = snap.read(&format!("{dir}pom.xml")) {
            read_pom(&t, &mut facts);
        }
        for f in ["build.gradle", "build.gradle.kts"] {
            if let Some(t) = snap.read(&format!("{dir}{f}")) {
                read_gradle(&t, &mut facts);
            }
        }
    }
    // A versionless junit:junit is JUnit 4 unless the managed version read here is 3.x.
    let junit = [TestFramework::Junit3, TestFramework::Junit4];
    if facts.unversioned_junit && !junit.iter().any(|f| facts.frameworks.contains(f)) {
        facts.frameworks.push(TestFramework::Junit4);
    }
    facts.frameworks.sort();
    facts.frameworks.dedup();
    facts
}

/// The style the existing tests are written in: the framework most of them import.
pub fn test_style(snap: &Snapshot, root: &str) -> Option<TestFramework> {
    let base = if root.is_empty() {
        "src/test/java".to_string()
    } else {
        format!("{root}/src/test/java")
    };
    let mut counts = [0usize; 4];
    let mut stack = vec![base];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for (name, is_dir) in snap.list_dir(&dir) {
            let p = format!("{dir}/{name}");
            if is_dir {
                stack.push(p);
            } else if name.ends_with(".java") && seen < 200 {
                seen += 1;
                if let Some(f) = snap.read(&p).as_deref().and_then(style_of) {
                    counts[f as usize] += 1;
                }
            }
        }
    }
    let (i, n) = counts.iter().enumerate().max_by_key(|(i, n)| (**n, *i))?;
    (*n > 0).then(|| ALL[i])
}

const ALL: [TestFramework; 4] = [
    TestFramework::Junit3,
    TestFramework::Junit4,
    TestFramework::TestNg,
    TestFramework::Junit5,
];

/// The framework one test file is written in, from its imports.
fn style_of(text: &str) -> Option<TestFramework> {
    if text.contains("org.junit.jupiter") {
        Some(TestFramework::Junit5)
    } else if text.contains("org.testng") {
        Some(TestFramework::TestNg)
    } else if text.contains("import org.junit.") {
        Some(TestFramework::Junit4)
    } else if text.contains("junit.framework.") || text.contains("extends TestCase") {
        Some(TestFramework::Junit3)
    } else {
        None
    }
}

/// The framework to write the repro test in (see the module doc).
pub fn choose(facts: &BuildFacts, style: Option<TestFramework>) -> TestFramework {
    let has = |f| facts.frameworks.contains(&f);
    match style {
        Some(s) if has(s) || facts.frameworks.is_empty() => s,
        Some(TestFramework::Junit3) if has(TestFramework::Junit4) => TestFramework::Junit3,
        _ => facts
            .frameworks
            .last()
            .copied()
            .unwrap_or(TestFramework::Junit5),
    }
}

/// Why the build cannot compile on JDK 17, when its source level says so.
pub fn old_level_warning(facts: &BuildFacts) -> Option<String> {
    let level = facts.source_level.as_deref()?;
    (level_number(level)? < 7).then(|| {
        format!(
            "the build sets Java source/target level {level}: JDK 17's javac rejects levels below 7 \
             (\"Source option {} is no longer supported\"), so nothing compiles, this test included, \
             until the build file asks for 7 or later (the build is yours to change)",
            level.strip_prefix("1.").unwrap_or(level)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use TestFramework::*;

    fn pom(deps: &str, extra: &str) -> BuildFacts {
        let mut f = BuildFacts::default();
        read_pom(
            &format!("<project><properties><junit.version>3.8.1</junit.version>{extra}</properties><dependencies>{deps}</dependencies></project>"),
            &mut f,
        );
        f
    }

    #[test]
    fn pom_frameworks() {
        let d = |g: &str, a: &str, v: &str| {
            format!(
                "<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>{v}</dependency>"
            )
        };
        let f = pom(&d("junit", "junit", "<version>4.13.2</version>"), "");
        assert_eq!(f.frameworks, vec![Junit4]);
        let f = pom(
            &d("junit", "junit", "<version>${junit.version}</version>"),
            "",
        );
        assert_eq!(f.frameworks, vec![Junit3]);
        // Version managed by a parent: decided by `build_facts` (JUnit 4 unless the parent says 3.x).
        let f = pom(&d("junit", "junit", ""), "");
        assert!(f.unversioned_junit && f.frameworks.is_empty());
        let f = pom(&d("org.testng", "testng", "<version>7.10.2</version>"), "");
        assert_eq!(f.frameworks, vec![TestNg]);
        let f = pom(&d("org.junit.jupiter", "junit-jupiter-api", ""), "");
        assert_eq!(f.frameworks, vec![Junit5]);
        let f = pom("", "<maven.compiler.source>1.5</maven.compiler.source>");
        assert_eq!(f.source_level.as_deref(), Some("1.5"));
        assert!(old_level_warning(&f).unwrap().contains("below 7"));
        let f = pom("", "<maven.compile.source>1.5</maven.compile.source>");
        assert_eq!(f.source_level.as_deref(), Some("1.5"));
        let mut f = BuildFacts::default();
        read_pom("<project><build><sourceDirectory>${basedir}/src/java</sourceDirectory><testSourceDirectory>src/test/</testSourceDirectory></build></project>", &mut f);
        assert_eq!(f.source_dir.as_deref(), Some("src/java"));
        assert_eq!(f.test_source_dir.as_deref(), Some("src/test"));
        assert_eq!(relative_dir("../outside"), None);
        assert_eq!(relative_dir("/abs"), None);
        let f = pom("", "<maven.compiler.release>17</maven.compiler.release>");
        assert_eq!(old_level_warning(&f), None);
        // Plugin configuration, lowest level kept.
        let mut f = BuildFacts::default();
        read_pom("<project><build><plugins><plugin><configuration><source>1.6</source><target>1.8</target></configuration></plugin></plugins></build></project>", &mut f);
        assert_eq!(f.source_level.as_deref(), Some("1.6"));
    }

    #[test]
    fn gradle_frameworks() {
        let mut f = BuildFacts::default();
        read_gradle(
            "dependencies { testImplementation 'junit:junit:4.13.2' }\nsourceCompatibility = 1.6\n",
            &mut f,
        );
        assert_eq!(f.frameworks, vec![Junit4]);
        assert_eq!(f.source_level.as_deref(), Some("1.6"));
        let mut f = BuildFacts::default();
        read_gradle("dependencies { testImplementation(\"org.testng:testng:7.10.2\") }\ntest { useTestNG() }\nsourceCompatibility = JavaVersion.VERSION_17", &mut f);
        assert!(f.frameworks.contains(&TestNg));
        assert_eq!(old_level_warning(&f), None);
    }

    #[test]
    fn style_and_choice() {
        assert_eq!(style_of("import org.junit.Test;"), Some(Junit4));
        assert_eq!(style_of("import junit.framework.TestCase;"), Some(Junit3));
        assert_eq!(
            style_of("import org.testng.annotations.Test;"),
            Some(TestNg)
        );
        assert_eq!(style_of("import org.junit.jupiter.api.Test;"), Some(Junit5));
        let facts = |v: Vec<TestFramework>| BuildFacts {
            frameworks: v,
            ..Default::default()
        };
        assert_eq!(choose(&facts(vec![Junit4]), Some(Junit3)), Junit3);
        assert_eq!(choose(&facts(vec![Junit4, Junit5]), Some(Junit4)), Junit4);
        assert_eq!(choose(&facts(vec![Junit4, Junit5]), None), Junit5);
        assert_eq!(choose(&facts(vec![Junit3]), Some(Junit4)), Junit3);
        assert_eq!(choose(&facts(vec![]), Some(TestNg)), TestNg);
        assert_eq!(choose(&facts(vec![]), None), Junit5);
    }
}
