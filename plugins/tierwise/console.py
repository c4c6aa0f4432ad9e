"""What a person sees: one line per stage, library noise kept in log files.

Stages report through :func:`progress`. The line goes to the ``tierwise.progress``
logger (the Airflow task log when running in a task) and, when
``TIERWISE_PROGRESS_FILE`` is set, is appended to that file so that the demo can
show it live while Airflow's own output goes to a log file.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tierwise.masking import MaskingFilter, mask

PROGRESS_LOGGER = "tierwise.progress"
NOISY_LOGGERS = (
    "great_expectations",
    "airflow",
    "dbt",
    "alembic",
    "sqlalchemy",
    "urllib3",
    "httpx",
    "httpcore",  # its debug lines carry request and response headers
    "matplotlib",
)


def mask_pii(text: str) -> str:
    """Mask e-mail addresses, phone numbers and secrets before anything is logged."""
    return mask(text)


def progress(stage: str, message: str) -> None:
    """Report one line of progress for a stage."""
    line = f"[{stage:<9}] {mask_pii(message)}"
    logging.getLogger(PROGRESS_LOGGER).info(line)
    target = os.environ.get("TIERWISE_PROGRESS_FILE")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


@contextmanager
def stage_timer(stage: str, start_message: str) -> Iterator[dict[str, float]]:
    """Report the start of a stage; the caller reports the result with the elapsed time."""
    progress(stage, start_message)
    timing = {"start": time.perf_counter(), "elapsed": 0.0}
    try:
        yield timing
    finally:
        timing["elapsed"] = time.perf_counter() - timing["start"]


def configure_cli_logging(log_dir: Path, verbose: bool = False) -> Path:
    """Send every library's log to a file and only Tierwise's progress to the console."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / "tierwise.log"
    root = logging.getLogger()
    root.handlers.clear()
    # On the handlers, not only on Tierwise's loggers: library records (urllib3, dbt, GX) can
    # quote a request, a row or a connection string too.
    masking = MaskingFilter()
    file_handler = logging.FileHandler(log_file, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    file_handler.addFilter(masking)
    root.addHandler(file_handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(logging.Formatter("%(message)s"))
    console.addFilter(masking)
    progress_logger = logging.getLogger(PROGRESS_LOGGER)
    progress_logger.handlers.clear()
    progress_logger.addHandler(console)
    progress_logger.addHandler(file_handler)
    progress_logger.setLevel(logging.INFO)
    # Airflow's import reconfigures the root logger; progress must not be echoed twice.
    progress_logger.propagate = False
    return log_file


def quiet_library_loggers() -> None:
    """Inside Airflow tasks: keep GX/dbt chatter at WARNING in the task log."""
    for name in NOISY_LOGGERS:
        if name != "airflow":
            logging.getLogger(name).setLevel(logging.WARNING)
