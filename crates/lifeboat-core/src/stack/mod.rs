//! A stack is a folder with a compose file. This module reads it the way `docker compose`
//! does: which files, in which order, with which variables, and what each service mounts.
//!
//! Loading follows compose's own order: find the files (`-f` in order, else `COMPOSE_FILE`,
//! else the first of `compose.yaml`, `compose.yml`, `docker-compose.yaml`,
//! `docker-compose.yml` plus its `.override` twin); parse each (anchors and `<<` merge keys);
//! interpolate every value with `.env` and the environment; bring in `include:`d files with
//! their own folders; merge the files; resolve `extends:`. Everything compose would only
//! complain about becomes a [`Warning`]; only what makes the stack unreadable is an error.

mod envfile;
mod interpolate;
mod kind;
mod merge;
mod model;
mod paths;

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use serde_norway::{Mapping, Value};

pub use envfile::{parse as parse_env, EnvEntry, EnvSyntaxError};
pub use interpolate::{interpolate, Issue};
pub use kind::{kind_from_image, ServiceKind};
pub use model::{EnvFileRef, Mount, MountType, Service, VolumeDef};
pub use paths::{git_ignores, is_system_path, is_whole_system};

use crate::warning::{Warning, WarningCode};

/// The compose file names `docker compose` looks for, in its order of preference.
pub const COMPOSE_FILE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// Why a stack could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StackError {
    /// The folder does not exist or is not a folder.
    #[error("{dir} is not a folder: choose the folder that holds your compose file")]
    NotAFolder {
        /// The path given.
        dir: PathBuf,
    },
    /// No compose file in the folder.
    #[error(
        "no compose file in {dir}: expected one of compose.yaml, compose.yml, \
         docker-compose.yaml or docker-compose.yml (or name one with -f)"
    )]
    NoComposeFile {
        /// The folder searched.
        dir: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A compose file is not valid YAML.
    #[error("{path}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The 1-based line, when the parser knows it.
        line: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// A compose file is YAML but not a compose file (wrong shape).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An env file has a line compose cannot read.
    #[error("{path} line {line}: {reason}")]
    EnvFile {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// How to load a stack.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Compose files to use instead of discovery, in order (like repeated `-f`). Relative
    /// paths are taken relative to the stack folder.
    pub files: Vec<PathBuf>,
    /// Let the process environment override `.env`, as compose does. The desktop app and
    /// the CLI do; tests turn it off to be independent of the machine.
    pub use_process_env: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            files: Vec::new(),
            use_process_env: true,
        }
    }
}

/// A loaded compose project.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project name (`-p`-less: `COMPOSE_PROJECT_NAME`, `name:`, or the folder's name).
    pub name: String,
    /// The stack folder (canonical).
    pub dir: PathBuf,
    /// The compose files read, in order (included files last).
    pub compose_files: Vec<PathBuf>,
    /// The `.env` of the stack folder, when there is one.
    pub dotenv: Option<PathBuf>,
    /// Every service, whatever its profiles.
    pub services: Vec<Service>,
    /// Top-level named volumes.
    pub volumes: Vec<VolumeDef>,
    /// Files of top-level `secrets:` (`file:`), by name: secrets like env files.
    pub secret_files: Vec<(String, PathBuf)>,
    /// Files of top-level `configs:` (`file:`), by name.
    pub config_files: Vec<(String, PathBuf)>,
    /// Problems found while loading.
    pub warnings: Vec<Warning>,
}

impl Project {
    /// The service named `name`.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }
}

/// Finds the compose files of `dir` as `docker compose` does without `-f`.
///
/// # Errors
/// [`StackError::NoComposeFile`] when there is none.
pub fn discover(dir: &Path) -> Result<Vec<PathBuf>, StackError> {
    for name in COMPOSE_FILE_NAMES {
        let main = dir.join(name);
        if main.is_file() {
            let mut files = vec![main];
            let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
            for ext in ["yaml", "yml"] {
                let over = dir.join(format!("{stem}.override.{ext}"));
                if over.is_file() {
                    files.push(over);
                    break;
                }
            }
            return Ok(files);
        }
    }
    Err(StackError::NoComposeFile {
        dir: dir.to_owned(),
    })
}

