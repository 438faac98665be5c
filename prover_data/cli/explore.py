"""``explore``: a local web page over one build -- its theorems, search trees, samples and report."""

from __future__ import annotations

import socket
from pathlib import Path

import click

from prover_data.cli.options import build_dir_option, data_root_option
from prover_data.console import info
from prover_data.errors import InputError


@click.command("explore")
@click.argument("name")
@data_root_option
@build_dir_option()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on. The default answers this machine only; 0.0.0.0 answers every network "
                   "the machine is on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default browser.")
@click.option("--against", metavar="OTHER",
              help="A second build (manifest name, same --data-root and --build-dir) whose theorem sets the Build "
                   "page compares: proved in one and not the other, present in one only.")
def explore(name: str, data_root: Path | None, build_root: Path, host: str, port: int, open_browser: bool,
            against: str | None) -> None:
    """Look at build NAME in a browser: theorems, search trees, samples, the report.

    Serves a local web app over BUILD_DIR/NAME and the manifest's inputs (read only)
    and prints its address on stdout; Ctrl-C stops it. Pages: Theorems (filter, sort,
    search names and statements), a theorem's search trees (nodes colored by label,
    the proof path highlighted, state and scores on click) with its SFT pairs under
    both pairings and its contrastive samples, a sample's positive and negatives side
    by side (cosines when the build has an embeddings export), and the Build page
    (report, plots, the lock's inputs, the --against comparison).

    \b
    Examples:
      prover-data explore demo                            # then open the printed address
      prover-data explore iter_4 --data-root replica --open
      prover-data explore iter_4 --against iter_3 --port 9000
      prover-data explore demo --port 0                   # any free port
    """
    import uvicorn

    from prover_data.explore.app import create_app
    from prover_data.explore.data import load

    info(f"loading build {name} ...")
    data = load(name, data_root, build_root, against)
    sock = _listen(host, port)
    url = f"http://{_url_host(host)}:{sock.getsockname()[1]}/"
    click.echo(url)
    info(f"serving {data.files.dir} at {url} (Ctrl-C stops)")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(create_app(data), log_level="warning", lifespan="off"))
    server.run(sockets=[sock])


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port``, bound before the address is printed."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        raise InputError.one("--port", f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
