"""The `serve`, `scheduler` and `demo` commands: the service in this process."""

from __future__ import annotations

import signal
import threading

import click

import service
from cli.demo import run_demo
from cli.group import Context, cli, pass_context
from webhooks import create_app


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@pass_context
def serve(ctx: Context, host: str, port: int) -> None:
    """Run the web app, the sender and (unless [server] scheduler = false) the scheduler in one process."""
    rt = ctx.runtime()
    try:
        app = create_app(rt)
        service.start(rt)
        click.echo(f"callout: serving on http://{host}:{port} (public URL {ctx.config.server.public_url})")
        app.run(host=host, port=port, threaded=True, use_reloader=False)
    finally:
        rt.close()


@cli.command()
@pass_context
def scheduler(ctx: Context) -> None:
    """Run the scheduler and the sender without the web app (beside web-only processes)."""
    rt = ctx.runtime()
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    try:
        service.start(rt, scheduler=True)
        click.echo("callout: scheduler running, timeouts fire at their deadline")
        while not stopped.wait(1.0):
            pass
    finally:
        rt.close()
    click.echo("callout: scheduler stopped")


@cli.command()
@click.option("--speed", default=1.0, show_default=True, type=float, help="Scale the demo's timeouts.")
@click.option(
    "--console", "console", is_flag=True, help="Then open the director's console on the demo's data."
)
@click.option("--port", default=5000, show_default=True, type=int, help="The console's port, with --console.")
def demo(speed: float, console: bool, port: int) -> None:
    """Play a whole scenario through the real webhooks and escalation engine, on the console."""
    run_demo(speed=speed, console_port=port if console else None)
