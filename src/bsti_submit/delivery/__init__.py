"""Delivery: the local folder, the STOW-RS client, batching and the spool, and the delivery
state that makes sending resumable."""
