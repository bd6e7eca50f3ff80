"""The Heroku release operations (slug-copy, pipeline-promote) and what they share: target
models, planning helpers, the release follower, and outcomes turned into outputs."""
