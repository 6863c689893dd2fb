"""What the operator sees: Prometheus metrics (:mod:`.metrics`), OpenTelemetry traces
(:mod:`.tracing`) and the log lines (:mod:`.logs`). Each part is off, and builds nothing, until the
server turns it on from the ``observability`` section of the settings (docs/operations.md)."""
