"""The explorer's Starlette app: four pages, the plots of the build, and static files.

Routes (every one a GET; handlers are plain functions, run in Starlette's thread pool,
each with its own DuckDB cursor):

    /                             Theorems: the filtered, sorted, paged table
    /theorem?name=N[&focus=F]     a theorem's search trees, SFT pairs and samples
                                  (F = SOURCE/SEARCH/STATE_ID selects that node)
    /sample/{split}/{sample_id}   a contrastive sample: the positive and its negatives
    /build                        the report, the lock's inputs, the comparison
    /plots/{name}                 a PNG of BUILD/NAME/plots, nothing else
    /static/...                   the package's static/ directory, nothing else

Nothing else of the disk is reachable: plots are resolved and must sit directly in
the build's plots/ directory, and Starlette's StaticFiles refuses paths that leave
static/. Jinja2 autoescapes every page; node data reaches the page script as JSON
through ``tojson``.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from prover_data.explore import build_page, pages
from prover_data.explore.data import ExploreData

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
SPLITS = ("train", "val")


def create_app(data: ExploreData) -> Starlette:
    """The app over one loaded build."""
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(build_name=data.manifest.name, against=data.against)

    def page(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    def theorems(request: Request) -> HTMLResponse:
        result = pages.theorems(data, pages.TheoremQuery.parse(request.query_params))
        return page(request, "theorems.html", page=result, sources=data.sources, lists=data.lists,
                    page_size=pages.PAGE_SIZE)

    def theorem(request: Request) -> HTMLResponse:
        name = request.query_params.get("name")
        if not name:
            raise pages.BadRequest("name: the theorem to show is missing (/theorem?name=NAME)")
        result = pages.theorem(data, name)
        trees = [{"key": t.key, "source": t.source, "search": t.search, "nodes": t.nodes} for t in result.trees]
        return page(request, "theorem.html", t=result, trees=trees, focus=request.query_params.get("focus", ""))

    def sample(request: Request) -> HTMLResponse:
        split, sample_id = request.path_params["split"], request.path_params["sample_id"]
        if split not in SPLITS:
            raise HTTPException(404, f"no split {split!r} (train or val)")
        return page(request, "sample.html", s=pages.sample(data, split, sample_id))

    def build(request: Request) -> HTMLResponse:
        return page(request, "build.html", b=build_page.build(data))

    def plot(request: Request) -> FileResponse:
        base = data.files.plots.resolve()
        target = (base / request.path_params["name"]).resolve()
        if target.parent != base or target.suffix != ".png" or not target.is_file():
            raise HTTPException(404, "no such plot in this build")
        return FileResponse(target, media_type="image/png")

    def error(request: Request, exc: Exception) -> HTMLResponse:
        if isinstance(exc, pages.BadRequest):
            status = 400
        elif isinstance(exc, pages.NotFound):
            status = 404
        else:
            status = exc.status_code
        return page(request, "error.html", status_code=status, status=status, message=str(getattr(exc, "detail", exc)))

    routes = [
        Route("/", theorems),
        Route("/theorem", theorem),
        Route("/sample/{split}/{sample_id:int}", sample),
        Route("/build", build),
        Route("/plots/{name:path}", plot),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={
        HTTPException: error, pages.BadRequest: error, pages.NotFound: error})