/// Loads the stack in `dir`.
///
/// # Errors
/// When the folder or a compose file is missing or unreadable, a compose file is not valid
/// YAML or not shaped like a compose file, or `.env` has a line compose cannot read.
pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Project, StackError> {
    let dir = std::fs::canonicalize(dir)
        .ok()
        .filter(|d| d.is_dir())
        .ok_or_else(|| StackError::NotAFolder {
            dir: dir.to_owned(),
        })?;
    let mut loader = Loader {
        warnings: Vec::new(),
        files_read: Vec::new(),
        unset_seen: BTreeSet::new(),
        use_process_env: opts.use_process_env,
    };

    let dotenv = dir.join(".env");
    let dotenv = dotenv.is_file().then_some(dotenv);
    let env = loader.environment(dotenv.as_deref(), opts.use_process_env)?;

    let files: Vec<PathBuf> = if !opts.files.is_empty() {
        opts.files.iter().map(|f| dir.join(f)).collect()
    } else if let Some(list) = env.get("COMPOSE_FILE").filter(|v| !v.is_empty()) {
        let sep = env
            .get("COMPOSE_PATH_SEPARATOR")
            .cloned()
            .unwrap_or_else(|| ":".into());
        list.split(sep.as_str())
            .filter(|s| !s.is_empty())
            .map(|f| dir.join(f))
            .collect()
    } else {
        discover(&dir)?
    };

    let mut merged = Mapping::new();
    for file in &files {
        let doc = loader.read_compose(file, &env, &dir)?;
        merge::merge_top(&mut merged, doc);
    }
    let services_map = match merged.get("services") {
        Some(Value::Mapping(m)) => m.clone(),
        Some(Value::Null) | None => Mapping::new(),
        Some(_) => {
            return Err(StackError::Invalid {
                path: files[0].clone(),
                message: "`services:` must be a mapping of service names".into(),
            })
        }
    };
    let services_map = loader.resolve_all_extends(services_map, &env, &dir);

    let name = project_name(&env, &merged, &dir);
    let volumes = volume_defs(&merged, &name, &dir);
    let mut services = Vec::new();
    for (key, value) in &services_map {
        let Some(svc_name) = key.as_str() else {
            continue;
        };
        services.push(loader.service(svc_name, value, &dir, &volumes, &name));
    }

    let secret_files = top_level_files(&merged, "secrets", &dir);
    let config_files = top_level_files(&merged, "configs", &dir);
    Ok(Project {
        name,
        dir,
        compose_files: loader.files_read,
        dotenv,
        services,
        volumes,
        secret_files,
        config_files,
        warnings: loader.warnings,
    })
}

/// The `file:` of each entry of a top-level `secrets:` or `configs:` section.
fn top_level_files(doc: &Mapping, section: &str, dir: &Path) -> Vec<(String, PathBuf)> {
    let Some(Value::Mapping(items)) = doc.get(section) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|(k, v)| {
            let file = v.as_mapping()?.get("file").and_then(scalar_string)?;
            Some((scalar_string(k)?, resolve_bind(&file, dir)))
        })
        .collect()
}

/// The local folder a `build:` value builds from: its string, or its `context` (default
/// `.`); none for a Git or HTTP(S) URL.
fn build_context(build: Option<&Value>, dir: &Path) -> Option<PathBuf> {
    let context = match build? {
        Value::String(s) => s.clone(),
        Value::Mapping(m) => m
            .get("context")
            .and_then(scalar_string)
            .unwrap_or_else(|| ".".into()),
        _ => return None,
    };
    let remote = [
        "http://",
        "https://",
        "git://",
        "git@",
        "ssh://",
        "github.com/",
    ]
    .iter()
    .any(|p| context.starts_with(p))
        || context.ends_with(".git");
    (!remote).then(|| resolve_bind(&context, dir))
}

/// Key under which the loader remembers hard-coded secrets found before interpolation.
const HARDCODED_KEY: &str = "x-lifeboat-hardcoded-secrets";

struct Loader {
    warnings: Vec<Warning>,
    files_read: Vec<PathBuf>,
    unset_seen: BTreeSet<String>,
    use_process_env: bool,
}

