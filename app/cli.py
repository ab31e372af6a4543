"""Flask CLI commands: reconcile (recovery pass), tokens (create, list, revoke), purge (retention)."""
from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext


@click.command("reconcile")
@click.option("--grace", type=int, default=None, help="Skip datasets touched this many seconds ago.")
@with_appcontext
def reconcile_command(grace: int | None) -> None:
    """Reclaim abandoned jobs and enqueue queued datasets whose job is missing from Redis."""
    from jobs.recovery import recover
    config = current_app.config
    outcome = recover(current_app.extensions["redis"],
                      config["RECONCILE_GRACE_SECONDS"] if grace is None else grace)
    click.echo(json.dumps(outcome))


tokens = AppGroup("tokens", help="API tokens for AUTH_MODE=token.")


@tokens.command("create")
@click.argument("user_id")
@click.option("--collaboration", "collaborations", multiple=True, help="A collaboration the user belongs to.")
@click.option("--name", default=None, help="A note to tell tokens apart.")
@click.option("--operator", is_flag=True, help="May read tenant-wide totals on /metrics (Prometheus).")
@click.option("--callback-url", default=None, help="Webhook for this token's uploads that give none; a "
              "signing secret is made and shown once.")
def create_command(user_id: str, collaborations: tuple[str, ...], name: str | None, operator: bool,
                   callback_url: str | None) -> None:
    """Create a token for USER_ID; it is printed once, as the last word of the last line."""
    from .auth import check_name
    from .errors import APIError
    from .tokens import create_token
    try:
        for value, field in ((user_id, "user_id"), *((c, "collaboration") for c in collaborations)):
            check_name(value, field)
    except APIError as exc:
        raise click.BadParameter(exc.message) from None
    row, token = create_token(user_id, collaborations, name, operator, callback_url)
    click.echo(f"Token {row.id} for {user_id} (collaborations: {', '.join(row.collaborations) or 'none'}"
               f"{'; operator' if operator else ''}). It is shown only now; store it safely.")
    if row.webhook_secret:
        click.echo(f"Webhook secret (verifies X-Wrangler-Signature; shown only now): {row.webhook_secret}")
    click.echo(token)


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_command(as_json: bool) -> None:
    """Tokens with their user, collaborations and last use (never the token itself)."""
    from .tokens import list_tokens
    rows = list_tokens()
    if as_json:
        click.echo(json.dumps(rows))
        return
    for t in rows:
        click.echo(f"{t['id']:>4}  {t['token']:<13} {t['user_id']:<20} {'revoked' if t['revoked'] else 'active':<8}"
                   f" collaborations: {','.join(t['collaborations']) or '-'}  last used: {t['last_used_at'] or '-'}"
                   f"{'  operator' if t['operator'] else ''}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
def revoke_command(token_id: int) -> None:
    """Revoke a token by its id (from `flask tokens list`); requests with it get 401 at once."""
    from .tokens import TokenError, revoke_token
    try:
        row = revoke_token(token_id)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Token {row.id} of {row.user_id} revoked.")


@click.command("purge")
@click.option("--raw-older-than", "days", type=int, default=None,
              help="Days after which finished datasets lose their original file (default RAW_RETENTION_DAYS).")
@with_appcontext
def purge_command(days: int | None) -> None:
    """Remove original uploads of finished datasets past the retention period now."""
    from .retention import purge_raw_files
    purged = purge_raw_files(current_app.config["RAW_RETENTION_DAYS"] if days is None else days, limit=10**9)
    click.echo(json.dumps({"purged": purged}))


def register_cli(app: Flask) -> None:
    for command in (reconcile_command, tokens, purge_command):
        app.cli.add_command(command)
