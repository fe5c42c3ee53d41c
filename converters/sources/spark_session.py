"""The Spark session edgepack uses: local, quiet, offline, started only when needed and stopped after.

Every Spark-using part of edgepack (the Spark source, the `spark` parity runner, the distributed parity
engine, `batch-score --engine spark`) goes through `acquire()`/`release()`. When a session is already
active (a notebook, spark-submit, the test suite's fixture), edgepack uses it and leaves it running;
otherwise it starts its own (`local[2]` unless told a master URL), with the UI off, the driver bound to
127.0.0.1 and log level ERROR, and stops it on `release()` (or at exit).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
from typing import Any

from ...runtime.errors import UsageError

DEFAULT_MASTER = "local[2]"
# Offline and quiet: no UI port, no external interface, no progress bars on stderr.
LOCAL_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
}

# The JVM logs at ERROR only, to stderr (Spark's default profile logs WARN lines at startup).
LOG4J2 = """rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""

_state: dict[str, Any] = {"session": None, "owned": False, "users": 0}


def _log_config() -> str:
    import tempfile

    path = os.path.join(tempfile.gettempdir(), "edgepack-spark-log4j2.properties")
    if not os.path.exists(path):
        with open(path, "w") as handle:
            handle.write(LOG4J2)
    return path


def availability() -> str | None:
    """None when Spark can run here, else the reason (pyspark missing, no Java)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'edgepack[spark]')"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "Java is not installed (Spark needs Java 17: apt-get install -y openjdk-17-jre-headless)"
    return None


def acquire(master: str | None = None) -> Any:
    """The active SparkSession, or a new local one edgepack owns. Raises UsageError when Spark cannot run."""
    reason = availability()
    if reason:
        raise UsageError(f"Spark is needed here but cannot run: {reason}",
                         fix="install the spark extra and Java 17, or use a non-Spark engine")
    import warnings

    from pyspark.sql import SparkSession

    # pyspark 4.3 warns that pandas 3 is not fully supported; the paths edgepack uses are checked by its tests.
    warnings.filterwarnings("ignore", message=".*does not yet fully support pandas.*")
    active = SparkSession.getActiveSession()
    if active is not None:
        # One SparkContext per process: an active session (spark-submit, a notebook, ours) is the one to use,
        # whatever master was asked for; edgepack never stops a session it did not start.
        _state["users"] += 1
        return active
    master = master or DEFAULT_MASTER
    local = master.startswith("local")
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no guessing at the machine's interfaces
        # Local Python workers run this interpreter (its environment holds edgepack), not `python3` on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("edgepack")
    builder = builder.config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{_log_config()}")
    for key, value in LOCAL_CONF.items():
        if not local and key.startswith("spark.driver."):
            continue  # a cluster must reach the driver: leave its address to the user's configuration
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    if _state["session"] is None:
        atexit.register(_stop)
    _state.update(session=session, owned=True)
    _state["users"] += 1
    return session


def release() -> None:
    """Stop the session when edgepack started it and nobody else in this process still uses it."""
    _state["users"] = max(0, _state["users"] - 1)
    if _state["users"] == 0:
        _stop()


def _stop() -> None:
    session, owned = _state["session"], _state["owned"]
    if session is not None and owned:
        try:
            session.stop()
        except Exception:  # a JVM already gone at interpreter exit
            pass
    _state.update(session=None, owned=False)
