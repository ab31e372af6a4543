"""Flask CLI commands: reconcile (recovery pass)."""
from __future__ import annotations

import json

import click
from flask import Flask, current_app


def register_cli(app: Flask) -> None:
    @app.cli.command("reconcile")
    @click.option("--grace", type=int, default=None, help="Skip datasets touched this many seconds ago.")
    def reconcile_command(grace: int | None) -> None:
        """Reclaim abandoned jobs and enqueue queued datasets whose job is missing from Redis."""
        from jobs.recovery import recover
        config = current_app.config
        outcome = recover(current_app.extensions["redis"],
                          config["RECONCILE_GRACE_SECONDS"] if grace is None else grace)
        click.echo(json.dumps(outcome))
