"""The `nngpt` console script.

    nngpt --help

Each command group lives in its own module and registers itself here. Errors the user can act on
(NngptError) print one line to stderr and exit with their code (2 for configuration errors).
"""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import DBAPIError

from nngpt_core.errors import NngptError, first_line
from nngpt_cli import config as config_commands
from nngpt_cli import corpus as corpus_commands
from nngpt_cli import db as db_commands
from nngpt_cli import deploy as deploy_commands
from nngpt_cli import lemur as lemur_commands
from nngpt_cli import llm as llm_commands
from nngpt_cli import loop as loop_commands
from nngpt_cli.doctor import doctor
from nngpt_cli.evaluate import evaluate_files
from nngpt_cli.similarity import similarity

app = typer.Typer(
    name="nngpt",
    help="Turn a code LLM into a designer of novel neural architectures (NNGPT/LEMUR closed loop).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db_commands.db_app, name="db")
app.add_typer(corpus_commands.corpus_app, name="corpus")
app.add_typer(lemur_commands.lemur_app, name="lemur")
app.add_typer(config_commands.config_app, name="config")
app.command("import")(db_commands.import_architectures)
app.command("eval")(evaluate_files)
app.command("doctor")(doctor)
app.command("bootstrap")(llm_commands.bootstrap)
app.command("generate")(llm_commands.generate)
app.command("finetune")(llm_commands.finetune)
app.command("similarity")(similarity)
app.command("run")(loop_commands.run)
app.command("status")(loop_commands.status)
app.command("report")(loop_commands.report)
app.command("transfer")(loop_commands.transfer)
app.command("deploy")(deploy_commands.deploy)
app.command("worker")(deploy_commands.worker)


def describe_failure(exc: NngptError | DBAPIError) -> str:
    """The one line the CLI prints for an error the user can act on (no SQL, no password)."""
    if isinstance(exc, DBAPIError):  # the database went away or refused a statement mid-command
        return f"error: database error: {first_line(exc.orig or exc)}"
    return f"error: {exc}"


def main() -> None:
    try:
        app()
    except NngptError as exc:
        print(describe_failure(exc), file=sys.stderr)
        sys.exit(exc.exit_code)
    except DBAPIError as exc:
        print(describe_failure(exc), file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
