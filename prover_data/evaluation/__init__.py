"""Evaluation on theorems never trained on.

* ``sets`` -- eval-set sampling and the contamination audit of a build's outputs.
* ``hypotheses`` -- the hypothesis count of a statement (a stratum of the sampling).
* ``compare`` -- comparison of eval search runs (solved, paired differences).
"""
