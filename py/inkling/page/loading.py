"""The loading screen: stages with a progress bar until the page and the worker are ready, or why not."""

from __future__ import annotations

from .dom import by_testid, document, set_text

# The stages in the order they finish, as the loading screen lists them (data-stage).
STAGES = ("page", "runtime", "numpy", "package", "data")


class Loading:
    """Shows start-up progress in the loading screen and the ``status`` element.

    ``status`` names the current stage while loading, the error if start-up failed,
    and reads exactly ``ready`` once both the page's Python and the worker are ready.
    """

    def __init__(self) -> None:
        self.status = by_testid("status")
        self.bar = by_testid("progress-bar")
        self.error = by_testid("loading-error")
        self.items = {stage: document().querySelector(f'#stages li[data-stage="{stage}"]') for stage in STAGES}
        self.done: set[str] = set()
        self.active: dict[str, str] = {}  # "page" and "worker" each load in parallel: their current stage
        self.failed = False
        self.failed_stage: str | None = None
        self.drawing = False  # the grid works while the worker loads

    def stage(self, stage: str, detail: str) -> None:
        """A stage has started: mark the ones before it done, show ``detail``."""
        if self.failed:
            return
        side = "page" if stage == "page" else "worker"
        if stage in STAGES and side == "worker":
            # The worker's stages come in order: reaching one means the earlier ones are done.
            for earlier in STAGES[1 : STAGES.index(stage)]:
                self.done.add(earlier)
        self.active[side] = stage
        self._render()
        # Once the grid works, the status line says so while it tells the worker's stages.
        set_text(self.status, f"grid ready · worker: {detail}" if self.drawing and side == "worker"
                 else f"{side}: {detail}")

    def finish(self, stage: str) -> None:
        """A stage is complete."""
        self.done.add(stage)
        self._render()

    def drawing_ready(self) -> None:
        """The page's part is ready before the worker's: hide the loading screen so the grid can be used,
        and let the status line go on telling the worker's stages (``status`` still waits for ``ready``)."""
        self.drawing = True
        body = document().body
        body.classList.remove("booting")
        body.classList.add("drawing")
        document().getElementById("app").setAttribute("aria-busy", "false")

    def ready(self) -> None:
        """Everything is ready: hide the loading screen."""
        self.done.update(STAGES)
        self._render()
        set_text(self.status, "ready")
        body = document().body
        body.classList.remove("booting", "drawing")
        body.classList.add("ready")
        document().getElementById("app").setAttribute("aria-busy", "false")

    def say(self, text: str) -> None:
        """Put ``text`` in the status line (after start-up: the worker's restarts)."""
        set_text(self.status, text)

    def fail(self, stage: str | None, message: str) -> None:
        """Start-up failed: say what failed, in the status and on the loading screen."""
        self.failed = True
        self.failed_stage = stage
        self._render()
        set_text(self.status, f"error: {message}")
        self.error.textContent = message
        self.error.hidden = False
        body = document().body
        body.classList.remove("booting", "drawing")
        body.classList.add("failed")

    def _render(self) -> None:
        running = set(self.active.values()) - self.done
        for stage, item in self.items.items():
            if item is None:
                continue
            if stage == self.failed_stage:
                item.className = "failed"
            else:
                item.className = "done" if stage in self.done else ("active" if stage in running else "")
        fraction = (len(self.done) + 0.5 * len(running)) / len(STAGES)
        self.bar.style.width = f"{max(3.0, 100 * fraction):.0f}%"