impl Loader {
    /// `.env` values, overridden by the process environment when asked.
    fn environment(
        &mut self,
        dotenv: Option<&Path>,
        use_process_env: bool,
    ) -> Result<HashMap<String, String>, StackError> {
        let process: HashMap<String, String> = if use_process_env {
            std::env::vars().collect()
        } else {
            HashMap::new()
        };
        let mut env = HashMap::new();
        if let Some(path) = dotenv {
            let text = read_text(path)?;
            let mut issues = Vec::new();
            let entries = envfile::parse(&text, &|k| process.get(k).cloned(), &mut issues)
                .map_err(|e| StackError::EnvFile {
                    path: path.to_owned(),
                    line: e.line,
                    reason: e.reason,
                })?;
            self.note_issues(issues, path);
            for e in entries {
                env.insert(e.key, e.value);
            }
        }
        env.extend(process);
        Ok(env)
    }

    fn note_issues(&mut self, issues: Vec<Issue>, file: &Path) {
        for issue in issues {
            let warning = match issue {
                Issue::Unset(name) => {
                    if !self.unset_seen.insert(name.clone()) {
                        continue;
                    }
                    Warning::new(
                        WarningCode::VariableUnset,
                        format!(
                            "The variable {name} is not set, so compose uses an empty string; \
                             define it in .env if the stack needs it."
                        ),
                    )
                }
                Issue::Required { name, message } => {
                    if !self.unset_seen.insert(name.clone()) {
                        continue;
                    }
                    Warning::new(
                        WarningCode::VariableRequired,
                        format!(
                            "The variable {name} is required but not set ({message}); \
                             docker compose will refuse to start until it is defined in .env."
                        ),
                    )
                }
                Issue::Syntax(text) => Warning::new(
                    WarningCode::VariableSyntax,
                    format!(
                        "Compose cannot read the variable reference {text:?}; check its braces."
                    ),
                ),
            };
            self.warnings.push(warning.path(file));
        }
    }

