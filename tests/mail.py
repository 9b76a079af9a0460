"""For the alert tests: a real SMTP server, and DAG callbacks run by a real dag-processor.

* :class:`Inbox`: an ``aiosmtpd`` server on a loopback port (its own thread) that keeps
  every message it is sent; connection ``smtp_default`` points at it.
* :func:`run_failure_callback_in_dag_processor`: what production does when a run fails.
  The scheduler builds the callback request (``DagRun.produce_dag_callback``, with the
  last failed task as context) and a ``DagFileProcessorProcess`` subprocess parses the
  DAG file and runs the DAG's ``on_failure_callback``, asking its parent for task states,
  XComs, Variables and connections; the parent answers through the execution API
  in-process, as the dag-processor manager does. ``dag.test()`` also runs DAG callbacks,
  but in its own process without that API, so it cannot show what a deployment sends.
"""

from __future__ import annotations

import email
import email.policy
import html
import os
import selectors
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller

from devtools.services import free_port


@dataclass
class Mail:
    mail_from: str
    to: list[str]
    subject: str
    html: str
    message_id: str = ""

    @property
    def text(self) -> str:
        """Subject and body, entities decoded: what a reader sees (tags included)."""
        return html.unescape(f"{self.subject}\n{self.html}")


@dataclass
class Inbox:
    """Messages received by the SMTP server, oldest first."""

    messages: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # the name aiosmtpd calls
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(("html", "plain"))
        self.messages.append(Mail(envelope.mail_from, list(envelope.rcpt_tos),
                                  str(message["Subject"]), body.get_content() if body else "",
                                  str(message["Message-ID"] or "")))
        return "250 Message accepted for delivery"

    def with_subject(self, part: str) -> list[Mail]:
        return [m for m in self.messages if part in m.subject]


class SmtpServer:
    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def conn_json(self) -> str:
        import json

        return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": self.port,
                           "extra": {"from_email": "airflow@extractorov.test",
                                     "disable_tls": True, "disable_ssl": True,
                                     "timeout": 10, "retry_limit": 0}})


def run_failure_callback_in_dag_processor(run_id: str, dag_id: str, dag_file: Path,
                                          timeout: float = 120) -> None:
    """Run the failure callback of a failed run as the dag-processor runs it in production."""
    import structlog
    from airflow.api_fastapi.execution_api.app import InProcessExecutionAPI
    from airflow.dag_processing.processor import DagFileProcessorProcess
    from airflow.models.dagrun import DagRun
    from airflow.sdk.api.client import Client
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from uuid6 import uuid7

    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id=dag_id, run_id=run_id).one()
        assert str(run.state) == "failed", run.state
        # As DagRun.update_state picks it when the run fails.
        last_failed = max((ti for ti in run.get_task_instances(session=session)
                           if ti.state == TaskInstanceState.FAILED),
                          key=lambda ti: ti.end_date)
        request = run.produce_dag_callback(dag=None, success=False, relevant_ti=last_failed,
                                           reason="task_failure", execute=False)
    api = InProcessExecutionAPI()
    client = Client(base_url=None, token="", dry_run=True, transport=api.transport)
    client.base_url = "http://in-process.invalid./"
    selector = selectors.DefaultSelector()
    log_file = open(os.devnull, "ab")  # noqa: SIM115 (closed by proc.close())
    proc = DagFileProcessorProcess.start(
        id=uuid7(), path=str(dag_file), bundle_path=dag_file.parent,
        bundle_name=request.bundle_name, dag_file_rel_path=dag_file.name, callbacks=[request],
        selector=selector, logger=structlog.get_logger(logger_name="processor").bind(),
        logger_filehandle=log_file, subprocess_logs_to_stdout=True, client=client)
    deadline = time.monotonic() + timeout
    while not proc.is_ready:
        assert time.monotonic() < deadline, "the dag-processor did not finish the callback"
        for key, _ in selector.select(timeout=0.5):
            handler, on_close = key.data
            try:
                more = handler(key.fileobj)
            except (BrokenPipeError, ConnectionResetError):
                more = False
            if not more:
                on_close(key.fileobj)
                key.fileobj.close()
    proc.close()
    selector.close()
