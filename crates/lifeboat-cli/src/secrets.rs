//! `lifeboat secrets`: the stack's env files. Values are read from the terminal without echo
//! or from standard input, never from the command line (argv shows in `ps`); only `get`
//! prints one.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use lifeboat_core::secrets::{self, GenKind};
use lifeboat_core::{LoadOptions, Project};

use crate::verbs::{finish, print_json, Result};

#[derive(Subcommand)]
pub enum SecretsAction {
    /// List every env file's variables, masked, with the services that read each.
    List,
    /// Print one value (the only verb that shows a value).
    Get { key: String },
    /// Set a value, read from the terminal without echo, from one line of standard input, or
    /// from a file (a multi-line value such as a key).
    Set {
        key: String,
        /// Read the value from this file (all of it, less one final line break).
        #[arg(long)]
        value_file: Option<std::path::PathBuf>,
        /// Allow an empty value.
        #[arg(long)]
        allow_empty: bool,
    },
    /// Set a strong random value (kind and length suited to the name unless given).
    Generate {
        key: String,
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
        #[arg(long)]
        length: Option<usize>,
    },
    /// Replace a value with a new random one, after saying what that means.
    Rotate {
        key: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// The dated copies kept when env files were edited.
    History,
    /// Put a dated copy (as `history` names it) back; the current file is kept as a copy.
    RestoreCopy { name: String },
    /// Hygiene checks: file modes, git, secrets in the compose file or shell history.
    Check {
        /// Apply the fixes Lifeboat can make (chmod 600, .gitignore entries).
        #[arg(long)]
        fix: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum KindArg {
    Hex,
    Base64,
    Password,
}

fn read_value(key: &str) -> Result<String> {
    if std::io::stdin().is_terminal() {
        let v = rpassword::prompt_password(format!("New value for {key}: "))?;
        let again = rpassword::prompt_password("Type it again: ")?;
        if v != again {
            return Err("the two values differ; nothing was written".into());
        }
        return Ok(v);
    }
    let mut all = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut all)?;
    let value = without_final_break(&all);
    if value.contains('\n') {
        return Err(format!(
            "standard input holds {} lines and a value is one line; nothing was written. For a \
             value of several lines (a key), use `--value-file FILE`",
            value.lines().count()
        )
        .into());
    }
    Ok(value.to_owned())
}

/// `text` less one final `\n` or `\r\n`.
fn without_final_break(text: &str) -> &str {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
}

pub fn run(stack_dir: &Path, file: &str, action: SecretsAction, json: bool) -> ExitCode {
    finish((|| {
        let project = lifeboat_core::stack::load(
            stack_dir,
            &LoadOptions {
                files: Vec::new(),
                use_process_env: true,
            },
        )?;
        let p = &project;
        match action {
            SecretsAction::List => list(p, json),
            SecretsAction::Get { key } => {
                println!("{}", secrets::reveal(p, file, &key)?);
                Ok(())
            }
            SecretsAction::Set {
                key,
                value_file,
                allow_empty,
            } => set(p, file, &key, value_file.as_deref(), allow_empty, json),
            SecretsAction::Generate { key, kind, length } => {
                let kind = kind.map(|k| match k {
                    KindArg::Hex => GenKind::Hex,
                    KindArg::Base64 => GenKind::Base64,
                    KindArg::Password => GenKind::Password,
                });
                let copy = secrets::set_generated(p, file, &key, kind, length)?;
                say_saved(file, &key, copy.as_deref(), json)
            }
            SecretsAction::Rotate { key, yes } => rotate(p, file, &key, yes, json),
            SecretsAction::History => history(p, json),
            SecretsAction::RestoreCopy { name } => {
                let kept = secrets::restore_copy(p, &name)?;
                println!("Put {name} back.");
                if let Some(k) = kept {
                    println!("The file it replaced is kept as {}.", k.display());
                }
                Ok(())
            }
            SecretsAction::Check { fix } => check(p, fix, json),
        }
    })())
}

fn list(project: &Project, json: bool) -> Result<()> {
    let view = secrets::list(project);
    if json {
        return print_json(&view);
    }
    for f in &view.files {
        let mode = f.mode.map_or(String::new(), |m| format!(" (mode {m:o})"));
        let state = if f.exists { "" } else { " — does not exist" };
        println!("{}{mode}{state}", f.name);
        if let Some(e) = &f.error {
            println!("  cannot read it: {e}");
        }
        for v in &f.variables {
            let used = if v.used_by.is_empty() {
                String::new()
            } else {
                format!("  used by {}", v.used_by.join(", "))
            };
            println!(
                "  {:<32} {:<12} line {:<4}{used}",
                v.key,
                format!("•••• ({})", v.length),
                v.line
            );
        }
    }
    if !view.undefined.is_empty() {
        println!("defined nowhere: {}", view.undefined.join(", "));
    }
    Ok(())
}

fn set(
    project: &Project,
    file: &str,
    key: &str,
    value_file: Option<&Path>,
    allow_empty: bool,
    json: bool,
) -> Result<()> {
    let value = match value_file {
        Some(f) => {
            let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
            without_final_break(&text).to_owned()
        }
        None => read_value(key)?,
    };
    if value.is_empty() && !allow_empty {
        return Err(format!(
            "the value for {key} is empty (nothing on standard input?); nothing was \
                 written. Use --allow-empty to set an empty value"
        )
        .into());
    }
    let copy = secrets::set(project, file, key, &value)?;
    say_saved(file, key, copy.as_deref(), json)
}

/// Says what rotating means, asks (unless `yes`), then sets a new value.
fn rotate(project: &Project, file: &str, key: &str, yes: bool, json: bool) -> Result<()> {
    let note = secrets::rotation(project, file, key)?;
    if !json {
        println!("{note}");
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err("rotating needs --yes when not run in a terminal".into());
        }
        print!("Rotate {key}? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("Nothing changed.");
            return Ok(());
        }
    }
    let copy = secrets::set_generated(project, file, key, None, None)?;
    if json {
        return print_json(&serde_json::json!({
            "file": file, "key": key, "note": note,
            "copy": copy.map(|c| c.display().to_string()),
        }));
    }
    say_saved(file, key, copy.as_deref(), false)
}

fn history(project: &Project, json: bool) -> Result<()> {
    let copies = secrets::copies(project);
    if json {
        return print_json(&copies);
    }
    if copies.is_empty() {
        println!("No copies yet: they are made when Lifeboat edits an env file.");
    }
    for c in copies {
        println!(
            "{:<40} {:<12} {}  {} bytes",
            c.name, c.file, c.taken, c.bytes
        );
    }
    Ok(())
}

fn check(project: &Project, fix: bool, json: bool) -> Result<()> {
    let home = dirs::home_dir();
    let findings = secrets::check(project, home.as_deref());
    let done = if fix {
        secrets::fix(project, &findings)?
    } else {
        Vec::new()
    };
    if json {
        return print_json(&serde_json::json!({ "findings": findings, "fixed": done }));
    }
    if findings.is_empty() {
        println!("No problems found.");
    }
    for f in &findings {
        let fixable = f
            .fix
            .as_ref()
            .map_or(String::new(), |x| format!(" [fix: {x}]"));
        println!("{:<6} {}{fixable}", f.severity, f.message);
        if let Some(r) = &f.remedy {
            println!("         run: {}", r.command(&project.dir));
        }
        // Show what moving a hard-coded secret would change, value masked.
        if let (false, secrets::FindingCode::HardcodedSecret, Some(svc), Some(var)) =
            (fix, f.code, &f.service, &f.variable)
        {
            if let Ok(plan) = secrets::refactor::plan_move(project, svc, var) {
                for line in plan.diff(&project.dir).lines() {
                    println!("         {line}");
                }
            }
        }
    }
    for d in done {
        println!("fixed: {d}");
    }
    Ok(())
}

fn say_saved(file: &str, key: &str, copy: Option<&Path>, json: bool) -> Result<()> {
    if json {
        return print_json(&serde_json::json!({
            "file": file, "key": key, "copy": copy.map(|c| c.display().to_string()),
        }));
    }
    println!("Saved {key} in {file} (the value is not shown; `lifeboat secrets DIR get {key}` shows it).");
    if let Some(c) = copy {
        println!("The previous file is kept as {}.", c.display());
    }
    Ok(())
}
