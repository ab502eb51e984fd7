"""The `serve` and `demo` commands: the web app and scheduler in one process."""

from __future__ import annotations

import click

from cli import Context, cli, pass_context


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@pass_context
def serve(ctx: Context, host: str, port: int) -> None:
    """Run the web app and the scheduler in one process (development; production uses gunicorn)."""
    from webhooks import create_app

    app = create_app(ctx.config)
    click.echo(f"callout: serving on http://{host}:{port} (public URL {ctx.config.server.public_url})")
    try:
        app.run(host=host, port=port, threaded=True, use_reloader=False)
    finally:
        app.extensions["callout"].close()


@cli.command()
@click.option("--speed", default=1.0, show_default=True, type=float, help="Scale the demo's timeouts.")
def demo(speed: float) -> None:
    """Play a whole scenario through the real webhooks and escalation engine, on the console."""
    from cli.demo import run_demo

    run_demo(speed=speed)
