"""Prefect flows, deployments and the `synth` command. Composition only: no business logic here."""
