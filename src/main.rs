//! The `thaw` binary: parses the command line and calls the library through the handlers in
//! `cli/` (`run`, `results` for the readers, `training` for what needs libtorch, `slurm`).

mod cli;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    #[cfg(feature = "train")]
    thaw::exec::allocator::keep_freed_memory();
    match dispatch(Cli::parse().command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    let done = ExitCode::SUCCESS;
    match command {
        Command::Run(args) => cli::run::run(*args),
        Command::Report {
            sweep,
            compare,
            db,
            reports,
        } => match sweep {
            Some(sweep) => cli::results::report(&sweep, &db, &reports),
            None => cli::results::compare(&compare, &db, &reports),
        }
        .map(|_| done),
        Command::Note(args) => cli::notes::note(args).map(|_| done),
        Command::Tag(args) => cli::notes::tag(args).map(|_| done),
        Command::Export(args) => cli::results::export(args).map(|_| done),
        Command::Ls { all, db } => cli::results::ls(&db, all).map(|_| done),
        Command::Rm(args) => cli::results::rm(args).map(|_| done),
        Command::Query { sql, format, db } => cli::results::query(&sql, format, &db).map(|_| done),
        Command::Merge(args) => cli::results::merge(args).map(|_| done),
        Command::Slurm(args) => cli::slurm::run(*args),
        Command::ExportModel(args) => cli::results::export_model(args).map(|_| done),
        #[cfg(feature = "train")]
        Command::Prepare(args) => cli::training::prepare(args).map(|_| done),
        #[cfg(feature = "train")]
        Command::Doctor { json } => {
            cli::training::doctor(json);
            Ok(done)
        }
        #[cfg(feature = "train")]
        Command::Predict(args) => cli::training::predict(args).map(|_| done),
        #[cfg(not(feature = "train"))]
        Command::Prepare(_) | Command::Doctor { .. } | Command::Predict(_) => anyhow::bail!(
            "this thaw was built without training (cargo build --no-default-features); prepare, \
             doctor and predict need the default build with libtorch"
        ),
    }
}
