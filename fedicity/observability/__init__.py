"""What a running process tells its operators: Prometheus instruments and the log format."""
