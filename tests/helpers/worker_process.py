"""`worker.py` in a process of its own, for the tests that kill a worker (SIGKILL) on the dev
server, and handing a dead worker's workflow to the next one at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import ResetStickyTaskQueueRequest
from temporalio.testing import WorkflowEnvironment

from settings import ROOT


@dataclass
class WorkerProcess:
    """`worker.py` on the dev server and a task queue of the test's, with this process's
    environment (the session's database, signing key...) and `environ` over it: killed with
    SIGKILL when the test says."""

    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(
        cls,
        env: WorkflowEnvironment,
        task_queue: str,
        log: Path,
        environ: Mapping[str, str] | None = None,
    ) -> WorkerProcess:
        environment = (
            os.environ
            | dict(environ or {})
            | {
                "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
                "TEMPORAL_NAMESPACE": env.client.namespace,
                "ZHICHENG_TASK_QUEUE": task_queue,
            }
        )
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, str(ROOT / "worker.py")],
                cwd=ROOT,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        return cls(process, log)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        assert self.process.returncode == -signal.SIGKILL, self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


async def reset_sticky(env: WorkflowEnvironment, workflow_id: str) -> None:
    """The dead worker's sticky queue is forgotten, so the workflow's next task goes to the
    task queue at once (not after the sticky schedule-to-start timeout)."""
    await env.client.workflow_service.reset_sticky_task_queue(
        ResetStickyTaskQueueRequest(
            namespace=env.client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