    /// Reads one compose file: YAML, merge keys, secrets check, interpolation, `include:`.
    /// Relative paths of included files are made absolute, so that after merging every
    /// relative path is relative to the project folder.
    fn read_compose(
        &mut self,
        path: &Path,
        env: &HashMap<String, String>,
        project_dir: &Path,
    ) -> Result<Mapping, StackError> {
        if !path.is_file() {
            return Err(StackError::Read {
                path: path.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        let text = read_text(path)?;
        let mut value: Value = serde_norway::from_str(&text).map_err(|e| StackError::Yaml {
            path: path.to_owned(),
            line: e.location().map(|l| l.line()),
            message: e.to_string(),
        })?;
        if value.is_null() {
            return Err(StackError::Invalid {
                path: path.to_owned(),
                message: "the file is empty: a compose file needs at least `services:`".into(),
            });
        }
        value.apply_merge().map_err(|e| StackError::Yaml {
            path: path.to_owned(),
            line: e.location().map(|l| l.line()),
            message: e.to_string(),
        })?;
        let Value::Mapping(mut doc) = value else {
            return Err(StackError::Invalid {
                path: path.to_owned(),
                message: "the top level must be a mapping (services:, volumes:, …)".into(),
            });
        };
        self.files_read.push(path.to_owned());
        mark_hardcoded_secrets(&mut doc);

        let mut issues = Vec::new();
        let lookup = |k: &str| env.get(k).cloned();
        for (key, v) in doc.iter_mut() {
            // Extension fields are only templates for anchors; compose does not complain about
            // variables in them unless they are used, and by now the anchors are resolved.
            if key.as_str().is_some_and(|k| k.starts_with("x-")) {
                continue;
            }
            interpolate_value(v, &lookup, &mut issues);
        }
        self.note_issues(issues, path);

        if let Some(include) = doc.remove("include") {
            self.include(include, path, project_dir, &mut doc)?;
        }
        Ok(doc)
    }

    fn include(
        &mut self,
        include: Value,
        from: &Path,
        project_dir: &Path,
        doc: &mut Mapping,
    ) -> Result<(), StackError> {
        let base = from.parent().unwrap_or(project_dir).to_owned();
        let Value::Sequence(entries) = include else {
            self.warnings.push(
                Warning::new(
                    WarningCode::ComposeProblem,
                    "`include:` must be a list; it was ignored.",
                )
                .path(from),
            );
            return Ok(());
        };
        for entry in entries {
            let (paths, dir_override, env_files): (Vec<String>, Option<String>, Vec<String>) =
                match &entry {
                    Value::String(s) => (vec![s.clone()], None, Vec::new()),
                    Value::Mapping(m) => (
                        string_list(m.get("path")),
                        m.get("project_directory")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        string_list(m.get("env_file")),
                    ),
                    _ => continue,
                };
            let Some(first) = paths.first() else { continue };
            let first_path = normalize(&base.join(first));
            let inc_dir = dir_override
                .map(|d| normalize(&base.join(d)))
                .unwrap_or_else(|| first_path.parent().unwrap_or(&base).to_owned());
            // The included project reads its own .env (or the env_file given).
            let env_paths: Vec<PathBuf> = if env_files.is_empty() {
                vec![inc_dir.join(".env")]
            } else {
                env_files.iter().map(|f| normalize(&base.join(f))).collect()
            };
            let mut env = HashMap::new();
            for p in env_paths.iter().filter(|p| p.is_file()) {
                env.extend(self.environment(Some(p), self.use_process_env)?);
            }
            // The process environment wins over env files, as in the main project.
            env.extend(self.environment(None, self.use_process_env)?);
            let mut inc_merged = Mapping::new();
            for p in &paths {
                let inc_doc = self.read_compose(&normalize(&base.join(p)), &env, &inc_dir)?;
                merge::merge_top(&mut inc_merged, inc_doc);
            }
            absolutize_services(&mut inc_merged, &inc_dir);
            for section in ["services", "volumes", "networks", "secrets", "configs"] {
                let Some(Value::Mapping(items)) = inc_merged.get(section).cloned() else {
                    continue;
                };
                let target = doc
                    .entry(Value::from(section))
                    .or_insert_with(|| Value::Mapping(Mapping::new()));
                if target.is_null() {
                    *target = Value::Mapping(Mapping::new());
                }
                let Value::Mapping(target) = target else {
                    continue;
                };
                for (k, v) in items {
                    if target.contains_key(&k) {
                        if section == "services" {
                            self.warnings.push(
                                Warning::new(
                                    WarningCode::ComposeProblem,
                                    format!(
                                        "The service {} is defined both in {} and in an included \
                                         file; compose refuses this. Lifeboat uses the first.",
                                        k.as_str().unwrap_or("?"),
                                        from.display()
                                    ),
                                )
                                .path(from),
                            );
                        }
                        continue;
                    }
                    target.insert(k, v);
                }
            }
        }
        Ok(())
    }

    fn resolve_all_extends(
        &mut self,
        services: Mapping,
        env: &HashMap<String, String>,
        project_dir: &Path,
    ) -> Mapping {
        let names: Vec<Value> = services.keys().cloned().collect();
        let mut out = services.clone();
        for name in names {
            let Some(n) = name.as_str() else { continue };
            let mut chain = vec![n.to_owned()];
            let resolved = self.resolve_extends(&services, n, env, project_dir, &mut chain);
            out.insert(name, resolved);
        }
        out
    }

    /// The service `name` of `services` with its `extends:` chain applied.
    fn resolve_extends(
        &mut self,
        services: &Mapping,
        name: &str,
        env: &HashMap<String, String>,
        dir: &Path,
        chain: &mut Vec<String>,
    ) -> Value {
        let Some(service) = services.get(name).cloned() else {
            return Value::Null;
        };
        let Value::Mapping(mut svc) = service else {
            return service;
        };
        let Some(ext) = svc.remove("extends") else {
            return Value::Mapping(svc);
        };
        let (base_name, file) = match &ext {
            Value::String(s) => (s.clone(), None),
            Value::Mapping(m) => (
                m.get("service")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                m.get("file").and_then(Value::as_str).map(str::to_owned),
            ),
            _ => (String::new(), None),
        };
        let problem = |this: &mut Self, msg: String| {
            this.warnings
                .push(Warning::new(WarningCode::ComposeProblem, msg).service(name));
        };
        if base_name.is_empty() {
            problem(
                self,
                format!("The service {name} has an `extends:` without a service name."),
            );
            return Value::Mapping(svc);
        }
        let base = match file {
            Some(file) => {
                let path = normalize(&dir.join(&file));
                let base_dir = path.parent().unwrap_or(dir).to_owned();
                match self.read_compose(&path, env, &base_dir) {
                    Ok(mut doc) => {
                        absolutize_services(&mut doc, &base_dir);
                        let other = match doc.get("services") {
                            Some(Value::Mapping(m)) => m.clone(),
                            _ => Mapping::new(),
                        };
                        let mut other_chain = vec![base_name.clone()];
                        self.resolve_extends(&other, &base_name, env, &base_dir, &mut other_chain)
                    }
                    Err(e) => {
                        problem(self, format!("The service {name} extends {base_name} from {file}, which cannot be read: {e}"));
                        Value::Null
                    }
                }
            }
            None => {
                if chain.contains(&base_name) {
                    problem(
                        self,
                        format!("The `extends:` chain of {name} loops back to {base_name}."),
                    );
                    return Value::Mapping(svc);
                }
                chain.push(base_name.clone());
                let resolved = self.resolve_extends(services, &base_name, env, dir, chain);
                chain.pop();
                resolved
            }
        };
        match base {
            Value::Mapping(mut base) => {
                // A base's dependencies are not inherited (compose spec).
                base.remove("depends_on");
                let mut merged = Value::Mapping(base);
                merge::merge_service(&mut merged, Value::Mapping(svc));
                merged
            }
            _ => {
                problem(
                    self,
                    format!("The service {name} extends {base_name}, which is not defined."),
                );
                Value::Mapping(svc)
            }
        }
    }

    fn service(
        &mut self,
        name: &str,
        value: &Value,
        dir: &Path,
        volumes: &[VolumeDef],
        project: &str,
    ) -> Service {
        let empty = Mapping::new();
        let m = value.as_mapping().unwrap_or(&empty);
        let image = m
            .get("image")
            .and_then(scalar_string)
            .filter(|s| !s.is_empty());
        for (key, what) in [("image", "a text"), ("volumes", "a list")] {
            let Some(v) = m.get(key).filter(|v| !v.is_null()) else {
                continue;
            };
            let fits = match key {
                "image" => scalar_string(v).is_some(),
                _ => v.is_sequence(),
            };
            if !fits {
                self.warnings.push(
                    Warning::new(
                        WarningCode::ComposeProblem,
                        format!("The {key} of {name} is not {what}; it was not read."),
                    )
                    .service(name),
                );
            }
        }
        let mut mounts = Vec::new();
        if let Some(Value::Sequence(vols)) = m.get("volumes") {
            for v in vols {
                match parse_mount(v, dir) {
                    Some(mut mount) => {
                        if mount.kind == MountType::Volume {
                            self.attach_volume(&mut mount, volumes, project, name);
                        }
                        mounts.push(mount);
                    }
                    None => self.warnings.push(
                        Warning::new(
                            WarningCode::ComposeProblem,
                            format!("A volume entry of {name} cannot be read; it was skipped."),
                        )
                        .service(name),
                    ),
                }
            }
        }
        for t in string_list(m.get("tmpfs")) {
            let target = t.split(':').next().unwrap_or(&t).to_owned();
            mounts.push(Mount {
                kind: MountType::Tmpfs,
                source: None,
                target,
                read_only: false,
                host_path: None,
                volume_name: None,
                external: false,
                selinux: None,
            });
        }
        let env_files = match m.get("env_file") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![EnvFileRef {
                path: normalize(&dir.join(s)),
                required: true,
            }],
            Some(Value::Sequence(items)) => items
                .iter()
                .filter_map(|i| match i {
                    Value::String(s) => Some(EnvFileRef {
                        path: normalize(&dir.join(s)),
                        required: true,
                    }),
                    Value::Mapping(e) => Some(EnvFileRef {
                        path: normalize(&dir.join(e.get("path").and_then(Value::as_str)?)),
                        required: e.get("required").and_then(Value::as_bool).unwrap_or(true),
                    }),
                    _ => None,
                })
                .collect(),
            Some(_) => Vec::new(),
        };
        for ef in &env_files {
            if ef.required && !ef.path.is_file() {
                self.warnings.push(
                    Warning::new(
                        WarningCode::EnvFileMissing,
                        format!(
                            "{name} needs the env file {}, which does not exist; docker compose \
                             will refuse to start it.",
                            ef.path.display()
                        ),
                    )
                    .service(name)
                    .path(&ef.path),
                );
            }
        }
        let environment_keys = match m.get("environment") {
            Some(Value::Mapping(env)) => env.keys().filter_map(scalar_string).collect(),
            Some(Value::Sequence(items)) => items
                .iter()
                .filter_map(scalar_string)
                .map(|s| s.split('=').next().unwrap_or_default().to_owned())
                .collect(),
            _ => Vec::new(),
        };
        let hardcoded_secrets = string_list(m.get(HARDCODED_KEY));
        let mut depends_on: Vec<String> = match m.get("depends_on") {
            Some(Value::Mapping(d)) => d.keys().filter_map(scalar_string).collect(),
            other => string_list(other),
        };
        for link in string_list(m.get("links")) {
            depends_on.push(link.split(':').next().unwrap_or_default().to_owned());
        }
        for from in string_list(m.get("volumes_from")) {
            if !from.starts_with("container:") {
                depends_on.push(from.split(':').next().unwrap_or_default().to_owned());
            }
        }
        depends_on.sort();
        depends_on.dedup();
        Service {
            name: name.to_owned(),
            image_kind: image.as_deref().and_then(kind_from_image),
            image,
            build: m.contains_key("build"),
            build_context: build_context(m.get("build"), dir),
            container_name: m.get("container_name").and_then(scalar_string),
            profiles: string_list(m.get("profiles")),
            mounts,
            env_files,
            environment_keys,
            hardcoded_secrets,
            depends_on,
            stop_grace: m
                .get("stop_grace_period")
                .and_then(scalar_string)
                .and_then(|v| parse_duration(&v)),
            pre_backup: m
                .get("labels")
                .map(merge::as_map)
                .and_then(|l| l.get("lifeboat.pre-backup").and_then(scalar_string))
                .filter(|c| !c.trim().is_empty()),
        }
    }

    fn attach_volume(
        &mut self,
        mount: &mut Mount,
        volumes: &[VolumeDef],
        project: &str,
        service: &str,
    ) {
        let Some(key) = mount.source.clone() else {
            return;
        };
        match volumes.iter().find(|v| v.key == key) {
            Some(def) => {
                mount.volume_name = Some(def.name.clone());
                mount.external = def.external;
                if let Some(device) = &def.device {
                    mount.host_path = Some(device.clone());
                }
            }
            None => {
                mount.volume_name = Some(format!("{project}_{key}"));
                self.warnings.push(
                    Warning::new(
                        WarningCode::VolumeUndefined,
                        format!(
                            "{service} uses the volume {key}, which the top-level `volumes:` does \
                             not define; docker compose will refuse to start it."
                        ),
                    )
                    .service(service),
                );
            }
        }
    }
}

fn read_text(path: &Path) -> Result<String, StackError> {
    std::fs::read_to_string(path).map_err(|source| StackError::Read {
        path: path.to_owned(),
        source,
    })
}

fn interpolate_value(
    v: &mut Value,
    lookup: &dyn Fn(&str) -> Option<String>,
    issues: &mut Vec<Issue>,
) {
    match v {
        Value::String(s) => *s = interpolate(s, lookup, issues),
        Value::Sequence(items) => items
            .iter_mut()
            .for_each(|i| interpolate_value(i, lookup, issues)),
        Value::Mapping(m) => m
            .values_mut()
            .for_each(|i| interpolate_value(i, lookup, issues)),
        Value::Tagged(t) => interpolate_value(&mut t.value, lookup, issues),
        _ => {}
    }
}

/// A string, number or bool scalar as a string (compose accepts `PORT: 5432`).
fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A string or list of strings.
fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Sequence(items)) => items.iter().filter_map(scalar_string).collect(),
        Some(other) => scalar_string(other).into_iter().collect(),
        None => Vec::new(),
    }
}

