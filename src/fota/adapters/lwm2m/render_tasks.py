"""The name of the task in which the LwM2M server renders each CoAP request: a constant, where aiocoap names it after
the request's repr.

aiocoap 0.4.17 (the pinned version) names every rendering task "Rendering for <the request's repr>", and that repr
formats the remote address through `ipaddress`: 9.5 % of the server's CPU during a fleet's block downloads
(docs/performance.md). Only a debugger reads the name. What replaces `Context.render_to_pipe` is aiocoap's own method
with that one change, so errors still become CoAP error responses (`error_to_message`) and a request the peer gave
up on still cancels its task (`run_driving_pipe`).
"""

from __future__ import annotations

from aiocoap import Context
from aiocoap.pipe import Pipe, error_to_message, run_driving_pipe

RENDER_TASK_NAME = "fota: rendering a CoAP request"


def name_render_tasks_plainly(context: Context) -> None:
    def render_to_pipe(pipe: Pipe) -> None:
        run_driving_pipe(error_to_message(pipe, context.log), context._render_to_pipe(pipe), name=RENDER_TASK_NAME)

    context.render_to_pipe = render_to_pipe
