"""What a run leaves for people and dashboards to read, derived from its engine and its
store: the summary and the `expect` verdict, the metrics series and the Prometheus
textfile, report.html and report.md, and owner events in words. Nothing here decides
anything about the fabric."""
