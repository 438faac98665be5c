"""Proof certificates: the byte-level text a char-level GPT trains on.

* ``grammar`` -- the certificate grammar and its validator.
* ``corpus`` -- certificates derived from a manifest's proofs, with the stratified split.
* ``packing`` -- certificates packed into fixed-length byte blocks.
"""
