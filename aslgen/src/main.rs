//! `aslgen`: validate, compile and draw DRS recovery plans.

use aslgen::{Deployment, Inventory, compile, graph, parse, validate};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Compile DRS recovery plans into AWS Step Functions state machines.
///
/// Exit status: 0 ok, 1 invalid plan (every problem printed), 2 usage or I/O error.
#[derive(Parser)]
#[command(name = "aslgen", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Inputs {
    /// The plan file (YAML or JSON).
    plan: PathBuf,
    /// Source servers (YAML or JSON), needed for tag-selected protection groups.
    #[arg(long)]
    inventory: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Check a plan and print every problem with its path.
    Validate {
        #[command(flatten)]
        inputs: Inputs,
    },
    /// Compile a plan: writes <name>.asl.json, <name>.iam.json and <name>.steps.json (and
    /// <name>_w<n>.asl.json for each wave's child machine of a plan split across executions).
    Compile {
        #[command(flatten)]
        inputs: Inputs,
        /// Output directory.
        #[arg(short, long, default_value = ".")]
        out: PathBuf,
        /// Deployment settings (region, account, table, topic, probe function, console URL).
        #[arg(long)]
        deployment: Option<PathBuf>,
    },
    /// Print a synthetic plan (for benchmarks and the large example) as YAML.
    Synth {
        #[arg(long, default_value_t = 3000)]
        servers: usize,
        #[arg(long, default_value_t = 30)]
        waves: usize,
    },
    /// Print the plan's graph of waves, groups and dependencies.
    Graph {
        #[command(flatten)]
        inputs: Inputs,
        #[arg(long, value_enum, default_value = "mermaid")]
        format: graph::Format,
    },
}

enum Failure {
    Invalid(String),
    Usage(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid(message)) => {
            eprint!("{message}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(message)) => {
            eprintln!("aslgen: {message}");
            ExitCode::from(2)
        }
    }
}

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("cannot read `{}`: {e}", path.display())))
}

fn load(inputs: &Inputs) -> Result<(aslgen::PlanDocument, Option<Inventory>), Failure> {
    let origin = inputs.plan.display().to_string();
    let doc = parse::plan_document(&read(&inputs.plan)?, &origin)
        .map_err(|e| Failure::Invalid(format!("{e}\n")))?;
    let inventory = match &inputs.inventory {
        Some(path) => Some(
            parse::inventory(&read(path)?, &path.display().to_string())
                .map_err(|e| Failure::Usage(e.to_string()))?,
        ),
        None => None,
    };
    Ok((doc, inventory))
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Validate { inputs } => {
            let (doc, inventory) = load(&inputs)?;
            let resolved =
                validate(&doc, inventory.as_ref()).map_err(|e| Failure::Invalid(e.to_string()))?;
            println!(
                "{}: valid — {} waves, {} launch units, {} servers",
                inputs.plan.display(),
                resolved.waves.len(),
                resolved.units.len(),
                resolved.server_count()
            );
            Ok(())
        }
        Command::Compile {
            inputs,
            out,
            deployment,
        } => {
            let (doc, inventory) = load(&inputs)?;
            let deployment = match deployment {
                Some(path) => serde_yaml_ng::from_str::<Deployment>(&read(&path)?)
                    .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?,
                None => Deployment::default(),
            };
            let resolved =
                validate(&doc, inventory.as_ref()).map_err(|e| Failure::Invalid(e.to_string()))?;
            let compiled =
                compile(&resolved, &deployment).map_err(|e| Failure::Invalid(format!("{e}\n")))?;
            std::fs::create_dir_all(&out)
                .map_err(|e| Failure::Usage(format!("cannot create `{}`: {e}", out.display())))?;
            let pretty = |v: &dyn erased::Json| v.to_json();
            let children = compiled.children.iter().map(|child| {
                (
                    format!("{}_w{}.asl.json", resolved.plan_id, wave_part(&child.name)),
                    child.definition(),
                )
            });
            let files = [
                (
                    format!("{}.asl.json", resolved.plan_id),
                    compiled.definition(),
                ),
                (
                    format!("{}.iam.json", resolved.plan_id),
                    pretty(&compiled.policy),
                ),
                (
                    format!("{}.steps.json", resolved.plan_id),
                    pretty(&compiled.step_map),
                ),
            ];
            for (name, text) in files.into_iter().chain(children) {
                let path = out.join(&name);
                std::fs::write(&path, text).map_err(|e| {
                    Failure::Usage(format!("cannot write `{}`: {e}", path.display()))
                })?;
                println!("wrote {}", path.display());
            }
            for note in compiled.notes() {
                println!("note: {note}");
            }
            Ok(())
        }
        Command::Synth { servers, waves } => {
            let doc = aslgen::synth::large_plan(servers, waves);
            let text = serde_yaml_ng::to_string(&doc).map_err(|e| Failure::Usage(e.to_string()))?;
            print!(
                "# Generated by `aslgen synth --servers {servers} --waves {waves}`; do not edit.\n{text}"
            );
            Ok(())
        }
        Command::Graph { inputs, format } => {
            let (doc, inventory) = load(&inputs)?;
            let resolved =
                validate(&doc, inventory.as_ref()).map_err(|e| Failure::Invalid(e.to_string()))?;
            print!("{}", graph::render(&resolved, format));
            Ok(())
        }
    }
}

mod erased {
    /// Pretty JSON with a trailing newline, for any serialisable output.
    pub trait Json {
        fn to_json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> String {
            serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
        }
    }
}

/// `3` or `3p2` from a child machine's name (`<prefix>-<plan>_w3p2`).
fn wave_part(name: &str) -> &str {
    name.rsplit_once("_w").map_or(name, |(_, part)| part)
}
