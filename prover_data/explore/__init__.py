"""``prover-data explore``: a local web app for looking at one build's search trees and samples.

People reading trajectories by hand want the search *tree* (why did the EBM send search
down this branch), a sample's negatives next to its positive, and what changed between
two iterations. The app is three pieces, each replaceable on its own:

* ``data.py`` loads the build once at start-up: the manifest's views over its inputs
  and the build's outputs, materialized into a few DuckDB tables (``sql/0*.sql``);
* ``pages.py`` answers each page with parameterized queries (``sql/*.sql``) into
  plain dataclasses;
* ``app.py`` is the Starlette app: routes, Jinja2 templates (``templates/``) and the
  static files (``static/``: the page script, styles and d3-hierarchy's tree layout).
"""