/// Before interpolation, records under a private key of each service the names of
/// `environment:` variables whose value is written literally and looks like a secret.
fn mark_hardcoded_secrets(doc: &mut Mapping) {
    let Some(Value::Mapping(services)) = doc.get_mut("services") else {
        return;
    };
    for (_, svc) in services.iter_mut() {
        let Value::Mapping(svc) = svc else { continue };
        let mut found = Vec::new();
        match svc.get("environment") {
            Some(Value::Mapping(env)) => {
                for (k, v) in env {
                    if let (Some(k), Some(v)) = (scalar_string(k), scalar_string(v)) {
                        if crate::sensitive::literal_secret_value(&k, &v) {
                            found.push(Value::from(k));
                        }
                    }
                }
            }
            Some(Value::Sequence(items)) => {
                for item in items.iter().filter_map(Value::as_str) {
                    if let Some((k, v)) = item.split_once('=') {
                        if crate::sensitive::literal_secret_value(k, v) {
                            found.push(Value::from(k.to_owned()));
                        }
                    }
                }
            }
            _ => {}
        }
        if !found.is_empty() {
            svc.insert(Value::from(HARDCODED_KEY), Value::Sequence(found));
        }
    }
}

/// Rewrites the relative paths of services (bind sources, env files, build contexts) to
/// absolute ones under `dir`, for files whose folder is not the project's.
fn absolutize_services(doc: &mut Mapping, dir: &Path) {
    let abs = |s: &str| normalize(&dir.join(s)).display().to_string();
    for section in ["secrets", "configs"] {
        let Some(Value::Mapping(items)) = doc.get_mut(section) else {
            continue;
        };
        for (_, item) in items.iter_mut() {
            if let Some(Value::String(f)) = item.as_mapping_mut().and_then(|m| m.get_mut("file")) {
                if !f.starts_with('/') && !f.starts_with('~') {
                    *f = abs(f);
                }
            }
        }
    }
    let Some(Value::Mapping(services)) = doc.get_mut("services") else {
        return;
    };
    for (_, svc) in services.iter_mut() {
        let Value::Mapping(svc) = svc else { continue };
        if let Some(Value::Sequence(vols)) = svc.get_mut("volumes") {
            for v in vols.iter_mut() {
                match v {
                    Value::String(s) => {
                        if let Some((src, rest)) = s.split_once(':') {
                            if src.starts_with('.') {
                                *s = format!("{}:{rest}", abs(src));
                            }
                        }
                    }
                    Value::Mapping(m) => {
                        if let Some(Value::String(src)) = m.get_mut("source") {
                            if src.starts_with('.') {
                                *src = abs(src);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        match svc.get_mut("build") {
            Some(Value::String(s)) if s.starts_with('.') => *s = abs(s),
            Some(Value::Mapping(b)) => match b.get_mut("context") {
                Some(Value::String(c)) if c.starts_with('.') => *c = abs(c),
                None => {
                    b.insert(Value::from("context"), Value::from(abs(".")));
                }
                _ => {}
            },
            _ => {}
        }
        match svc.get_mut("env_file") {
            Some(Value::String(s)) => *s = abs(s),
            Some(Value::Sequence(items)) => {
                for i in items.iter_mut() {
                    match i {
                        Value::String(s) => *s = abs(s),
                        Value::Mapping(m) => {
                            if let Some(Value::String(p)) = m.get_mut("path") {
                                *p = abs(p);
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

/// Lexically normalises a path: removes `.`, resolves `..` against earlier components.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Expands `~` and makes a bind source absolute relative to the project folder.
fn resolve_bind(source: &str, dir: &Path) -> PathBuf {
    if source == "~" || source.starts_with("~/") {
        if let Some(home) = dirs::home_dir() {
            return normalize(&home.join(source.trim_start_matches('~').trim_start_matches('/')));
        }
    }
    normalize(&dir.join(source))
}

fn is_path_source(s: &str) -> bool {
    s.starts_with('.')
        || s.starts_with('/')
        || s.starts_with('~')
        || s.contains('/')
        || (s.len() >= 2 && s.as_bytes()[1] == b':' && s.as_bytes()[0].is_ascii_alphabetic())
}

const MOUNT_MODES: [&str; 10] = [
    "ro",
    "rw",
    "z",
    "Z",
    "nocopy",
    "cached",
    "delegated",
    "consistent",
    "shared",
    "rprivate",
];

fn is_mode(s: &str) -> bool {
    !s.is_empty()
        && s.split(',').all(|p| {
            MOUNT_MODES.contains(&p)
                || p.starts_with("rslave")
                || p.starts_with("private")
                || p.starts_with("slave")
                || p.starts_with("rshared")
        })
}

/// Parses one `volumes:` entry of a service, short or long syntax.
fn parse_mount(v: &Value, dir: &Path) -> Option<Mount> {
    let mut mount = Mount {
        kind: MountType::Volume,
        source: None,
        target: String::new(),
        read_only: false,
        host_path: None,
        volume_name: None,
        external: false,
        selinux: None,
    };
    match v {
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            let (source, target, mode) = match parts.as_slice() {
                [t] => (None, *t, None),
                [a, b] if is_mode(b) && a.starts_with('/') => (None, *a, Some(*b)),
                [a, b] => (Some(*a), *b, None),
                [a, b, c] => (Some(*a), *b, Some(*c)),
                // A Windows drive letter in the source (C:\data:/data[:ro]).
                [d, a, b, rest @ ..] if d.len() == 1 => {
                    let src = format!("{d}:{a}");
                    mount.source = Some(src);
                    (None, *b, rest.first().copied())
                }
                _ => return None,
            };
            if let Some(src) = source {
                mount.source = Some(src.to_owned());
            }
            mount.target = target.to_owned();
            if let Some(mode) = mode {
                for m in mode.split(',') {
                    match m {
                        "ro" => mount.read_only = true,
                        "z" | "Z" => mount.selinux = Some(m.to_owned()),
                        _ => {}
                    }
                }
            }
            if let Some(src) = mount.source.clone() {
                if is_path_source(&src) {
                    mount.kind = MountType::Bind;
                    mount.host_path = Some(resolve_bind(&src, dir));
                }
            }
        }
        Value::Mapping(m) => {
            let kind = m.get("type").and_then(Value::as_str).unwrap_or("volume");
            mount.kind = match kind {
                "bind" => MountType::Bind,
                "volume" => MountType::Volume,
                "tmpfs" => MountType::Tmpfs,
                _ => MountType::Other,
            };
            mount.source = m
                .get("source")
                .and_then(scalar_string)
                .filter(|s| !s.is_empty());
            mount.target = m.get("target").and_then(scalar_string)?;
            mount.read_only = m.get("read_only").and_then(Value::as_bool).unwrap_or(false);
            mount.selinux = m
                .get("bind")
                .and_then(|b| b.get("selinux"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            if mount.kind == MountType::Bind {
                mount.host_path = mount.source.as_deref().map(|s| resolve_bind(s, dir));
            }
        }
        _ => return None,
    }
    (!mount.target.is_empty()).then_some(mount)
}

fn volume_defs(doc: &Mapping, project: &str, dir: &Path) -> Vec<VolumeDef> {
    let Some(Value::Mapping(vols)) = doc.get("volumes") else {
        return Vec::new();
    };
    vols.iter()
        .filter_map(|(k, v)| {
            let key = scalar_string(k)?;
            let m = v.as_mapping();
            let get = |f: &str| m.and_then(|m| m.get(f));
            let external = match get("external") {
                Some(Value::Bool(b)) => *b,
                Some(Value::Mapping(e)) => {
                    // Old form: external: { name: x }
                    return Some(VolumeDef {
                        name: e
                            .get("name")
                            .and_then(scalar_string)
                            .unwrap_or_else(|| key.clone()),
                        key,
                        external: true,
                        device: None,
                    });
                }
                _ => false,
            };
            let explicit = get("name").and_then(scalar_string);
            let name = match (external, explicit) {
                (_, Some(n)) => n,
                (true, None) => key.clone(),
                (false, None) => format!("{project}_{key}"),
            };
            let opts = get("driver_opts").and_then(Value::as_mapping);
            let device = opts.and_then(|o| {
                let is_bind = o
                    .get("o")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.split(',').any(|p| p == "bind"));
                let dev = o.get("device").and_then(Value::as_str)?;
                is_bind.then(|| normalize(&dir.join(dev)))
            });
            Some(VolumeDef {
                key,
                name,
                external,
                device,
            })
        })
        .collect()
}

/// The project name compose would use: `COMPOSE_PROJECT_NAME`, then `name:`, then the
/// folder's name, normalised to what compose accepts.
fn project_name(env: &HashMap<String, String>, doc: &Mapping, dir: &Path) -> String {
    let raw = env
        .get("COMPOSE_PROJECT_NAME")
        .filter(|s| !s.is_empty())
        .cloned()
        .or_else(|| {
            doc.get("name")
                .and_then(scalar_string)
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| {
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    let cleaned: String = raw
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    let trimmed = cleaned.trim_start_matches(['_', '-']);
    if trimmed.is_empty() {
        "default".into()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests;

/// A compose duration (`10s`, `1m30s`, `1h`, `500ms`, `2.5s`; a bare number is seconds), as
/// compose-go reads `stop_grace_period`; `None` when it cannot be read.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(secs) = s.parse::<f64>() {
        return (secs >= 0.0 && secs.is_finite()).then(|| std::time::Duration::from_secs_f64(secs));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&n| n > 0)?;
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += value * unit;
        rest = &rest[u..];
    }
    Some(std::time::Duration::from_secs_f64(total))
}
