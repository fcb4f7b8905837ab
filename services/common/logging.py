"""JSON logging with the request id of the current request on every record; API keys in query strings
(`?api_key=`) never reach a log line."""

import contextvars
import logging
import re
import sys

from pythonjsonlogger.json import JsonFormatter

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
HEALTH_PROBE_PATHS = frozenset({"/healthz", "/readyz"})
QUERY_KEY = re.compile(r"([?&]api_key=)[^&#\s\"']*", re.IGNORECASE)


def redact_query_keys(text: str) -> str:
    return QUERY_KEY.sub(r"\1[redacted]", text) if "api_key" in text.lower() else text


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class _QueryKeyFilter(logging.Filter):
    """The auth middleware takes `api_key` out of the query string before uvicorn logs the request; this
    catches a line written before that (a request refused by the per-client limits) or by anyone else."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_query_keys(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_query_keys(a) if isinstance(a, str) else a for a in record.args)
        return True


class _HealthProbeFilter(logging.Filter):
    """Drops uvicorn's access lines for /healthz and /readyz: the gateway and Kubernetes probe every few
    seconds, and those lines would otherwise be most of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            return args[2].partition("?")[0] not in HEALTH_PROBE_PATHS
        return True


def configure_logging(service: str, level: str = "INFO", json: bool = True, health_probes: bool = False) -> None:
    """Configure the root logger once per process; uvicorn's loggers propagate to it. Access lines of
    health probes are dropped unless `health_probes`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    handler.addFilter(_QueryKeyFilter())
    if json:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                static_fields={"service": service},
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)s {service} %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    access = logging.getLogger("uvicorn.access")
    access.filters[:] = [] if health_probes else [_HealthProbeFilter()]
